// Package bus embeds nats-server in operator (JWT) mode for Pocketbus and
// mints the NATS identities it needs: the operator, the system account, one
// account per project (derived, never stored) and user credentials.
//
// It deliberately knows nothing about PocketBase: the projects table is seen
// only through AccountSource, and account changes go out through
// AccountPublisher, so a clustered data plane can replace the embedded one.
//
// Two data planes implement DataPlane: *Server (nats-server embedded in
// this process, resolving account JWTs from the Source) and *Cluster (an
// external cluster that trusts this operator with full resolvers, to which
// account JWTs are pushed with $SYS.REQ.CLAIMS.UPDATE/DELETE).
//
// # Keys
//
// A project's account key is derived from the master secret, the project id
// and the project's random salt (NewAccountSalt, kept with the project), so
// it is never stored and re-provisioning is idempotent, yet a project
// created after another was deleted never gets the deleted one's account,
// whatever its id: old credentials cannot reach a new tenant. Projects from
// before salts have salt "" and keep the old, id-only derivation, so their
// credentials keep working. The account JWT carries the salt as a tag
// ("pocketbus-salt:..."), for the cluster data plane, which knows a deleted
// account only from the cluster.
//
// User keys are random, except with UserSpec.WebKey: then the key is
// derived from the account key and the WebKey (DerivedUserPublicKey). Web
// tokens are short-lived and not recorded; deriving one member's tokens in
// one project from one WebKey lets a single revocation entry, RevokeAt(key,
// now), close and refuse all of them, while a token issued a second later
// (a later iat) connects.
//
// # Credentials
//
// Empty lists grant the whole account, JetStream, KV and Object Store
// included. A credential with any pub/sub list is restricted, and gets
// more only when asked:
//   - AllowResponses: one reply to the reply subject of each message it
//     receives, whatever its pub lists say (services answering requesters'
//     inboxes, consumers acking). It is not a confinement: a credential
//     that may publish to a subject it subscribes to can answer itself with
//     any reply subject, so it can publish anywhere once per message. Without
//     it, nothing outside the pub lists. A requester whose sub_allow is restricted must
//     list its inbox ("_INBOX.>" or a custom prefix) itself: adding it
//     silently would let the credential read every other requester's
//     replies in the project.
//   - JetStream: the JetStream API, acks, flow control, snapshots and
//     $KV.>/$O.> writes are added to a restricted pub_allow. The API reads
//     and writes every stream of the account, so the lists do not confine
//     such a credential's data. Without it the credential gets pub deny
//     "$JS.>" (no stream, consumer, mirror, source or republish to carry
//     data around its lists, no direct or message get, no "+NXT" ack that
//     pulls a consumer's next message to a reply subject) and sub deny
//     "$JS.EVENT.>" (API audit advisories carry other clients' requests and
//     responses, stream data included). Publishing to $KV.<bucket>.<key> or
//     $O.<bucket>.> stays a plain publish, governed by the lists.
//
// Lists restrict subjects, not data a credential is allowed to see: replies
// to other clients' requests, JetStream's included, travel on those clients'
// inbox subjects, which a credential allowed to subscribe to "_INBOX.>" (or
// ">") receives. Confinement needs a sub_allow.
//
// IssueUser validates with the libraries (jwt/v2's permission validation,
// nats-server's subject validity; queue permissions "subject queue" in sub
// lists only) and refuses, as a *FieldError naming the field: malformed
// subjects, an Expires not in the future, an allow list its deny list wholly
// cancels, a credential that can neither publish nor subscribe, jetstream
// with a pub_deny covering the API, and a JWT longer than MaxUserJWTLen
// (a client sends it in its CONNECT, which nats-server caps at 4096 bytes).
//
// # Applying account changes: SyncAccount
//
// Callers commit an account change (limits, disabled, revocations, delete)
// to the Source and then call SyncAccount(pub). It reads the committed
// state itself, under a per-account lock, so concurrent syncs cannot apply
// an older JWT last, and converges: the JWT applied to a loaded account, or,
// when the Source no longer knows the account, the account deleted. It is
// idempotent.
//
// How account states are realised:
//   - Disabled: the account JWT gets Limits.Conn = 0 (and leaf = 0).
//     nats-server closes every client beyond the limit when the claims are
//     applied and refuses new ones; JetStream limits are left as they are, so
//     data is kept and re-enabling restores service for the same credentials.
//   - Revocations: the JWT's RevocationList; applying it closes matching
//     connections with "User Authentication Revoked".
//   - Embedded: claims are applied through $SYS.REQ.ACCOUNT.<pub>.CLAIMS.UPDATE
//     over an in-process system-account connection, the wire protocol a
//     cluster uses. Delete: a tombstone JWT (no connections, everyone
//     revoked, JetStream off) is applied, which closes all connections and
//     stops the account's streams; then the account's JetStream directory
//     is removed.
//   - Cluster: every account is pushed (the resolvers are full); delete
//     empties the account's replicated streams through the JetStream API,
//     applies a tombstone and removes the JWT from every resolver.
//
// # The lazy-load race (embedded)
//
// The embedded server loads an account on first use: the resolver's Fetch
// reads the Source, nats-server registers the account afterwards, and
// SyncAccount skips accounts that are not registered (they will read the
// Source). A Fetch that read before a commit and registered after the
// commit's SyncAccount would keep the stale claims until restart: revoked
// credentials, disabled and even deleted projects kept connecting, and
// deleted accounts' JetStream directories came back. Every Fetch records the
// account as loading, before it reads; SyncAccount marks such accounts; one
// background goroutine settles each once it is registered, forcing the
// Source's state onto it if anything it fetched was overtaken, within a
// tick (10 ms). loadguard.go lists every interleaving. The external
// cluster's full resolvers have the same race inside nats-server, which
// the control plane cannot see.
//
// Things callers must know:
//   - Call SyncAccount after every commit that changes an account, deletes
//     included: the load guard relies on it.
//   - nats-server loads every account that has JetStream data on disk at
//     start (to recover its streams), so Start calls AccountSource once per
//     such account; accounts without JetStream data stay lazy.
//   - JetStream reservations are only checked against loaded accounts. An
//     account whose memory/disk reservation does not fit the server totals
//     loads without JetStream (clients get "no responders" on $JS.API) and
//     SyncAccount still succeeds: admit quotas against JetStreamTotals
//     before signing.
//
// # Operations
//
// Start fails at once with nats-server's own message when a listener
// cannot bind or JetStream cannot use its store: nats-server only logs
// those (Fatalf), so the logger hands the first one to Start instead of a
// readiness wait. Config.TLSCert/TLSKey put TLS on the client port and the
// WebSocket listener (WebsocketProxyTarget gives an in-process proxy a TLS
// config pinned to that certificate); Config.MonitorListen turns on
// nats-server's HTTP monitoring. Logs are one slog record per event:
// banners folded into one record with attributes, messages prefixed
// "NATS: ", a client's errors as warnings, and each refused client as one
// warning with its account, user and the reason (logAuthFailures, from the
// $SYS auth-error advisory). Ready reports whether clients can be served;
// SystemUserCreds mints a system-account user for operators' tools.
package bus
