import { describe, it, expect, vi } from 'vitest'
import { oneLine, clock, tailState, shortSize } from '../src/pagelib/tail.js'
import { objectTime, liveObjects } from '../src/pagelib/objects.js'
import { natsCli, shq } from '../src/pagelib/cli.js'
import { findDuplicate, nameTakenMessage, isNameTaken } from '../src/pagelib/names.js'
import { credentialState, countRotated, utcOffset, expiryMeaning, dateWithZone } from '../src/pagelib/creds.js'
import { splitShares, shareSentence, shareError } from '../src/pagelib/shares.js'
import { trackConsumers, consumerOf } from '../src/pagelib/jsscope.js'

describe('tail rows', () => {
  it('shows a payload on one line', () => {
    expect(oneLine('{\n  "id": 1,\n  "ok": true\n}')).toBe('{ "id": 1, "ok": true }')
    expect(oneLine('x'.repeat(10), 5)).toBe('xxxx…')
    expect(oneLine(undefined)).toBe('')
  })
  it('formats a clock with milliseconds', () => {
    expect(clock(new Date('2026-11-22T14:03:07.123Z'), { locale: 'en-GB', timeZone: 'UTC' })).toBe('14:03:07.123')
    expect(clock('nonsense')).toBe('')
  })
  it('sizes', () => {
    expect(shortSize(10)).toBe('10 B')
    expect(shortSize(1536)).toBe('1.5KB')
  })
  it('is live only when connected and enabled', () => {
    expect(tailState({ status: 'connected', active: true }).live).toBe(true)
    for (const status of ['reconnecting', 'disconnected', 'error', 'connecting', 'closed']) {
      const s = tailState({ status, active: true })
      expect(s.live).toBe(false)
      expect(s.text).not.toMatch(/Waiting/)
    }
    expect(tailState({ status: 'connected', active: true, disabled: true }).live).toBe(false)
    expect(tailState({ status: 'reconnecting', active: true }).text).toMatch(/reconnecting/)
  })
})

describe('objects', () => {
  it('uses mtime, or the message time for the Go zero time', () => {
    const msg = new Date('2026-11-20T08:00:00Z')
    expect(objectTime({ mtime: '2026-11-21T10:00:00.000Z' }, msg).toISOString()).toBe('2026-11-21T10:00:00.000Z')
    expect(objectTime({ mtime: '0001-01-01T00:00:00Z' }, msg).toISOString()).toBe('2026-11-20T08:00:00.000Z')
    expect(objectTime({}, msg).toISOString()).toBe('2026-11-20T08:00:00.000Z')
    expect(objectTime({ mtime: '0001-01-01T00:00:00Z' }, null)).toBe(null)
  })
  it('lists live objects by name with their time', () => {
    const t = new Date('2026-11-20T08:00:00Z')
    const list = liveObjects([
      { info: { name: 'b', mtime: '0001-01-01T00:00:00Z' }, time: t },
      { info: { name: 'a', mtime: '2026-11-21T10:00:00Z' }, time: t },
      { info: { name: 'gone', deleted: true }, time: t },
    ])
    expect(list.map((o) => o.name)).toEqual(['a', 'b'])
    expect(list[1].time).toEqual(t)
  })
})

describe('CLI lines', () => {
  it('quotes what a shell would split', () => {
    expect(shq('orders.>')).toBe("'orders.>'")
    expect(shq('files')).toBe('files')
    expect(shq("it's")).toBe(`'it'\\''s'`)
  })
  it('builds nats commands with the server and a creds file', () => {
    expect(natsCli('nats://127.0.0.1:4222', ['kv', 'add', 'config'])).toBe('nats --server nats://127.0.0.1:4222 --creds app.creds kv add config')
    expect(natsCli('', ['stream', 'add', 'ORDERS', '--subjects', 'orders.>'], 'my app.creds')).toBe("nats --creds 'my app.creds' stream add ORDERS --subjects 'orders.>'")
  })
})

