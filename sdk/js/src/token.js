// Scheduling of the short-lived project token renewal (unit-tested in
// test/unit/token.test.js). Pure logic with injectable clock and timers.

const MIN_LEAD = 30_000 // renew at least 30 s before expiry
const MAX_LEAD = 5 * 60_000 // and no earlier than 5 min before
const MIN_DELAY = 1_000

/**
 * How long to wait before renewing a token that expires at `expiresAt`
 * (ms epoch), given that it was issued at `issuedAt` and it is now `now`.
 * Renews when 80 % of its lifetime has passed, but keeps the lead between
 * 30 s and 5 min, never waits less than 1 s and renews now when expired.
 */
export function renewDelay(expiresAt, now, issuedAt = now) {
  if (!Number.isFinite(expiresAt)) return null // no expiry: nothing to renew
  const remaining = expiresAt - now
  if (remaining <= 0) return 0
  const lifetime = Math.max(remaining, expiresAt - issuedAt)
  const lead = Math.min(MAX_LEAD, Math.max(MIN_LEAD, lifetime * 0.2))
  const delay = remaining - lead
  if (delay < MIN_DELAY) return Math.min(MIN_DELAY, Math.max(0, remaining / 2))
  return delay
}

/** Backoff after failed renewals: 1 s, 2 s, 4 s … capped at 30 s. */
export function retryDelay(attempt) {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, attempt))
}

/** Parses an expiry given as RFC 3339 string, epoch seconds or ms. */
export function parseExpiry(v) {
  if (v === null || v === undefined || v === '' || v === 0) return NaN
  if (typeof v === 'number') return v < 1e12 ? v * 1000 : v
  const t = Date.parse(String(v).replace(' ', 'T'))
  return t
}

/**
 * Keeps a token fresh: fetches one, hands it to onToken, and schedules the
 * next fetch before it expires; retries with backoff on errors.
 */
export class TokenRenewer {
  constructor({ fetchToken, onToken, onError = () => {}, now = () => Date.now(), setTimer = (f, ms) => setTimeout(f, ms), clearTimer = (t) => clearTimeout(t) }) {
    Object.assign(this, { fetchToken, onToken, onError, now, setTimer, clearTimer })
    this.timer = null
    this.stopped = true
    this.attempt = 0
  }

  async start() {
    this.stopped = false
    return this.renew()
  }

  /**
   * Takes a token fetched outside the renewer (the first one of a
   * connection, whose errors the caller handles) and schedules its renewal.
   */
  adopt(tok, issuedAt = this.now()) {
    this.stopped = false
    this.attempt = 0
    const d = renewDelay(parseExpiry(tok.expires), this.now(), issuedAt)
    if (d !== null) this.schedule(d)
  }

  /** Fetches a token now; concurrent calls share one fetch. */
  renew() {
    if (this.stopped) return Promise.resolve(null)
    if (!this.inflight) this.inflight = this.#renew().finally(() => (this.inflight = null))
    return this.inflight
  }

  async #renew() {
    const issuedAt = this.now()
    try {
      const tok = await this.fetchToken()
      if (this.stopped) return null
      this.attempt = 0
      await this.onToken(tok)
      if (this.stopped) return tok // stopped while onToken ran: schedule nothing
      const d = renewDelay(parseExpiry(tok.expires), this.now(), issuedAt)
      if (d !== null) this.schedule(d)
      return tok
    } catch (err) {
      if (this.stopped) return null
      this.onError(err)
      if (!this.stopped) this.schedule(retryDelay(this.attempt++))
      return null
    }
  }

  schedule(ms) {
    this.clearTimer(this.timer)
    this.nextAt = this.now() + ms
    this.timer = this.setTimer(() => this.renew(), ms)
  }

  stop() {
    this.stopped = true
    this.clearTimer(this.timer)
    this.timer = null
  }
}
