// The web app's own NATS connection for the current project is the SDK's
// (@pocketbus/client): a web token over WebSocket at /nats, renewed before
// it expires. This module mirrors its state into natsState for the views,
// and is loaded only by the pages that use NATS (streams, KV, objects, tail).
//
// While the server cannot be reached (lib/online.svelte.js) the connection is
// closed instead of retrying its WebSocket every second; the views keep what
// they show. When the server answers again it reopens, and the project's
// queries are refetched.
import { pbus } from './pb.svelte.js'
import { natsState } from './natsstate.svelte.js'
import { online, onServerChange, suspectOffline } from './online.svelte.js'
import { queryClient } from './query.js'
import { isLimitRefusal } from './status.js'

export { natsState }

let current = null // project id whose connection natsState shows
let suspended = null // project id whose connection waits for the server

export function useProjectConnection(pid) {
  if (online.server === 'offline') {
    if (current && current !== pid) closeConnection()
    suspended = pid
    return Promise.resolve(null)
  }
  suspended = null
  const live = pbus.connection(pid)
  if (current === pid && live && live.status !== 'closed') return live.ready
  // Another project's connection closes. This project's has ended for good
  // (the SDK no longer holds it): closing it here would close the new one
  // opened below once closeConnection gets to pbus.disconnect(pid).
  if (current && current !== pid) closeConnection()
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
  // the reconnect of a planned token renewal is not an outage (the SDK marks its events)
  if (e.type !== 'renewed') natsState.renewal = !!e.renewal
  if (e.type === 'connected' || e.type === 'closed') {
    natsState.nc = e.type === 'connected' ? c.nc : null
    natsState.version++
  }
  if (e.type === 'connected' || e.type === 'reconnected') {
    natsState.since = Date.now()
    // back after a gap: what the views show may be stale
    if (e.type === 'reconnected' && !e.renewal) invalidateProject(pid)
  }
  // A dropped connection may be the server going away: one probe decides
  // (and closes this connection while it is away). A renewal's reconnect
  // is expected back at once: only when it is not does the probe go.
  if (e.type === 'status' && e.status === 'disconnected') {
    if (!e.renewal) suspectOffline()
    else setTimeout(() => current === pid && c.status !== 'connected' && c.status !== 'closed' && suspectOffline(), 5000)
  }
  // "maximum account active connections exceeded" is what a disabled
  // project answers: learn whether it is (the footer then says so).
  if (e.type === 'error' && isLimitRefusal(natsState.error)) queryClient.invalidateQueries({ queryKey: ['project', pid] })
}

function invalidateProject(pid) {
  queryClient.invalidateQueries({ predicate: (q) => q.queryKey[1] === pid })
}

onServerChange(async (state) => {
  if (state === 'offline' && current) {
    // keep natsState.nc: the views stay as they are (their queries pause)
    const pid = current
    current = null
    suspended = pid
    natsState.status = 'offline'
    natsState.error = ''
    await pbus.disconnect(pid)
  } else if (state === 'online' && suspended) {
    const pid = suspended
    suspended = null
    useProjectConnection(pid)
  }
})

/** Renews the token now (the SDK does this by itself before expiry; tests use it). */
export function renewNow() {
  return current ? pbus.connection(current)?.renew() : undefined
}
if (typeof window !== 'undefined') window.__pocketbusRenewToken = renewNow

/** Opens the connection again after it ended (the gate's Reconnect button). */
export function reconnect(pid) {
  return useProjectConnection(pid)
}

// Work a leaving view still does on the connection (deleting its
// consumers): closing waits for it, or the consumers would stay until their
// inactive threshold.
const held = new Set()
export function holdConnection(work) {
  held.add(work)
  work.finally(() => held.delete(work))
}

export async function closeConnection() {
  const pid = current
  current = null
  suspended = null
  Object.assign(natsState, { project: null, nc: null, status: 'idle', error: '' })
  natsState.version++
  // let the views that leave with it start their clean-up first
  await new Promise((r) => setTimeout(r, 0))
  await Promise.allSettled([...held])
  if (pid) await pbus.disconnect(pid)
}
