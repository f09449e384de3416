// How the SDK opens NATS connections in Node: WebSocket through the `ws`
// package (Node 20 has no global WebSocket without --experimental-websocket)
// and TCP through @nats-io/transport-node, both in one process.
//
// nats.js keeps ONE transport factory per process (setTransportFactory is
// module-global; wsconnect() and transport-node's connect() each replace
// it), and every reconnect asks that factory for a new transport. A process
// with a WebSocket connection and a TCP connection would reconnect one of
// them with the other's transport. So the SDK installs one factory whose
// transport picks WebSocket or TCP by the URL of the server it dials, and
// opens every connection with NatsConnectionImpl.connect. The transports
// themselves are nats.js's own (WsTransport, NodeTransport).
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import WebSocket from 'ws'

const require = createRequire(import.meta.url)
const isWs = (u) => /^wss?:\/\//i.test(String(u))

let core = null
function install() {
  if (core) return core
  const internal = require('@nats-io/nats-core/internal')
  // WsTransport is not exported by name; the file is part of the package.
  const { WsTransport, wsUrlParseFn } = require(join(dirname(require.resolve('@nats-io/nats-core')), 'ws_transport.js'))
  const { NodeTransport, nodeResolveHost } = require('@nats-io/transport-node/lib/node_transport.js')
  if (typeof WsTransport !== 'function' || typeof NodeTransport !== 'function') {
    throw new Error('@pocketbus/client: this @nats-io version does not ship WsTransport/NodeTransport where expected')
  }
  core = { internal, WsTransport, NodeTransport, wsUrlParseFn, nodeResolveHost }
  return core
}

/** A transport that becomes a WebSocket or a TCP transport when it dials. */
class DualTransport {
  constructor({ WsTransport, NodeTransport }) {
    this.kinds = { WsTransport, NodeTransport }
    this.t = null
    this.discarded = false
    this.closedP = new Promise((r) => (this.resolveClosed = r))
  }
  get isClosed() { return this.t ? this.t.isClosed : false }
  get lang() { return this.t?.lang ?? 'nats.js' }
  get version() { return this.t?.version ?? '' }
  get closeError() { return this.t?.closeError }
  connect(server, opts) {
    this.t = isWs(server.src) ? new this.kinds.WsTransport() : new this.kinds.NodeTransport()
    this.t.closed().then((e) => this.resolveClosed(e))
    if (this.discarded) this.t.discard()
    return this.t.connect(server, opts)
  }
  [Symbol.asyncIterator]() { return this.t[Symbol.asyncIterator]() }
  isEncrypted() { return this.t ? this.t.isEncrypted() : false }
  send(frame) { this.t?.send(frame) }
  async close(err) {
    if (this.t) return this.t.close(err)
    this.resolveClosed(err)
  }
  disconnect() { this.t?.disconnect() }
  closed() { return this.closedP }
  discard() {
    this.discarded = true
    this.t?.discard()
  }
}

function setFactory() {
  const c = install()
  c.internal.setTransportFactory({
    factory: () => new DualTransport(c),
    urlParseFn: (u, encrypted) => (isWs(u) ? c.wsUrlParseFn(u, encrypted) : u),
    dnsResolveFn: c.nodeResolveHost,
  })
  return c
}

/** A `ws` WebSocket for nats.js's WsTransport. */
export function wsFactory(url) {
  return Promise.resolve({ socket: new WebSocket(url), encrypted: /^wss:/i.test(url) })
}

export const nodePlatform = {
  name: 'node',
  tcp: true,
  async connect(kind, opts) {
    const c = setFactory()
    const o = { ...opts }
    if (kind === 'ws') {
      o.wsFactory ??= wsFactory
      o.resolve = false // DNS resolution is for TCP; a WebSocket URL is dialled as given
    }
    return c.internal.NatsConnectionImpl.connect(o)
  },
}
