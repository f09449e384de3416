// Paging through a stream's messages without a consumer (unit-tested in
// tests/streampage.test.js). Messages are read with the stream's message-get
// API: by sequence, or "the next message at or after a sequence on a
// subject filter" (next_by_subj), so browsing creates nothing on the server.
//
// An anchor says which page: {kind: 'latest'}, {kind: 'before', seq} (the
// newest messages below seq) or {kind: 'from', seq} (the oldest at or above
// seq). A page is returned newest first.

export const PAGE_SIZE = 25
const MAX_READS = 400 // per page: a stream full of deleted sequences stops here

/** True when the filter matches everything (no filter). */
export function isAllFilter(filter) {
  const f = String(filter ?? '').trim()
  return f === '' || f === '>'
}

/**
 * @param {object} o
 * @param {{first_seq:number,last_seq:number}} o.state the stream's state
 * @param {{kind:string,seq?:number}} o.anchor
 * @param {string} [o.filter] subject filter ('' or '>' = all)
 * @param {number} [o.size]
 * @param {(seq:number)=>Promise<object|null>} o.get the message at seq, null if none
 * @param {(seq:number, filter:string)=>Promise<object|null>} o.next the first message at or after seq on filter
 * @returns {Promise<{messages:object[], hasOlder:boolean, hasNewer:boolean}>}
 */
export async function loadPage({ state, anchor = { kind: 'latest' }, filter = '', size = PAGE_SIZE, get, next }) {
  const first = Math.max(1, Number(state?.first_seq) || 0)
  const last = Number(state?.last_seq) || 0
  const empty = { messages: [], hasOlder: false, hasNewer: false }
  if (!last || last < first) return empty
  const all = isAllFilter(filter)
  const f = all ? '>' : String(filter).trim()
  let reads = 0

  if (anchor.kind === 'from') {
    let lo = Math.max(first, Number(anchor.seq) || first)
    const found = []
    if (all) {
      // windows upward, in parallel within a window
      while (found.length < size && lo <= last && reads < MAX_READS) {
        const hi = Math.min(last, lo + (size - found.length) - 1)
        const got = await range(lo, hi, get)
        reads += hi - lo + 1
        found.push(...got)
        lo = hi + 1
      }
    } else {
      while (found.length < size && lo <= last && reads < MAX_READS) {
        const m = await next(lo, f)
        reads++
        if (!m || m.seq > last) break
        found.push(m)
        lo = m.seq + 1
      }
    }
    found.sort((a, b) => b.seq - a.seq)
    const top = found.length ? found[0].seq : lo - 1
    return {
      messages: found,
      hasOlder: found.length ? found[found.length - 1].seq > first : Number(anchor.seq) > first,
      hasNewer: top < last && lo <= last,
    }
  }

  // latest / before: the newest `size` messages at or below hi
  const hi0 = anchor.kind === 'before' ? Math.min(last, (Number(anchor.seq) || last + 1) - 1) : last
  if (hi0 < first) return { ...empty, hasNewer: hi0 < last }
  let found = []
  let lo = hi0 + 1 // lowest sequence scanned so far
  if (all) {
    while (found.length < size && lo > first && reads < MAX_READS) {
      const hi = lo - 1
      const from = Math.max(first, hi - (size - found.length) + 1)
      const got = await range(from, hi, get)
      reads += hi - from + 1
      found = [...got, ...found]
      lo = from
    }
  } else {
    // scan windows below hi forward with next_by_subj, growing 4x each time
    let w = size * 2
    while (found.length < size && lo > first && reads < MAX_READS) {
      const segEnd = lo - 1
      const segStart = Math.max(first, lo - w)
      const seg = []
      let s = segStart
      while (s <= segEnd && reads < MAX_READS) {
        const m = await next(s, f)
        reads++
        if (!m || m.seq > segEnd) break
        seg.push(m)
        s = m.seq + 1
      }
      found = [...seg, ...found]
      lo = segStart
      w *= 4
    }
  }
  found.sort((a, b) => a.seq - b.seq)
  const page = found.slice(-size).reverse()
  const lowest = page.length ? page[page.length - 1].seq : lo
  return {
    messages: page,
    hasOlder: all ? lowest > first : found.length > size || lo > first,
    hasNewer: hi0 < last,
  }
}

async function range(lo, hi, get) {
  const seqs = []
  for (let s = lo; s <= hi; s++) seqs.push(s)
  const got = await Promise.all(seqs.map((s) => get(s).catch(() => null)))
  return got.filter(Boolean)
}

/** Parses a "jump to sequence" input: a positive integer, or null. */
export function parseSeq(v) {
  const s = String(v ?? '').trim()
  if (!/^\d+$/.test(s)) return null
  const n = Number(s)
  return n >= 1 && Number.isSafeInteger(n) ? n : null
}
