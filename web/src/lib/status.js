// What the app says about its connections and its queries (pure; unit-tested
// in tests/status.test.js). The stateful side is lib/online.svelte.js (the
// server) and lib/nats.svelte.js (the project's NATS connection).

/** A PocketBase/SDK error that never reached the server (connection refused, DNS, offline). */
export function isNetworkError(err) {
  return !!err && err.status === 0 && !err.isAbort
}

/**
 * Wait before the next reachability probe while the server cannot be
 * reached: 1 s, 2 s, 4 s, then every 5 s. A 15 s outage costs 4 probes,
 * and the app notices the server's return within 5 s (at once on Retry,
 * on focus or when the browser comes back online).
 */
export function probeDelay(attempt) {
  return Math.min(5000, 1000 * 2 ** Math.max(0, attempt))
}

/** Retries of a failed query: network errors wait for the server (paused while offline), 4xx never. */
export function shouldRetry(count, err) {
  if (isNetworkError(err)) return count < 8
  if (err?.status >= 400 && err?.status < 500) return false
  return count < 2
}

/** Delay before a query's next retry: 1 s, 2 s, 4 s … capped at 15 s. */
export function retryDelay(count) {
  return Math.min(15_000, 1000 * 2 ** count)
}

/**
 * Which state a TanStack query is in for display:
 *  'data'    data to show (even when a later refetch failed: the banner or a note says so)
 *  'empty'   loaded, and there is nothing (only a successful load is ever empty)
 *  'error'   nothing loaded and the load failed
 *  'missing' nothing loaded: the server says it does not exist (404)
 *  'waiting' nothing loaded: paused until the server can be reached
 *  'loading' first load in flight
 */
export function queryView(q, isEmpty = defaultEmpty) {
  if (q.data !== undefined) return isEmpty(q.data) ? 'empty' : 'data'
  if (q.isError || q.status === 'error') return q.error?.status === 404 ? 'missing' : 'error'
  if (q.fetchStatus === 'paused') return 'waiting'
  return 'loading'
}

function defaultEmpty(d) {
  if (Array.isArray(d)) return d.length === 0
  if (d && typeof d === 'object' && Array.isArray(d.items)) return d.items.length === 0
  return false
}

const LIMIT = /maximum account active connections exceeded/i
const AUTH = /authorization violation|authentication revoked|authentication expired/i

/**
 * The footer's words for the project's NATS connection.
 *  used:     this page uses NATS (the data pages); elsewhere nothing is opened
 *  status:   the SDK connection's status (connecting | connected | disconnected | reconnecting | error | closed | idle)
 *  error:    its last error message
 *  disabled: the project record says disabled
 *  offline:  the server (HTTP) cannot be reached
 * Returns { text, tone } with tone ok | wait | bad | idle.
 */
export function natsStatusText({ used, status, error = '', disabled = false, offline = false }) {
  if (!used) return { text: 'not in use on this page', tone: 'idle' }
  if (disabled) return { text: 'project disabled', tone: 'bad' }
  if (offline) return { text: 'offline — waiting for the server', tone: 'wait' }
  switch (status) {
    case 'connected':
      return { text: 'connected', tone: 'ok' }
    case 'connecting':
    case 'idle':
      return { text: 'connecting…', tone: 'wait' }
    case 'closed':
      return { text: `closed${error ? ` — ${plainNatsError(error)}` : ''}`, tone: 'bad' }
    default: // disconnected, reconnecting, error
      if (error && LIMIT.test(error)) return { text: 'refused — the project is disabled or at its connection limit; retrying', tone: 'bad' }
      if (error && AUTH.test(error)) return { text: 'refused — access ended', tone: 'bad' }
      return { text: status === 'error' ? 'cannot connect — retrying' : 'reconnecting…', tone: 'wait' }
  }
}

/** NATS server error texts in plain words. */
export function plainNatsError(m) {
  if (LIMIT.test(m)) return 'the project is disabled or at its connection limit'
  if (/authentication revoked/i.test(m)) return 'access was revoked'
  if (/authentication expired/i.test(m)) return 'the token expired'
  if (/authorization violation/i.test(m)) return 'access refused'
  return m
}

/** True when a NATS error is the refusal a disabled project gives. */
export function isLimitRefusal(m) {
  return LIMIT.test(String(m ?? ''))
}
