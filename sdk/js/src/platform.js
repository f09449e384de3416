// How the SDK opens a NATS connection in a browser: WebSocket only, with the
// browser's own WebSocket. Loaded on the first connect, so a page that never
// connects does not download the NATS client.

/** @type {{name: string, tcp: boolean, connect(kind: 'ws' | 'tcp', opts: object): Promise<any>}} */
export const browserPlatform = {
  name: 'browser',
  tcp: false,
  async connect(kind, opts) {
    if (kind !== 'ws') throw new Error('NATS over TCP needs Node; in a browser connect over WebSocket')
    const { wsconnect } = await import('@nats-io/nats-core')
    return wsconnect(opts)
  },
}
