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
// Credentials and replies: when PubAllow or PubDeny restricts publishing,
// the user JWT carries a response permission (one reply per received
// request), so a service subscribed on "svc.>" can always answer requests. A
// requester whose SubAllow is restricted must list its inbox ("_INBOX.>" or
// a custom prefix) itself: adding "_INBOX.>" silently would let the
// credential read every other requester's replies in the project. IssueUser
// refuses an Expires that is not in the future and malformed subjects, as a
// *FieldError naming the field.
//
// Things callers must know:
//   - nats-server loads every account that has JetStream data on disk at
//     start (to recover its streams), so Start calls AccountSource once per
//     such account; accounts without JetStream data stay lazy.
//   - JetStream reservations are only checked against loaded accounts. An
//     account whose memory/disk reservation does not fit the server totals
//     loads without JetStream (clients get "no responders" on $JS.API) and
//     UpdateAccount still succeeds: admit quotas against JetStreamTotals
//     before signing.
//
// How account states are realised:
//   - Disabled: the account JWT gets Limits.Conn = 0 (and leaf = 0).
//     nats-server closes every client beyond the limit when the claims are
//     applied and refuses new ones; JetStream limits are left as they are, so
//     data is kept and re-enabling restores service for the same credentials.
//   - Revocations: the JWT's RevocationList; applying it closes matching
//     connections with "User Authentication Revoked".
//   - Claims are applied through $SYS.REQ.ACCOUNT.<pub>.CLAIMS.UPDATE over an
//     in-process system-account connection: the server applies it only if the
//     account is loaded (otherwise it is fetched lazily from the Source), the
//     same wire protocol a cluster implementation uses.
//   - Delete: a tombstone JWT (no connections, everyone revoked, JetStream off)
//     is applied, which closes all connections and stops the account's
//     streams; then the account's JetStream directory is removed.
package bus
