// The Pocketbus client: the PocketBase JS SDK client for the REST API, the
// custom /api/pocketbus routes as typed helpers, and NATS connections per
// project. The platform (browser or Node) decides how NATS is dialled.
import PocketBase from 'pocketbase'

/** `<url>/nats` as a WebSocket URL (same host, ws/wss after http/https). */
export function natsWsUrl(url) {
  const base = typeof location !== 'undefined' ? location.href : undefined
  const u = new URL(url, base)
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:'
  u.pathname = u.pathname.replace(/\/*$/, '/nats')
  u.search = ''
  u.hash = ''
  return u.toString()
}

/** RFC 3339 in whole seconds, as the routes take it. */
function rfc3339(v) {
  if (v instanceof Date) return v.toISOString().replace(/\.\d{3}Z$/, 'Z')
  return v
}

export class PocketbusBase {
  /**
   * @param {string} [url] the Pocketbus server, e.g. "http://127.0.0.1:8090" (default: the page's origin)
   * @param {object} [options] { pb, authStore, lang, wsUrl, now }
   * @param {object} platform how NATS is dialled (set by the entry point)
   */
  constructor(url, options = {}, platform) {
    if (url === undefined || url === null || url === '') {
      if (typeof location === 'undefined') throw new TypeError('new Pocketbus(url): url is required outside a browser')
      url = location.origin
    }
    this.url = String(url).replace(/\/+$/, '')
    /** The PocketBase JS SDK client (auth, collections, realtime). */
    this.pb = options.pb ?? new PocketBase(this.url, options.authStore, options.lang)
    this.ownsPb = !options.pb // close() ends realtime and requests of this client only
    this.wsUrl = options.wsUrl ?? natsWsUrl(this.url)
    this.now = options.now ?? (() => Date.now())
    this.platform = platform
    this.connections = new Map()
    this.infoP = null

    const send = (path, method = 'GET', body, query) => this.#send(path, method, body, query)
    this.invites = {
      create: (groupId, opts = {}) => send(`/groups/${enc(groupId)}/invites`, 'POST', { ...opts, ...(opts.expires ? { expires: rfc3339(opts.expires) } : {}) }),
      view: (token) => send(`/invites/${enc(token)}`),
      accept: (token) => send(`/invites/${enc(token)}/accept`, 'POST', {}),
      delete: (inviteId) => send(`/invites/${enc(inviteId)}`, 'DELETE'),
    }
    this.exports = {
      create: (projectId, { subject, type, to }) => send(`/projects/${enc(projectId)}/exports`, 'POST', { subject, type, to }),
      delete: (exportId) => send(`/exports/${enc(exportId)}`, 'DELETE'),
    }
    this.groups = {
      removeMember: (groupId, userId, { keepCredentials = false } = {}) =>
        send(`/groups/${enc(groupId)}/members/${enc(userId)}`, 'DELETE', undefined, keepCredentials ? { keep_credentials: 'true' } : undefined),
      transferOwner: (groupId, userId) => send(`/groups/${enc(groupId)}/owner`, 'POST', { user: userId }),
    }
  }

  // ------------------------------------------------------------ routes

  /** GET /api/pocketbus/info (no sign-in needed); cached per client. */
  info({ refresh = false } = {}) {
    if (!this.infoP || refresh) {
      this.infoP = this.#send('/info')
      this.infoP.catch(() => (this.infoP = null))
    }
    return this.infoP
  }

  /** Issues a credential; the seed and .creds text are returned this once. */
  issue(projectId, opts) {
    const body = { ...opts }
    if (body.expires) body.expires = rfc3339(body.expires)
    return this.#send(`/projects/${enc(projectId)}/credentials`, 'POST', body)
  }

  revoke(credentialId) {
    return this.#send(`/credentials/${enc(credentialId)}/revoke`, 'POST', {})
  }

  /** Revokes every credential and web token of the project issued before now. */
  rotate(projectId) {
    return this.#send(`/projects/${enc(projectId)}/rotate`, 'POST', {})
  }

  stats(projectId) {
    return this.#send(`/projects/${enc(projectId)}/stats`)
  }

  /** A short-lived web token (what connect() uses). */
  token(projectId) {
    return this.#send(`/projects/${enc(projectId)}/token`, 'POST', {})
  }

  // Errors are PocketBase's ClientResponseError: status, message and
  // response = {status, message, data} as the server sent it. requestKey
  // null: two calls of one route never cancel each other.
  #send(path, method = 'GET', body, query) {
    return this.pb.send(`/api/pocketbus${path}`, {
      method,
      query,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      requestKey: null,
    })
  }

  // ------------------------------------------------------------ NATS

  /**
   * The project's NATS connection: one per project and client; a second
   * call returns the same connection.
   */
  async connect(projectId, opts = {}) {
    if (!projectId) throw new TypeError('connect(projectId): projectId is required')
    // The connection code (and through it the NATS client) loads on the
    // first connect: a page that never connects does not download it.
    const { ProjectConnection } = await import('./connection.js')
    // from here to set() nothing awaits: concurrent calls share one connection
    let c = this.connections.get(projectId)
    if (c && !c.closing) {
      if (opts.creds && opts.creds !== c.creds) {
        throw new Error(`already connected to project ${projectId} ${c.kind === 'token' ? 'with a web token' : 'with another credential'}; disconnect(projectId) first`)
      }
      if (opts.onStatus) c.on(opts.onStatus)
      return c.ready
    }
    c = new ProjectConnection(this, projectId, opts, this.platform)
    if (opts.onStatus) c.on(opts.onStatus)
    this.connections.set(projectId, c)
    return c.ready
  }

  /** The project's live connection (state, events, renew), if any. */
  connection(projectId) {
    return this.connections.get(projectId)
  }

  async disconnect(projectId) {
    await this.connections.get(projectId)?.close()
  }

  /** A Key-Value bucket on the project's connection; created unless {bindOnly: true}. */
  async kv(projectId, bucket, opts = {}) {
    const nc = await this.connect(projectId)
    const { Kvm } = await import('@nats-io/kv')
    const { bindOnly, ...kvOpts } = opts
    const kvm = new Kvm(nc)
    return bindOnly ? kvm.open(bucket, kvOpts) : kvm.create(bucket, kvOpts)
  }

  /**
   * Closes every connection, stops every timer, ends PocketBase realtime
   * (of the PocketBase client made here: one passed in as {pb} belongs to
   * the caller, who may go on using it).
   */
  async close() {
    await Promise.all([...this.connections.values()].map((c) => c.close()))
    if (!this.ownsPb) return
    try {
      if (this.pb.realtime?.isConnected) await this.pb.realtime.unsubscribe()
    } catch {
      /* already gone */
    }
    this.pb.cancelAllRequests?.()
  }

  _forget(c) {
    if (this.connections.get(c.projectId) === c) this.connections.delete(c.projectId)
  }
}

const enc = (s) => encodeURIComponent(String(s))
