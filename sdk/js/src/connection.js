// One project's NATS connection: with a web token (WebSocket, renewed before
// it expires, reconnecting across renewals) or with an issued credential
// (TCP in Node, WebSocket in a browser). The NATS client is imported on the
// first connect, so importing the SDK costs a page nothing until then.
import { TokenRenewer, parseExpiry, retryDelay } from './token.js'

// Server errors that end what the current credential can do. nats-server
// sends "User Authentication Revoked" before it closes a revoked user's
// connection and "Authorization Violation" when a CONNECT is refused.
const AUTH_ERROR = /authentication revoked|authorization violation|authentication expired/i
// Token route answers after which asking again cannot help.
const FINAL_HTTP = new Set([400, 401, 403, 404])

export class ProjectConnection {
  /**
   * @param {object} pbus the Pocketbus instance (token route, info, clock)
   * @param {string} projectId
   * @param {object} opts ConnectOptions (see types/index.d.ts)
   * @param {object} platform browser or Node connector
   */
  constructor(pbus, projectId, opts, platform) {
    this.pbus = pbus
    this.projectId = projectId
    this.opts = opts
    this.platform = platform
    this.kind = opts.creds ? 'creds' : 'token'
    this.creds = opts.creds ?? null
    this.nc = null
    this.status = 'connecting'
    this.error = null
    this.server = ''
    this.expires = null
    this.renewals = 0
    this.token = null
    this.usedToken = null // the token the last CONNECT was signed with
    this.recovery = null // token fetched after an auth error; refused too = terminal
    this.recovering = false
    this.renewing = false // reconnecting on purpose with a renewed token
    this.closing = false
    this.closedReason = undefined
    this.listeners = new Set()
    this.waitTimer = null
    this.wake = null
    this.closedP = new Promise((r) => (this.resolveClosed = r))
    const now = () => pbus.now()
    this.renewer =
      this.kind === 'token'
        ? new TokenRenewer({
            fetchToken: opts.token ?? (() => pbus.token(projectId)),
            onToken: (t) => this.#onToken(t),
            onError: (e) => this.#onRenewError(e),
            now,
          })
        : null
    this.ready = this.#start()
    this.ready.catch(() => {}) // the caller of connect() gets the error
  }

  /** Calls fn(connection, event) on every change; returns a function that stops it. */
  on(fn) {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Resolves when the connection has closed for good, with the reason if it was not close(). */
  closed() {
    return this.closedP
  }

  /** Fetches a fresh web token now and reconnects with it (token connections). */
  renew() {
    return this.renewer ? this.renewer.renew() : Promise.resolve(null)
  }

  async close() {
    if (this.closing) return this.closedP.then(() => {})
    this.closing = true
    this.renewer?.stop()
    clearTimeout(this.waitTimer)
    this.wake?.()
    if (this.nc) {
      // what was published just before close() still goes out (bounded:
      // a disconnected connection does not hold close() up)
      if (this.status === 'connected' && !this.nc.isClosed()) {
        let t
        await Promise.race([this.nc.flush().catch(() => {}), new Promise((r) => (t = setTimeout(r, 2000)))])
        clearTimeout(t)
      }
      await this.nc.close().catch(() => {})
    } else {
      this.#finish(undefined)
    }
    await this.closedP
  }

  // ------------------------------------------------------------ internals

  #emit(event) {
    for (const fn of this.listeners) {
      try {
        fn(this, event)
      } catch {
        /* a listener's error is its own */
      }
    }
  }

