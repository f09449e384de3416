// One-line message rows for the live tail and the stream browser
// (unit-tested in tests/pagelib.test.js).

/** The payload as one line: whitespace collapsed, cut at `max` characters. */
export function oneLine(text, max = 160) {
  const s = String(text ?? '').replace(/\s+/g, ' ').trim()
  return s.length > max ? s.slice(0, max - 1) + '…' : s
}

/** 14:03:07.123 (24 h, with milliseconds) in the given locale and time zone. */
export function clock(date, { locale, timeZone } = {}) {
  const d = date instanceof Date ? date : new Date(date)
  if (Number.isNaN(d.getTime())) return ''
  return d.toLocaleTimeString(locale, { hour12: false, hour: '2-digit', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3, timeZone })
}

/** "12 B", "1.5 kB" — short sizes for a row. */
export function shortSize(n) {
  n = Number(n) || 0
  if (n < 1000) return `${n} B`
  return new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 }).format(n) + 'B'
}

/**
 * What the tail shows about its connection: live only when the NATS
 * connection is connected and the project is enabled.
 */
export function tailState({ status, disabled, active }) {
  if (disabled) return { live: false, text: 'This project is disabled: its NATS connections are refused. The tail resumes by itself when it is enabled.' }
  if (status === 'connected') return active ? { live: true, text: '' } : { live: false, text: 'Not listening.' }
  if (status === 'closed') return { live: false, text: 'The NATS connection ended. Reload the page to connect again.' }
  if (status === 'connecting' || status === 'idle') return { live: false, text: 'Connecting to NATS…' }
  return { live: false, text: 'Not connected to NATS — reconnecting. Messages published meanwhile are not shown; the tail resumes by itself.' }
}
