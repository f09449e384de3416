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

// Counts and relative times in the UI's language (English), with Intl.
const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 })
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })

/** formatCount(1234567) → "1.2M" (Intl compact notation); negative → "unlimited". */
export function formatCount(n, { unlimited = 'unlimited' } = {}) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—'
  n = Number(n)
  if (n < 0) return unlimited
  return compact.format(Math.round(n))
}

/** usage fraction 0..1 for a bar; null when the limit is unlimited/unknown. */
export function usageFraction(used, limit) {
  used = Number(used) || 0
  limit = Number(limit)
  if (!Number.isFinite(limit) || limit < 0) return null
  if (limit === 0) return used > 0 ? 1 : 0
  return Math.min(1, Math.max(0, used / limit))
}

/** "3 minutes ago", "yesterday", "in 2 hours" (Intl.RelativeTimeFormat); a month or more away: the date. */
export function timeAgo(date, now = Date.now()) {
  const t = toMs(date)
  if (t === null) return ''
  const s = (t - now) / 1000
  const a = Math.abs(s)
  if (a < 45) return 'just now'
  if (a < 3570) return relative.format(Math.round(s / 60), 'minute')
  if (a < 84600) return relative.format(Math.round(s / 3600), 'hour')
  if (a < 30 * 86400) return relative.format(Math.round(s / 86400), 'day')
  return new Date(t).toLocaleDateString(undefined, { dateStyle: 'medium' })
}

/** PocketBase dates look like "2026-11-22 10:00:00.123Z". */
export function toMs(date) {
  if (date === null || date === undefined || date === '') return null
  if (typeof date === 'number') return date
  if (date instanceof Date) return date.getTime()
  const t = Date.parse(String(date).replace(' ', 'T'))
  return Number.isNaN(t) ? null : t
}

/** "Nov 22, 2026, 1:00 PM UTC": the reader's locale, always with the time zone. */
export function formatDate(date) {
  const t = toMs(date)
  if (t === null) return '—'
  return new Date(t).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit', timeZoneName: 'short' })
}

/** ISO 8601 for <time datetime>, or undefined. */
export function isoDate(date) {
  const t = toMs(date)
  return t === null ? undefined : new Date(t).toISOString()
}
