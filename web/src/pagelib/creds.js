// Credential list and expiry helpers for the Credentials page
// (unit-tested in tests/pagelib.test.js).
import { toMs } from '../lib/format.js'

const sec = (ms) => Math.floor(ms / 1000)

/**
 * A credential's state, given its project: 'revoked' (revoked one by one),
 * 'rotated' (issued at or before the project's revoked_before: a rotation
 * refuses every credential whose JWT was issued in or before that second),
 * 'expired' or 'active'.
 */
export function credentialState(c, project, now = Date.now()) {
  if (c?.revoked) return 'revoked'
  const rotated = toMs(project?.revoked_before)
  const issued = toMs(c?.created)
  if (rotated !== null && issued !== null && sec(issued) <= sec(rotated)) return 'rotated'
  const exp = toMs(c?.expires)
  if (exp !== null && exp <= now) return 'expired'
  return 'active'
}

export const STATE_LABELS = { active: 'Active', revoked: 'Revoked', expired: 'Expired', rotated: 'No longer valid' }

/** How many credentials of the list a rotation made invalid (not counting revoked ones). */
export function countRotated(list, project) {
  return (list ?? []).filter((c) => credentialState(c, project) === 'rotated').length
}

/** The browser's time zone, e.g. "Europe/Berlin". */
export function localTimeZone() {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'
  } catch {
    return 'UTC'
  }
}

/** "UTC+01:00" for a time zone at a moment ("UTC" for an offset of 0). */
export function utcOffset(date, timeZone) {
  try {
    const part = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' }).formatToParts(date).find((p) => p.type === 'timeZoneName')?.value
    if (!part || /^GMT([+-]00:?00)?$/.test(part)) return 'UTC'
    return part.replace('GMT', 'UTC')
  } catch {
    return ''
  }
}

/**
 * What a custom expiry (a datetime-local value, read in the browser's time
 * zone) means: "1 Dec 2026, 10:00 in Europe/Berlin (UTC+01:00) = 2026-12-01
 * 09:00 UTC". Empty for an empty or invalid value.
 */
export function expiryMeaning(value, { timeZone = localTimeZone(), locale } = {}) {
  if (!value) return ''
  const t = Date.parse(value)
  if (Number.isNaN(t)) return ''
  const d = new Date(t)
  const local = d.toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone })
  const utc = d.toISOString().slice(0, 16).replace('T', ' ')
  return `${local} in ${timeZone} (${utcOffset(d, timeZone)}) = ${utc} UTC`
}

/** "Jan 15, 2030, 09:30 EST": a date with its time zone (dateStyle cannot be combined with timeZoneName). */
export function dateWithZone(date, { locale, timeZone } = {}) {
  const t = toMs(date)
  if (t === null) return '—'
  return new Date(t).toLocaleString(locale, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZoneName: 'short', timeZone })
}
