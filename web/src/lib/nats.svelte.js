// The web app's own NATS connection for the current project is the SDK's
// (@pocketbus/client): a web token over WebSocket at /nats, renewed before
// it expires. This module mirrors its state into natsState for the views.
import { pbus } from './pb.svelte.js'
import { natsState } from './natsstate.svelte.js'

export { natsState }

let current = null // project id whose connection natsState shows

export function useProjectConnection(pid) {
  const live = pbus.connection(pid)
  if (current === pid && live && live.status !== 'closed') return live.ready
  closeConnection()
  current = pid
  Object.assign(natsState, { project: pid, status: 'connecting', error: '', server: '', nc: null })
  natsState.version++
  // retry: keep trying the first connect (the server may be starting); the
  // SDK still gives up on refusals (not a member, signed out).
  return pbus.connect(pid, { name: 'pocketbus-web', retry: true, onStatus: (c, e) => mirror(pid, c, e) }).catch(() => null)
}

function mirror(pid, c, e) {
  if (current !== pid) return
  natsState.status = c.status
  natsState.error = c.error ? c.error.message || String(c.error) : ''
  natsState.server = c.server
  natsState.expires = c.expires
  natsState.renewals = c.renewals
  if (e.type === 'connected' || e.type === 'closed') {
    natsState.nc = e.type === 'connected' ? c.nc : null
    natsState.version++
  }
}

/** Renews the token now (the SDK does this by itself before expiry; tests use it). */
export function renewNow() {
  return current ? pbus.connection(current)?.renew() : undefined
}
if (typeof window !== 'undefined') window.__pocketbusRenewToken = renewNow

export async function closeConnection() {
  const pid = current
  current = null
  Object.assign(natsState, { project: null, nc: null, status: 'idle', error: '' })
  natsState.version++
  if (pid) await pbus.disconnect(pid)
}
