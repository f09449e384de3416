// Pure formatting helpers (unit-tested in tests/format.test.js).

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** formatBytes(1536) → "1.5 KiB"; negative limits mean unlimited. */
export function formatBytes(n, { unlimited = 'unlimited' } = {}) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—'
  n = Number(n)
  if (n < 0) return unlimited
  if (n < 1024) return `${Math.round(n)} B`
  let i = 0
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024
    i++
  }
  const digits = n >= 100 ? 0 : n >= 10 ? 1 : 2
  return `${trimZeros(n.toFixed(digits))} ${UNITS[i]}`
}

function trimZeros(s) {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s
}

/** formatCount(1234567) → "1.2M"; negative → "unlimited". */
export function formatCount(n, { unlimited = 'unlimited' } = {}) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—'
  n = Number(n)
  if (n < 0) return unlimited
  if (n < 1000) return String(Math.round(n))
  if (n < 1e6) return `${trimZeros((n / 1e3).toFixed(n < 1e4 ? 1 : 0))}k`
  if (n < 1e9) return `${trimZeros((n / 1e6).toFixed(n < 1e7 ? 1 : 0))}M`
  return `${trimZeros((n / 1e9).toFixed(1))}G`
}

/** usage fraction 0..1 for a bar; null when the limit is unlimited/unknown. */
export function usageFraction(used, limit) {
  used = Number(used) || 0
  limit = Number(limit)
  if (!Number.isFinite(limit) || limit < 0) return null
  if (limit === 0) return used > 0 ? 1 : 0
  return Math.min(1, Math.max(0, used / limit))
}

/** "3 minutes ago" style text, given dates (ms or string). */
export function timeAgo(date, now = Date.now()) {
  const t = toMs(date)
  if (t === null) return ''
  let s = Math.round((now - t) / 1000)
  const future = s < 0
  s = Math.abs(s)
  let out
  if (s < 45) out = 'just now'
  else if (s < 90) out = '1 minute'
  else if (s < 3600) out = `${Math.round(s / 60)} minutes`
  else if (s < 5400) out = '1 hour'
  else if (s < 86400) out = `${Math.round(s / 3600)} hours`
  else if (s < 172800) out = '1 day'
  else if (s < 2592000) out = `${Math.round(s / 86400)} days`
  else return new Date(t).toISOString().slice(0, 10)
  if (out === 'just now') return out
  return future ? `in ${out}` : `${out} ago`
}

/** PocketBase dates look like "2026-11-22 10:00:00.123Z". */
export function toMs(date) {
  if (date === null || date === undefined || date === '') return null
  if (typeof date === 'number') return date
  if (date instanceof Date) return date.getTime()
  const t = Date.parse(String(date).replace(' ', 'T'))
  return Number.isNaN(t) ? null : t
}

export function formatDate(date) {
  const t = toMs(date)
  if (t === null) return '—'
  return new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}
