// Helpers for issuing credentials (unit-tested in tests/misc.test.js).

export const EXPIRY_CHOICES = [
  ['never', 'Never'],
  ['1d', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['90d', '90 days'],
  ['365d', '1 year'],
  ['custom', 'Custom date…'],
]

/** RFC 3339 (second precision, UTC) for an expiry choice, '' for never; throws on bad custom. */
export function expiryFromChoice(choice, custom, now = Date.now()) {
  if (!choice || choice === 'never') return ''
  let t
  if (choice === 'custom') {
    t = Date.parse(custom)
    if (!custom || Number.isNaN(t)) throw new Error('Pick a date and time.')
  } else {
    const m = /^(\d+)d$/.exec(choice)
    if (!m) throw new Error('Unknown expiry.')
    t = now + Number(m[1]) * 86400_000
  }
  if (t <= now) throw new Error('The expiry must be in the future.')
  return new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** A safe file name for a credential's .creds file. */
export function credsFileName(projectName, credName) {
  const slug = (s) => String(s ?? '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '')
  const base = [slug(projectName), slug(credName)].filter(Boolean).join('-') || 'pocketbus'
  return `${base}.creds`
}

const LISTS = ['pub_allow', 'pub_deny', 'sub_allow', 'sub_deny']

/** True when any permission list names a subject (then the server's JetStream default is off). */
function anyListGiven(lists) {
  return LISTS.some((k) => Array.isArray(lists?.[k]) && lists[k].length > 0)
}

/** The server's default for `jetstream`: on without lists, off with any list. */
export function defaultJetStream(lists) {
  return !anyListGiven(lists)
}

/** What a credential record was granted beyond its lists, in short words. */
export function credentialOptions(c) {
  return [c.jetstream ? 'JetStream, KV and Object Store' : 'no JetStream', c.allow_responses ? 'may reply to requests' : '']
    .filter(Boolean)
}