  #set(status, event = { type: 'status' }) {
    this.status = status
    this.#emit({ ...event, status })
  }

  #sleep(ms) {
    return new Promise((r) => {
      this.wake = r
      this.waitTimer = setTimeout(r, ms)
    })
  }

  async #start() {
    const retry = !!this.opts.retry
    for (let attempt = 0; ; attempt++) {
      if (this.closing) {
        this.#finish(undefined)
        throw closedError()
      }
      try {
        const nc = await this.#open()
        if (this.closing) {
          await nc.close().catch(() => {})
          this.#finish(undefined)
          throw closedError()
        }
        this.nc = nc
        this.server = nc.getServer()
        this.error = null
        this.#watch(nc)
        this.#set('connected', { type: 'connected' })
        return nc
      } catch (err) {
        if (this.closing) {
          this.#finish(undefined)
          throw closedError()
        }
        this.error = err
        const final = !retry || FINAL_HTTP.has(err?.status) || (this.kind === 'creds' && AUTH_ERROR.test(err?.message))
        if (final) {
          this.renewer?.stop()
          this.#finish(err)
          throw err
        }
        this.#set('error', { type: 'error', error: err })
        if (this.kind === 'token' && AUTH_ERROR.test(err?.message)) this.token = null // ask for a new one
        await this.#sleep(retryDelay(attempt))
      }
    }
  }

  async #open() {
    const core = await import('@nats-io/nats-core')
    const enc = new TextEncoder()
    const base = {
      name: this.opts.name ?? 'pocketbus-client',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      // Auth errors are judged here (see #onServerError), at once, instead
      // of nats.js giving up on the second one after reconnectTimeWait.
      ignoreAuthErrorAbort: true,
      noRandomize: true,
      ...this.opts.nats,
    }
    if (this.kind === 'creds') {
      const authenticator = core.credsAuthenticator(enc.encode(this.creds))
      if (this.platform.tcp) {
        const servers = this.opts.servers ?? splitUrls((await this.pbus.info()).nats?.url)
        if (!servers.length) throw new Error('the server advertises no NATS URL; pass {servers}')
        return this.platform.connect('tcp', { ...base, servers, authenticator })
      }
      return this.platform.connect('ws', { ...base, servers: this.opts.servers ?? [this.pbus.wsUrl], authenticator, ignoreClusterUpdates: true })
    }
    if (!this.token) {
      const issuedAt = this.pbus.now()
      const tok = await this.renewer.fetchToken()
      // closed while the token was on its way: adopting it would restart
      // the renewer (a timer that keeps the process up) and dial for nothing
      if (this.closing) throw closedError()
      this.#adopt(tok)
      this.renewer.adopt(tok, issuedAt)
    }
    const authenticator = (nonce) => {
      const t = this.token
      this.usedToken = t
      return core.jwtAuthenticator(t.jwt, enc.encode(t.seed))(nonce)
    }
    const dial = (servers) => this.platform.connect('ws', { ...base, servers, authenticator, ignoreClusterUpdates: true })
    if (this.opts.servers) return dial(this.opts.servers)
    // <url>/nats first; the token's ws_url only when that cannot be reached
    // (one server per connection: reconnects stay where the first went).
    const alt = this.token.ws_url && this.token.ws_url !== this.pbus.wsUrl ? this.token.ws_url : null
    try {
      return await dial([this.pbus.wsUrl])
    } catch (err) {
      if (!alt || AUTH_ERROR.test(err?.message)) throw err
      return dial([alt])
    }
  }

  #adopt(tok) {
    this.token = tok
    this.expires = parseExpiry(tok.expires)
    this.renewals++
  }

  async #onToken(tok) {
    if (this.closing) return
    this.#adopt(tok)
    if (this.recovering) this.recovery = tok
    this.#emit({ type: 'renewed', status: this.status })
    // A NATS connection keeps the JWT it connected with: reconnect with the
    // fresh one (nats.js restores the subscriptions) and resolve once back.
    // When disconnected, the next dial uses it anyway.
    const nc = this.nc
    if (!nc || nc.isClosed() || this.status !== 'connected') return
    let off
    let timer
    const back = new Promise((r) => {
      off = this.on((_c, e) => (e.type === 'reconnected' || e.type === 'closed') && r())
      timer = setTimeout(r, 10_000)
    })
    // the status events of this reconnect say {renewal: true}: planned, not an outage
    // (not after a revocation: that one is not planned)
    this.renewing = !this.recovering
    nc.reconnect().catch(() => {})
    await back
    this.renewing = false
    off()
    clearTimeout(timer)
  }

  #onRenewError(err) {
    if (this.closing) return
    this.error = err
    this.#emit({ type: 'renew-failed', status: this.status, error: err })
    if (this.recovering && FINAL_HTTP.has(err?.status)) {
      // access is gone (not a member, project gone, signed out)
      this.#terminal(err)
    }
  }

  #watch(nc) {
    ;(async () => {
      for await (const s of nc.status()) {
        if (this.closing && s.type !== 'close') continue
        switch (s.type) {
          case 'disconnect':
            this.#set('disconnected', this.#mark({ type: 'status' }))
            this.#renewIfStale()
            break
          case 'reconnecting':
            if (this.status !== 'reconnecting') this.#set('reconnecting', this.#mark({ type: 'status' }))
            break
          case 'reconnect':
            // nats.js may report one reconnect to each waiter of its dial loop
            if (this.status === 'connected') break
            this.server = nc.getServer()
            this.error = null
            this.recovery = null
            this.#set('connected', this.#mark({ type: 'reconnected' }))
            break
          case 'error':
            this.#onServerError(s.error)
            break
        }
      }
    })().catch(() => {})
    nc.closed().then((err) => this.#finish(err ?? this.closedReason))
  }

  #mark(event) {
    return this.renewing ? { ...event, renewal: true } : event
  }

  // A tab that slept through its renewal timer renews when it notices.
  #renewIfStale() {
    if (this.renewer && this.expires && this.pbus.now() > this.expires - 30_000) this.renewer.renew()
  }

  #onServerError(err) {
    const m = err?.message ?? String(err)
    this.error = err
    this.#emit({ type: 'error', status: this.status, error: err })
    if (!AUTH_ERROR.test(m)) {
      // A refusal during a (re)connect, e.g. "maximum account active
      // connections exceeded" while the project is disabled: nats.js would
      // wait for the PONG until its connect timeout (20 s) before the next
      // try. Fail that dial now; the reconnect loop goes on.
      if (this.status !== 'connected') failPendingDial(this.nc, err)
      return
    }
    if (this.kind === 'creds') return this.#terminal(err) // a credential cannot renew itself
    if (this.recovery && this.usedToken === this.recovery) return this.#terminal(err) // a fresh token was refused too
    if (this.recovering || (this.usedToken && this.usedToken !== this.token)) return // a newer token is on its way or in place
    // Revoked (a rotation, a removal) or expired: one fresh token decides.
    this.recovering = true
    this.renewer.renew().then(() => (this.recovering = false))
  }

  // Closes without waiting (this may run inside the status loop, which
  // nats.js's close() waits for).
  #terminal(err) {
    if (this.closing) return
    this.closing = true
    this.closedReason = err
    this.renewer?.stop()
    const nc = this.nc
    if (!nc) return this.#finish(err)
    if (typeof nc.protocol?.close === 'function') nc.protocol.close(err).catch(() => {})
    else nc.close().catch(() => {})
  }

  #finish(err) {
    this.renewer?.stop() // also when already closed: nothing renews a closed connection
    if (this.status === 'closed') return
    this.closing = true
    clearTimeout(this.waitTimer)
    if (err) this.error = err
    this.closedReason = err
    this.#set('closed', { type: 'closed', error: err })
    this.pbus._forget(this)
    this.resolveClosed(err)
  }
}

function failPendingDial(nc, err) {
  const p = nc?.protocol
  if (p && typeof p.connectError === 'function' && !p.connected) p.connectError(err)
}

function closedError() {
  const e = new Error('connection closed before it was ready')
  e.name = 'ClosedConnectionError'
  return e
}

/** "nats://a:4222, nats://b:4222" → ["nats://a:4222", "nats://b:4222"] */
export function splitUrls(s) {
  return String(s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
}
