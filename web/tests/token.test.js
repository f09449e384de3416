import { describe, it, expect, vi } from 'vitest'
import { renewDelay, retryDelay, parseExpiry, TokenRenewer } from '../src/lib/token.js'

const MIN = 60_000
describe('renewDelay', () => {
  it('renews a 1 h token 5 min before expiry', () => {
    const now = 0
    expect(renewDelay(60 * MIN, now, now)).toBe(55 * MIN)
  })
  it('uses 20% lead for mid-size tokens', () => {
    expect(renewDelay(10 * MIN, 0, 0)).toBe(8 * MIN)
  })
  it('keeps at least 30 s lead for short tokens', () => {
    expect(renewDelay(60_000, 0, 0)).toBe(30_000)
  })
  it('computes the lead from the whole lifetime when part has passed', () => {
    // 1 h token issued at 0, now 50 min: renew at 55 min → 5 min from now
    expect(renewDelay(60 * MIN, 50 * MIN, 0)).toBe(5 * MIN)
  })
  it('renews soon when inside the lead window, at once when expired', () => {
    expect(renewDelay(20_000, 0, 0)).toBe(1000)
    expect(renewDelay(1000, 0, 0)).toBe(500)
    expect(renewDelay(0, 10, 0)).toBe(0)
  })
  it('returns null when there is no expiry', () => {
    expect(renewDelay(NaN, 0)).toBeNull()
  })
})

describe('retryDelay / parseExpiry', () => {
  it('backs off exponentially with a cap', () => {
    expect([0, 1, 2, 3, 10].map(retryDelay)).toEqual([1000, 2000, 4000, 8000, 30000])
  })
  it('parses RFC 3339, PocketBase dates and epochs', () => {
    expect(parseExpiry('2026-11-22T12:00:00Z')).toBe(Date.parse('2026-11-22T12:00:00Z'))
    expect(parseExpiry('2026-11-22 12:00:00.000Z')).toBe(Date.parse('2026-11-22T12:00:00Z'))
    expect(parseExpiry(1_800_000_000)).toBe(1_800_000_000_000)
    expect(parseExpiry(1_800_000_000_000)).toBe(1_800_000_000_000)
    expect(parseExpiry('')).toBeNaN()
    // Go's time.Time JSON (nanoseconds)
    expect(parseExpiry('2026-11-26T20:13:02.123456789Z')).toBe(Date.parse('2026-11-26T20:13:02.123Z'))
  })
})

describe('TokenRenewer', () => {
  it('fetches, schedules renewal before expiry, and renews', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(0)
    let n = 0
    const tokens = []
    const r = new TokenRenewer({
      fetchToken: async () => ({ jwt: `j${++n}`, seed: 's', expires: new Date(Date.now() + 60 * MIN).toISOString() }),
      onToken: (t) => tokens.push(t.jwt),
    })
    await r.start()
    expect(tokens).toEqual(['j1'])
    expect(r.nextAt).toBe(55 * MIN)
    await vi.advanceTimersByTimeAsync(55 * MIN - 1)
    expect(tokens).toEqual(['j1'])
    await vi.advanceTimersByTimeAsync(1)
    expect(tokens).toEqual(['j1', 'j2'])
    expect(r.nextAt).toBe(110 * MIN)
    r.stop()
    await vi.advanceTimersByTimeAsync(120 * MIN)
    expect(tokens).toEqual(['j1', 'j2'])
    vi.useRealTimers()
  })
  it('retries with backoff after errors and reports them', async () => {
    vi.useFakeTimers()
    vi.setSystemTime(0)
    let calls = 0
    const errors = []
    const got = []
    const r = new TokenRenewer({
      fetchToken: async () => {
        calls++
        if (calls <= 2) throw new Error('down')
        return { jwt: 'ok', seed: 's', expires: new Date(Date.now() + 10 * MIN).toISOString() }
      },
      onToken: (t) => got.push(t.jwt),
      onError: (e) => errors.push(e.message),
    })
    await r.start()
    expect(errors).toEqual(['down'])
    await vi.advanceTimersByTimeAsync(1000)
    expect(errors).toEqual(['down', 'down'])
    await vi.advanceTimersByTimeAsync(2000)
    expect(got).toEqual(['ok'])
    expect(r.attempt).toBe(0)
    r.stop()
    vi.useRealTimers()
  })
  it('ignores a token that arrives after stop', async () => {
    let release
    const got = []
    const r = new TokenRenewer({
      fetchToken: () => new Promise((res) => (release = res)),
      onToken: (t) => got.push(t),
    })
    const p = r.start()
    r.stop()
    release({ jwt: 'late', expires: '2099-01-01T00:00:00Z' })
    await p
    expect(got).toEqual([])
  })
})
