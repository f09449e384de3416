// Types of @pocketbus/client (hand-written next to the JavaScript source:
// the package ships its source as is, with no build step, so `npm install
// ./sdk/js` and the web app's `file:` dependency use exactly what is tested).
import PocketBase, { BaseAuthStore, ClientResponseError } from 'pocketbase'
import type { ConnectionOptions, NatsConnection } from '@nats-io/nats-core'
import type { KV, KvOptions } from '@nats-io/kv'

export { ClientResponseError }

/** `<url>/nats` as a WebSocket URL (ws/wss after http/https, path prefix kept). */
export function natsWsUrl(url: string): string

export interface PocketbusOptions {
  /** Use this PocketBase client (and its auth) instead of a new one; close() leaves its realtime and requests alone. */
  pb?: PocketBase
  /** Auth store for the new PocketBase client (default: localStorage in browsers, memory in Node). */
  authStore?: BaseAuthStore | null
  lang?: string
  /** WebSocket URL for web-token connections (default: natsWsUrl(url)). */
  wsUrl?: string
  /** Clock in ms since the epoch, used to schedule token renewals (tests). */
  now?: () => number
}

/** What the token route returns. `expires` is RFC 3339. */
export interface WebToken {
  jwt: string
  seed: string
  expires: string
  ws_url: string
}

/** A token as connect() takes it from a custom source: expires as RFC 3339, epoch s or ms. */
export interface TokenLike {
  jwt: string
  seed: string
  expires?: string | number | null
  ws_url?: string
}

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'reconnecting' | 'error' | 'closed'

export interface ConnectionEvent {
  /**
   * status: the status changed; connected: first connect; reconnected: back
   * after a disconnect or a renewal; renewed: a new web token; renew-failed:
   * the token route failed (retried with backoff); error: the NATS server sent
   * an error; closed: for good (error says why, unless close() was called).
   */
  type: 'status' | 'connected' | 'reconnected' | 'renewed' | 'renew-failed' | 'error' | 'closed'
  status: ConnectionStatus
  error?: Error & { status?: number }
  /** On the status and reconnected events of the reconnect a planned token renewal makes (not an outage). */
  renewal?: boolean
}

export interface ConnectOptions {
  /** Text of an issued .creds file: TCP to the advertised NATS URL in Node, WebSocket in a browser. */
  creds?: string
  /** NATS servers to dial instead of the defaults (`<url>/nats`, or info().nats.url for creds in Node). */
  servers?: string | string[]
  /** Connection name the server shows (default "pocketbus-client"). */
  name?: string
  /** Keep trying the first connect (with backoff) instead of rejecting; refusals (400/401/403/404) still reject. */
  retry?: boolean
  /** Where web tokens come from (default: the token route). */
  token?: () => Promise<TokenLike>
  /** Called on every event of this connection. */
  onStatus?: (connection: ProjectConnection, event: ConnectionEvent) => void
  /** Extra nats.js connection options (reconnectTimeWait, timeout, debug, ...). */
  nats?: Partial<ConnectionOptions>
}

/** One project's live connection (pbus.connection(id)): its state, events, renewal and close. */
export interface ProjectConnection {
  readonly projectId: string
  readonly kind: 'token' | 'creds'
  /** The NATS connection once connected (the one connect() resolves with). */
  readonly nc: NatsConnection | null
  readonly status: ConnectionStatus
  /** The last error: a refused connect, a failed renewal, a server error. */
  readonly error: (Error & { status?: number }) | null
  /** host:port of the server it is connected to. */
  readonly server: string
  /** When the current web token expires (ms since the epoch). */
  readonly expires: number | null
  /** Web tokens fetched for this connection (1 after connecting). */
  readonly renewals: number
  readonly ready: Promise<NatsConnection>
  on(fn: (connection: ProjectConnection, event: ConnectionEvent) => void): () => void
  /** Resolves when the connection has closed for good; with the reason unless close() was called. */
  closed(): Promise<Error | undefined>
  /** Fetches a fresh web token and reconnects with it; resolves when reconnected (token connections). */
  renew(): Promise<TokenLike | null>
  /** Flushes (at most 2 s), closes, stops the renewal timer. */
  close(): Promise<void>
}