describe('names', () => {
  const items = [{ id: '1', name: 'Orders' }, { id: '2', name: 'Billing' }]
  it('finds duplicates ignoring case and spaces, except the item itself', () => {
    expect(findDuplicate(' orders ', items)?.id).toBe('1')
    expect(findDuplicate('ORDERS', items, '1')).toBe(null)
    expect(findDuplicate('', items)).toBe(null)
    expect(findDuplicate('new', items)).toBe(null)
  })
  it('says what to do', () => {
    expect(nameTakenMessage('project', 'orders', { name: 'Orders' })).toMatch(/already has a project named “Orders”.*choose another name/)
    expect(nameTakenMessage('group', 'Team')).toMatch(/You already own a group named “Team”/)
  })
  it('recognises the server refusal', () => {
    expect(isNameTaken({ response: { data: { name: { code: 'not_unique', message: 'x' } } } })).toBe(true)
    expect(isNameTaken({ response: { data: { name: { code: 'validation_required', message: 'Cannot be blank.' } } } })).toBe(false)
  })
})

describe('credentials after a rotation', () => {
  const project = { revoked_before: '2026-11-22 10:00:00.600Z' }
  it('marks what was issued in or before the rotation second', () => {
    expect(credentialState({ created: '2026-11-22 09:00:00.000Z' }, project)).toBe('rotated')
    expect(credentialState({ created: '2026-11-22 10:00:00.900Z' }, project)).toBe('rotated') // same second: refused by NATS too
    expect(credentialState({ created: '2026-11-22 10:00:01.000Z' }, project)).toBe('active')
    expect(credentialState({ created: '2026-11-22 09:00:00.000Z', revoked: '2026-11-22 09:30:00.000Z' }, project)).toBe('revoked')
    expect(credentialState({ created: '2026-11-22 09:00:00.000Z' }, {})).toBe('active')
    expect(credentialState({ created: '2026-11-22 11:00:00.000Z', expires: '2026-11-23 00:00:00.000Z' }, project, Date.parse('2026-11-24T00:00:00Z'))).toBe('expired')
    expect(countRotated([{ created: '2026-11-22 09:00:00.000Z' }, { created: '2026-11-22 11:00:00.000Z' }, { created: '2026-11-22 08:00:00.000Z', revoked: 'x' }], project)).toBe(1)
  })
  it('names the time zone of a custom expiry', () => {
    expect(utcOffset(new Date('2026-12-01T09:00:00Z'), 'Europe/Berlin')).toBe('UTC+01:00')
    expect(utcOffset(new Date('2026-07-01T09:00:00Z'), 'UTC')).toBe('UTC')
    const m = expiryMeaning('2026-12-01T10:00', { timeZone: 'Europe/Berlin', locale: 'en-GB' })
    expect(m).toMatch(/in Europe\/Berlin \(UTC\+01:00\) = 2026-12-01 \d\d:00 UTC$/)
    expect(expiryMeaning('')).toBe('')
    expect(dateWithZone('2030-01-15 14:30:00.000Z', { locale: 'en-US', timeZone: 'America/New_York' })).toBe('Jan 15, 2030, 09:30 AM EST')
    expect(dateWithZone('')).toBe('—')
  })
})

