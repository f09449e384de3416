// The web app's own NATS connection for the current project: a short-lived
// token from /api/pocketbus/projects/{id}/token, over WebSocket (same-origin
// /nats first, then the server's ws_url), renewed before it expires.
import { wsconnect, jwtAuthenticator } from '@nats-io/nats-core'
import { api } from './pb.svelte.js'
import { TokenRenewer, parseExpiry } from './token.js'
import { natsState } from './natsstate.svelte.js'

export { natsState }


let current = null // { pid, renewer, nc, token, closed }

export function sameOriginWsUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/nats`
}

export async function useProjectConnection(pid) {
  if (current && current.pid === pid && !current.closed) return current.ready
  await closeConnection()
  const c = { pid, closed: false, token: null, nc: null }
  current = c
  natsState.project = pid
  natsState.status = 'connecting'
  natsState.error = ''
  natsState.nc = null
  let resolveReady
  c.ready = new Promise((r) => (resolveReady = r))

  const enc = new TextEncoder()
  const authenticator = jwtAuthenticator(
    () => c.token.jwt,
    () => enc.encode(c.token.seed),
  )

  c.renewer = new TokenRenewer({
    fetchToken: () => api(`/projects/${pid}/token`, { method: 'POST', body: {} }),
    onToken: async (tok) => {
      if (c.closed) return
      c.token = tok
      natsState.expires = parseExpiry(tok.expires)
      natsState.renewals++
      if (!c.nc) {
        c.nc = await connect(c, tok, authenticator)
        if (c.closed) return c.nc?.close()
        natsState.nc = c.nc
        natsState.version++
        resolveReady(c.nc)
      } else {
        // reconnect with the fresh credential before the old one expires;
        // subscriptions survive a reconnect.
        try {
          await c.nc.reconnect()
        } catch {
          /* status loop reports it */
        }
      }
    },
    onError: (err) => {
      if (c.closed) return
      natsState.status = c.nc ? natsState.status : 'error'
      natsState.error = err?.message || String(err)
    },
  })
  c.renewer.start()
  return c.ready
}

async function connect(c, tok, authenticator) {
  const servers = [sameOriginWsUrl()]
  if (tok.ws_url && !servers.includes(tok.ws_url)) servers.push(tok.ws_url)
  let lastErr
  for (const server of servers) {
    try {
      const nc = await wsconnect({
        servers: server,
        authenticator,
        name: 'pocketbus-web',
        maxReconnectAttempts: -1,
        reconnectTimeWait: 1000,
        ignoreClusterUpdates: true,
      })
      natsState.status = 'connected'
      natsState.server = server
      natsState.error = ''
      watchStatus(c, nc)
      return nc
    } catch (e) {
      lastErr = e
    }
  }
  natsState.status = 'error'
  natsState.error = lastErr?.message || 'cannot connect'
  throw lastErr
}

async function watchStatus(c, nc) {
  ;(async () => {
    for await (const s of nc.status()) {
      if (c.closed || current !== c) return
      // the tab may have slept through the renewal timer: renew now if the
      // token is (nearly) expired, so the next reconnect uses a fresh one
      if ((s.type === 'disconnect' || s.type === 'error') && natsState.expires && Date.now() > natsState.expires - 30_000) c.renewer.renew()
      if (s.type === 'disconnect') natsState.status = 'disconnected'
      else if (s.type === 'reconnecting') natsState.status = 'reconnecting'
      else if (s.type === 'reconnect') {
        natsState.status = 'connected'
        natsState.error = ''
      } else if (s.type === 'error') natsState.error = s.error?.message || String(s.error)
    }
  })()
  nc.closed().then((err) => {
    if (current !== c) return
    natsState.status = 'disconnected'
    if (err) natsState.error = err.message
  })
}

/** Renews the token now (the app does this by itself before expiry; tests use it). */
export function renewNow() {
  return current?.renewer?.renew()
}
if (typeof window !== 'undefined') window.__pocketbusRenewToken = renewNow

export async function closeConnection() {
  const c = current
  current = null
  natsState.project = null
  natsState.nc = null
  natsState.status = 'idle'
  natsState.version++
  if (!c) return
  c.closed = true
  c.renewer?.stop()
  try {
    await c.nc?.close()
  } catch {
    /* ignore */
  }
}