export interface Info {
  version: string
  nats: { url: string; ws_url: string }
  operator: string
}

export interface IssueOptions {
  name: string
  pub_allow?: string[]
  pub_deny?: string[]
  /** Entries may name a queue group: "jobs.> workers". */
  sub_allow?: string[]
  sub_deny?: string[]
  /** RFC 3339 or a Date (sent in whole seconds). */
  expires?: string | Date
  /** Let the client publish one reply to the reply subject of each message it receives. */
  allow_responses?: boolean
  /** JetStream, KV and Object Store (default: on without lists, off with any list). */
  jetstream?: boolean
}

export interface IssuedCredential {
  id: string
  public_key: string
  jwt: string
  seed: string
  /** Text of a standard .creds file; shown this once. */
  creds: string
}

export interface Stats {
  connections: number
  in_msgs: number
  out_msgs: number
  in_bytes: number
  out_bytes: number
  jetstream: { memory: number; storage: number; streams: number; consumers: number }
}

export interface Invite {
  id: string
  token: string
  url: string
  expires: string
  max_uses: number
}

export interface InviteView {
  group: { id: string; name: string }
  invited_by: string
  expires: string
}

export interface ExportOptions {
  subject: string
  type: 'stream' | 'service'
  /** Id of the importing project (same group). */
  to: string
}

export interface Export {
  id: string
  [key: string]: unknown
}

export class Pocketbus {
  /** @param url the Pocketbus server, e.g. "http://127.0.0.1:8090" (in a browser: default the page's origin). */
  constructor(url?: string, options?: PocketbusOptions)
  readonly url: string
  /** The PocketBase JS SDK client: auth, collections, realtime. */
  readonly pb: PocketBase
  /** `<url>/nats` as a WebSocket URL. */
  readonly wsUrl: string

  /**
   * The project's NATS connection, one per project and client (a second call
   * returns the same one): a web token over WebSocket at `<url>/nats`,
   * renewed before it expires and reconnected with, or `{creds}` over TCP.
   * Revoked or refused credentials close it at once (see ProjectConnection).
   */
  connect(projectId: string, options?: ConnectOptions): Promise<NatsConnection>
  /** The project's live connection, if any. */
  connection(projectId: string): ProjectConnection | undefined
  disconnect(projectId: string): Promise<void>
  /** A Key-Value bucket on the project's connection (@nats-io/kv); created unless bindOnly. */
  kv(projectId: string, bucket: string, options?: Partial<KvOptions> & { bindOnly?: boolean }): Promise<KV>
  /** Closes every connection and timer; realtime of a PocketBase client made here (not one passed as {pb}) is unsubscribed. */
  close(): Promise<void>

  /** GET /api/pocketbus/info (cached; refresh: true asks again). */
  info(options?: { refresh?: boolean }): Promise<Info>
  /** POST /api/pocketbus/projects/{id}/credentials */
  issue(projectId: string, options: IssueOptions): Promise<IssuedCredential>
  /** POST /api/pocketbus/credentials/{id}/revoke */
  revoke(credentialId: string): Promise<unknown>
  /** POST /api/pocketbus/projects/{id}/rotate: every credential and web token issued before now is refused. */
  rotate(projectId: string): Promise<{ revoked_before: string }>
  /** GET /api/pocketbus/projects/{id}/stats */
  stats(projectId: string): Promise<Stats>
  /** POST /api/pocketbus/projects/{id}/token */
  token(projectId: string): Promise<WebToken>

  readonly invites: {
    create(groupId: string, options?: { expires?: string | Date; max_uses?: number }): Promise<Invite>
    view(token: string): Promise<InviteView>
    accept(token: string): Promise<{ group: { id: string; name: string } | string }>
    delete(inviteId: string): Promise<unknown>
  }
  readonly exports: {
    create(projectId: string, options: ExportOptions): Promise<Export>
    delete(exportId: string): Promise<unknown>
  }
  readonly groups: {
    removeMember(groupId: string, userId: string, options?: { keepCredentials?: boolean }): Promise<unknown>
    transferOwner(groupId: string, userId: string): Promise<unknown>
  }
}