describe('shares', () => {
  it('splits rows into shared by and shared with the project', () => {
    const rows = [
      { id: 'a', project: 'p1', to: 'p2', subject: 'orders.>', type: 'stream' },
      { id: 'b', project: 'p3', to: 'p1', subject: 'billing.get', type: 'service' },
      { id: 'c', project: 'p1', to: 'p3', subject: 'audit.>', type: 'stream' },
    ]
    const s = splitShares(rows, 'p1')
    expect(s.outgoing.map((r) => r.id)).toEqual(['c', 'a'])
    expect(s.incoming.map((r) => r.id)).toEqual(['b'])
  })
  it('says what a share does', () => {
    expect(shareSentence({ type: 'stream', subject: 'orders.>', from: 'A', to: 'B' })).toBe('Messages published on orders.> in “A” are delivered to subscribers of orders.> in “B”.')
    expect(shareSentence({ type: 'service', subject: 'svc.x', from: 'A', to: 'B' })).toMatch(/Clients in “B” send requests on svc.x; clients in “A” answer them/)
  })
  it('puts refusals in plain words', () => {
    const e = (status, body) => Object.assign(new Error(body.message), { status, response: { status, ...body } })
    expect(shareError(e(404, { message: 'no project x in this group', data: {} })).message).toMatch(/not in this group/)
    expect(shareError(e(403, { message: 'only the owner', data: {} })).message).toMatch(/Only the group owner/)
    const r = shareError(e(400, { message: 'Failed', data: { subject: { code: 'reserved', message: 'subjects starting with $, _INBOX or _R_ belong to NATS and cannot be shared' } } }))
    expect(r.fields.subject).toBe('The server refused this subject: subjects starting with $, _INBOX or _R_ belong to NATS and cannot be shared.')
  })
})

describe('consumer tracking', () => {
  const fakeApi = () => {
    let n = 0
    const calls = { add: [], del: [] }
    return {
      calls,
      add: vi.fn(async (stream, cfg) => {
        calls.add.push({ stream, cfg })
        return { name: cfg.name ?? cfg.durable_name ?? `eph_${++n}`, stream_name: stream, config: cfg }
      }),
      delete: vi.fn(async (stream, name) => {
        calls.del.push(`${stream}/${name}`)
        return true
      }),
    }
  }
  it('gives ephemeral and ordered consumers a short threshold and remembers them until deleted', async () => {
    const api = fakeApi()
    const live = new Map()
    let closed = false
    trackConsumers(api, { thresholdNs: 10e9, live, isClosed: () => closed })
    await api.add('KV_cfg', { name: 'oc_x_1', inactive_threshold: 300e9 })
    await api.add('ORDERS', { durable_name: 'worker' })
    await api.add('OBJ_files', {})
    expect(api.calls.add[0].cfg.inactive_threshold).toBe(10e9)
    expect(api.calls.add[1].cfg.inactive_threshold).toBeUndefined() // a durable stays as asked
    expect([...live.values()].map((c) => `${c.stream}/${c.name}`)).toEqual(['KV_cfg/oc_x_1', 'OBJ_files/eph_1'])
    await api.delete('KV_cfg', 'oc_x_1')
    expect(live.size).toBe(1)
    closed = true
    await expect(api.add('KV_cfg', { name: 'oc_x_2' })).rejects.toThrow(/closed/)
  })
  it('deletes a consumer whose create finished after the view closed', async () => {
    const api = fakeApi()
    const live = new Map()
    let closed = false
    let release
    api.add = vi.fn(() => new Promise((r) => (release = r)))
    trackConsumers(api, { thresholdNs: 1, live, isClosed: () => closed })
    const p = api.add('KV_cfg', { name: 'oc_late_1' })
    closed = true
    release({ name: 'oc_late_1' })
    await p
    expect(live.size).toBe(0)
    expect(api.calls.del).toEqual(['KV_cfg/oc_late_1'])
  })
  it('finds the consumer behind an iterator', () => {
    expect(consumerOf({ _data: { _info: { stream_name: 'KV_a', name: 'oc_1' } } })).toEqual({ stream: 'KV_a', name: 'oc_1' })
    expect(consumerOf({})).toBe(null)
  })
})

import { keepTail, takeTail, forgetTails } from '../src/pagelib/tailmemory.js'
describe('tail memory', () => {
  it('hands a project\'s tail to the next view once', () => {
    forgetTails()
    keepTail('p1', { msgs: [{ id: 1 }], count: 1, active: '>', seq: 1, lostAt: null })
    expect(takeTail('p2')).toBe(null)
    expect(takeTail('p1').msgs).toEqual([{ id: 1 }])
    expect(takeTail('p1')).toBe(null)
    keepTail(null, { msgs: [] })
    expect(takeTail(null)).toBe(null)
  })
})
