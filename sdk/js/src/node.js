// @pocketbus/client for Node 20+: WebSocket through the `ws` package (no
// --experimental-websocket needed) and TCP for issued credentials.
import { PocketbusBase } from './core.js'
import { nodePlatform } from './platform-node.js'

export { natsWsUrl } from './core.js'
export { ClientResponseError } from 'pocketbase'

export class Pocketbus extends PocketbusBase {
  constructor(url, options = {}) {
    super(url, options, options.platform ?? nodePlatform)
  }
}
