// @pocketbus/client for browsers (and any runtime with a global WebSocket).
// Node resolves the "node" export condition to ./node.js instead.
import { PocketbusBase } from './core.js'
import { browserPlatform } from './platform.js'

export { natsWsUrl } from './core.js'
export { ClientResponseError } from 'pocketbase'

export class Pocketbus extends PocketbusBase {
  constructor(url, options = {}) {
    super(url, options, options.platform ?? browserPlatform)
  }
}
