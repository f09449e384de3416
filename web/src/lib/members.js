// Members and invites of a group, from memberships rows (unit-tested in
// tests/members.test.js). Co-members see each other's id, name and avatar
// only: never an email.

/** memberships rows (expand: 'user') → [{ id, name, avatar, membership, joined }] sorted by name. */
export function membersFromRows(rows) {
  const out = (rows ?? []).map((r) => ({
    id: r.user,
    name: r.expand?.user?.name ?? '',
    avatar: r.expand?.user?.avatar ?? '',
    membership: r.id,
    joined: r.created,
  }))
  return out.sort((a, b) => (a.name || '\uffff').localeCompare(b.name || '\uffff') || a.id.localeCompare(b.id))
}

/** What to call a member: their name, or a plain stand-in when they have none. */
export function memberName(m) {
  return m?.name?.trim() || 'Unnamed member'
}

/** id → name map of the members (for activity sentences). */
export function namesById(members) {
  const m = new Map()
  for (const x of members ?? []) m.set(x.id, memberName(x))
  return m
}

/** Invites that still work: not expired, not used up; newest first. */
export function activeInvites(invites, now = Date.now()) {
  return (invites ?? [])
    .filter((i) => {
      const t = Date.parse(String(i.expires ?? '').replace(' ', 'T'))
      return !Number.isNaN(t) && t > now && Number(i.uses ?? 0) < Number(i.max_uses ?? 1)
    })
    .sort((a, b) => String(b.created).localeCompare(String(a.created)))
}

export const INVITE_EXPIRY_CHOICES = [
  ['1d', '1 day'],
  ['7d', '7 days'],
  ['30d', '30 days'],
  ['90d', '90 days'],
]

/** "1 of 5 uses" style text. */
export function inviteUses(i) {
  const max = Number(i.max_uses ?? 1)
  return `${Number(i.uses ?? 0)} of ${max} use${max === 1 ? '' : 's'}`
}

/** Plain words for what removing (or leaving) does, given the credential count. */
export function removalFacts({ self, name, count, keep }) {
  const who = self ? 'You' : name
  const facts = [
    `${who} lose${self ? '' : 's'} access to this group and its projects.`,
    `${self ? 'Your' : 'Their'} browser sessions on the group’s projects are disconnected within a second.`,
  ]
  if (count === null || count === undefined) facts.push(`The credentials ${self ? 'you' : 'they'} created in this group’s projects ${keep ? 'keep working' : 'are revoked'}.`)
  else if (count === 0) facts.push(`${self ? 'You' : 'They'} created no credentials in this group’s projects that are still active.`)
  else if (keep) facts.push(`The ${plural(count, 'credential')} ${self ? 'you' : 'they'} created in this group’s projects keep${count === 1 ? 's' : ''} working and stay${count === 1 ? 's' : ''} in the projects’ credential lists.`)
  else facts.push(`The ${plural(count, 'credential')} ${self ? 'you' : 'they'} created in this group’s projects ${count === 1 ? 'is' : 'are'} revoked: clients using ${count === 1 ? 'it are' : 'them are'} disconnected and refused.`)
  return facts
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}
