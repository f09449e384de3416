// How the app names things (unit-tested in tests/names.test.js).

/**
 * A group as the app shows it. The personal group is named after its owner
 * on the server (so "Ada Lovelace" would be everywhere on the first screen):
 * the app calls it "Personal"; its server name stays and shows in settings.
 */
export function groupLabel(g) {
  if (!g) return ''
  return g.personal ? 'Personal' : g.name ?? ''
}

/**
 * Groups matching a search text (what the switcher shows, case- and
 * accent-insensitive; a shared group also by its name), personal first.
 */
export function filterGroups(groups, text) {
  const fold = (s) => String(s ?? '').normalize('NFD').replace(/\p{Diacritic}/gu, '').toLowerCase()
  const q = fold(text).trim()
  const list = (groups ?? []).filter((g) => !q || fold(groupLabel(g)).includes(q))
  return list.sort((a, b) => Number(!!b.personal) - Number(!!a.personal) || groupLabel(a).localeCompare(groupLabel(b)))
}

/**
 * Sign-up errors in plain words. PocketBase answers a taken email with
 * "Value must be unique." on `email`: say that an account exists and offer
 * sign-in and reset (the page shows the links when `emailTaken`).
 */
export function signUpError(described) {
  const e = described ?? { message: '', fields: {} }
  const code = e.codes?.email
  const taken = code === 'validation_not_unique' || /must be unique|already (taken|exists|in use)/i.test(e.fields?.email ?? '')
  if (!taken) return { ...e, emailTaken: false }
  return {
    ...e,
    message: '',
    fields: { ...e.fields, email: 'An account with this email address already exists.' },
    emailTaken: true,
  }
}

/**
 * The refusal of an account delete names the shared group the user owns:
 * "this user owns the shared group "Team"; transfer its ownership or delete
 * it first" → "Team" (or '' when the message is another one).
 */
export function ownedGroupInRefusal(message) {
  const m = /owns the shared group [“"](.+?)[”"]/.exec(String(message ?? ''))
  return m ? m[1] : ''
}
