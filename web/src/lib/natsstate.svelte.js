// Connection state shown in the footer; kept apart from the NATS client code
// so the first page does not load the NATS libraries.
export const natsState = $state({
  project: null, // project id this connection belongs to
  status: 'idle', // idle | connecting | connected | reconnecting | disconnected | error | closed | offline
  error: '',
  server: '',
  expires: null,
  renewals: 0, // tokens fetched for this connection
  since: null, // when it last (re)connected
  renewal: false, // the last status change was a planned token renewal's reconnect (not an outage)
  nc: null,
  version: 0, // bumps whenever nc changes, so views can re-run
})
