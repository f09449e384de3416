import { describe, it, expect } from 'vitest'
import { loadPage, parseSeq, isAllFilter } from '../src/pagelib/streampage.js'

// A fake stream: messages at the given sequences, subjects by a function.
function fakeStream(seqs, subjectOf = (s) => (s % 3 === 0 ? 'orders.paid' : 'orders.new')) {
  const msgs = new Map(seqs.map((s) => [s, { seq: s, subject: subjectOf(s) }]))
  const reads = { get: 0, next: 0 }
  const match = (f, subj) => {
    if (f === '>') return true
    const a = f.split('.')
    const b = subj.split('.')
    for (let i = 0; i < a.length; i++) {
      if (a[i] === '>') return b.length > i
      if (i >= b.length || (a[i] !== '*' && a[i] !== b[i])) return false
    }
    return a.length === b.length
  }
  const max = Math.max(...seqs)
  return {
    state: { first_seq: Math.min(...seqs), last_seq: max },
    reads,
    get: async (s) => {
      reads.get++
      return msgs.get(s) ?? null
    },
    next: async (s, f) => {
      reads.next++
      for (let x = s; x <= max; x++) if (msgs.has(x) && match(f, msgs.get(x).subject)) return msgs.get(x)
      return null
    },
  }
}
const seqsOf = (p) => p.messages.map((m) => m.seq)
const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => a + i)

describe('stream paging without consumers', () => {
  it('latest page: the newest messages, newest first', async () => {
    const st = fakeStream(range(1, 60))
    const p = await loadPage({ ...st, size: 10 })
    expect(seqsOf(p)).toEqual(range(51, 60).reverse())
    expect(p.hasOlder).toBe(true)
    expect(p.hasNewer).toBe(false)
    expect(st.reads.next).toBe(0) // no filter: read by sequence
  })
  it('older and newer pages', async () => {
    const st = fakeStream(range(1, 60))
    const older = await loadPage({ ...st, size: 10, anchor: { kind: 'before', seq: 51 } })
    expect(seqsOf(older)).toEqual(range(41, 50).reverse())
    expect(older.hasNewer).toBe(true)
    const first = await loadPage({ ...st, size: 10, anchor: { kind: 'before', seq: 5 } })
    expect(seqsOf(first)).toEqual([4, 3, 2, 1])
    expect(first.hasOlder).toBe(false)
    const newer = await loadPage({ ...st, size: 10, anchor: { kind: 'from', seq: 11 } })
    expect(seqsOf(newer)).toEqual(range(11, 20).reverse())
    expect(newer.hasOlder).toBe(true)
    expect(newer.hasNewer).toBe(true)
  })
  it('jump to a sequence; beyond the end is an empty page', async () => {
    const st = fakeStream(range(5, 30))
    expect(seqsOf(await loadPage({ ...st, size: 5, anchor: { kind: 'from', seq: 2 } }))).toEqual([9, 8, 7, 6, 5])
    expect(seqsOf(await loadPage({ ...st, size: 5, anchor: { kind: 'from', seq: 28 } }))).toEqual([30, 29, 28])
    const past = await loadPage({ ...st, size: 5, anchor: { kind: 'from', seq: 99 } })
    expect(past.messages).toEqual([])
    expect(past.hasNewer).toBe(false)
  })
  it('skips deleted sequences and still fills the page', async () => {
    const st = fakeStream(range(1, 40).filter((s) => s % 2 === 0))
    expect(seqsOf(await loadPage({ ...st, size: 5 }))).toEqual([40, 38, 36, 34, 32])
    expect(seqsOf(await loadPage({ ...st, size: 3, anchor: { kind: 'from', seq: 11 } }))).toEqual([16, 14, 12])
  })
  it('subject filter: newest matches, older matches, from a sequence', async () => {
    const st = fakeStream(range(1, 200))
    const p = await loadPage({ ...st, size: 5, filter: 'orders.paid' })
    expect(seqsOf(p)).toEqual([198, 195, 192, 189, 186])
    expect(p.messages.every((m) => m.subject === 'orders.paid')).toBe(true)
    expect(st.reads.get).toBe(0)
    const older = await loadPage({ ...st, size: 5, filter: 'orders.paid', anchor: { kind: 'before', seq: 186 } })
    expect(seqsOf(older)).toEqual([183, 180, 177, 174, 171])
    const from = await loadPage({ ...st, size: 3, filter: 'orders.*', anchor: { kind: 'from', seq: 100 } })
    expect(seqsOf(from)).toEqual([102, 101, 100])
  })
  it('a filter with few matches far back finds them and says there is nothing older', async () => {
    const st = fakeStream(range(1, 1000), (s) => (s === 7 || s === 900 ? 'rare.one' : 'common'))
    const p = await loadPage({ ...st, size: 5, filter: 'rare.>' })
    expect(seqsOf(p)).toEqual([900, 7])
    expect(p.hasOlder).toBe(false)
    expect(st.reads.next).toBeLessThan(30) // windows grow, each costs one read per match
  })
  it('an empty stream is an empty page', async () => {
    const p = await loadPage({ state: { first_seq: 0, last_seq: 0 }, get: async () => null, next: async () => null })
    expect(p).toEqual({ messages: [], hasOlder: false, hasNewer: false })
  })
  it('parses sequences and filters', () => {
    expect(parseSeq('42')).toBe(42)
    expect(parseSeq(' 7 ')).toBe(7)
    for (const bad of ['', '0', '-1', '1.5', 'abc', '99999999999999999999']) expect(parseSeq(bad)).toBe(null)
    expect(isAllFilter('')).toBe(true)
    expect(isAllFilter(' > ')).toBe(true)
    expect(isAllFilter('orders.>')).toBe(false)
  })
})
