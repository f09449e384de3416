// Renewal scheduling (pure logic, fake clock and timers).
import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { renewDelay, retryDelay, parseExpiry, TokenRenewer } from '../../src/token.js'

const MIN = 60_000

/** A fake clock with timers; advance(ms) runs due timers and lets promises settle. */
function fakeTime(start = 0) {
  let now = start
  let seq = 0
  const timers = new Map()
  const flush = async () => { for (let i = 0; i < 20; i++) await Promise.resolve() }
  return {
    now: () => now,
    setTimer: (f, ms) => { const id = ++seq; timers.set(id, { at: now + ms, f }); return id },
    clearTimer: (id) => timers.delete(id),
    async advance(ms) {
      const end = now + ms
      await flush()
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0]
        if (!due) break
        timers.delete(due[0])
        now = due[1].at
        due[1].f()
        await flush()
      }
      now = end
      await flush()
    },
  }
}

describe('renewDelay', () => {
  test('renews a 1 h token 5 min before expiry', () => assert.equal(renewDelay(60 * MIN, 0, 0), 55 * MIN))
  test('uses a 20 % lead for mid-size tokens', () => assert.equal(renewDelay(10 * MIN, 0, 0), 8 * MIN))
  test('keeps at least 30 s lead for short tokens', () => assert.equal(renewDelay(60_000, 0, 0), 30_000))
  test('computes the lead from the whole lifetime when part has passed', () => assert.equal(renewDelay(60 * MIN, 50 * MIN, 0), 5 * MIN))
  test('renews soon inside the lead window, at once when expired', () => {
    assert.equal(renewDelay(20_000, 0, 0), 1000)
    assert.equal(renewDelay(1000, 0, 0), 500)
    assert.equal(renewDelay(0, 10, 0), 0)
  })
  test('returns null without an expiry', () => assert.equal(renewDelay(NaN, 0), null))
})

describe('retryDelay / parseExpiry', () => {
  test('backs off exponentially with a cap', () => assert.deepEqual([0, 1, 2, 3, 10].map(retryDelay), [1000, 2000, 4000, 8000, 30000]))
  test('parses RFC 3339, PocketBase dates, epochs and Go nanosecond times', () => {
    assert.equal(parseExpiry('2026-11-22T12:00:00Z'), Date.parse('2026-11-22T12:00:00Z'))
    assert.equal(parseExpiry('2026-11-22 12:00:00.000Z'), Date.parse('2026-11-22T12:00:00Z'))
    assert.equal(parseExpiry(1_800_000_000), 1_800_000_000_000)
    assert.equal(parseExpiry(1_800_000_000_000), 1_800_000_000_000)
    assert.ok(Number.isNaN(parseExpiry('')))
    assert.equal(parseExpiry('2026-11-26T20:13:02.123456789Z'), Date.parse('2026-11-26T20:13:02.123Z'))
  })
})

describe('TokenRenewer', () => {
  test('fetches, schedules renewal before expiry, and renews', async () => {
    const t = fakeTime()
    let n = 0
    const tokens = []
    const r = new TokenRenewer({ ...t, fetchToken: async () => ({ jwt: `j${++n}`, expires: new Date(t.now() + 60 * MIN).toISOString() }), onToken: (x) => tokens.push(x.jwt) })
    await r.start()
    assert.deepEqual(tokens, ['j1'])
    assert.equal(r.nextAt, 55 * MIN)
    await t.advance(55 * MIN - 1)
    assert.deepEqual(tokens, ['j1'])
    await t.advance(1)
    assert.deepEqual(tokens, ['j1', 'j2'])
    assert.equal(r.nextAt, 110 * MIN)
    r.stop()
    await t.advance(120 * MIN)
    assert.deepEqual(tokens, ['j1', 'j2'])
  })
  test('retries with backoff after errors and reports them', async () => {
    const t = fakeTime()
    let calls = 0
    const errors = []
    const got = []
    const r = new TokenRenewer({
      ...t,
      fetchToken: async () => {
        if (++calls <= 2) throw new Error('down')
        return { jwt: 'ok', expires: new Date(t.now() + 10 * MIN).toISOString() }
      },
      onToken: (x) => got.push(x.jwt),
      onError: (e) => errors.push(e.message),
    })
    await r.start()
    assert.deepEqual(errors, ['down'])
    await t.advance(1000)
    assert.deepEqual(errors, ['down', 'down'])
    await t.advance(2000)
    assert.deepEqual(got, ['ok'])
    assert.equal(r.attempt, 0)
    r.stop()
  })
  test('ignores a token that arrives after stop', async () => {
    let release
    const got = []
    const r = new TokenRenewer({ fetchToken: () => new Promise((res) => (release = res)), onToken: (x) => got.push(x) })
    const p = r.start()
    r.stop()
    release({ jwt: 'late', expires: '2099-01-01T00:00:00Z' })
    assert.equal(await p, null)
    assert.deepEqual(got, [])
  })
  test('stopped while onToken or onError runs: no timer is left behind', async () => {
    const t = fakeTime()
    let r
    r = new TokenRenewer({ ...t, fetchToken: async () => ({ jwt: 'x', expires: new Date(t.now() + 60 * MIN).toISOString() }), onToken: async () => r.stop() })
    r.stopped = false
    await r.renew()
    assert.equal(r.timer, null)
    r = new TokenRenewer({ ...t, fetchToken: async () => { throw new Error('gone') }, onError: () => r.stop() })
    r.stopped = false
    await r.renew()
    assert.equal(r.timer, null)
  })
  test('concurrent renew() calls share one fetch', async () => {
    let calls = 0
    const r = new TokenRenewer({ fetchToken: async () => ({ jwt: `j${++calls}`, expires: '' }), onToken: () => {} })
    r.stopped = false
    const [a, b] = await Promise.all([r.renew(), r.renew()])
    assert.equal(calls, 1)
    assert.equal(a, b)
    r.stop()
  })
  test('adopt() schedules the renewal of a token fetched elsewhere', () => {
    const t = fakeTime(1000)
    const r = new TokenRenewer({ ...t, fetchToken: async () => ({}), onToken: () => {} })
    r.adopt({ jwt: 'x', expires: new Date(1000 + 60 * MIN).toISOString() }, 1000)
    assert.equal(r.nextAt, 1000 + 55 * MIN)
    r.stop()
  })
})
