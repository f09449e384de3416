// Activity sentences from `events` records (unit-tested in tests/events.test.js).
//
// describeEvent(ev, { names, projects, gid }) → { text, href }
//   names:    Map user id → name (the group's current members)
//   projects: Map project id → name (the group's current projects)

const q = (s) => `“${s}”`

function actorName(ev, names) {
  if (ev.actor) return names?.get(ev.actor) ?? 'a former member'
  if (ev.data?.by === 'superuser') return 'a superuser'
  return 'the server'
}

function userName(id, names) {
  if (!id) return 'someone'
  return names?.get(id) ?? 'a former member'
}

function projectName(ev, projects) {
  const n = projects?.get(ev.project)
  if (n) return q(n)
  if (ev.data?.name && ev.action?.startsWith('project.')) return q(ev.data.name)
  return 'a deleted project'
}

function projectRef(id, projects) {
  const n = id && projects?.get(id)
  return n ? q(n) : 'a deleted project'
}

function changes(d, skip = []) {
  return Object.entries(d ?? {})
    .filter(([k, v]) => !skip.includes(k) && v && typeof v === 'object' && 'from' in v)
    .map(([k, v]) => `${k} ${fmt(v.from)} → ${fmt(v.to)}`)
    .join(', ')
}

function fmt(v) {
  if (v === null || v === undefined || v === '') return '—'
  return typeof v === 'number' && v < 0 ? 'unlimited' : String(v)
}

const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1)

function plural(n, w) {
  return `${n} ${w}${n === 1 ? '' : 's'}`
}

/** One human sentence (and a link, where there is a place to go) for an event record. */
export function describeEvent(ev, { names, projects, gid } = {}) {
  const a = actorName(ev, names)
  const d = ev.data ?? {}
  const p = ev.project ? projectName(ev, projects) : ''
  const live = ev.project && projects?.has(ev.project)
  const projHref = live ? `/g/${gid}/p/${ev.project}` : undefined
  const credHref = live ? `/g/${gid}/p/${ev.project}/credentials` : undefined
  let text
  let href
  switch (ev.action) {
    case 'group.created':
      // a personal group is named after its owner: the name would only repeat theirs
      text = d.personal ? 'Personal group created' : `${a} created the group${d.name ? ` ${q(d.name)}` : ''}`
      break
    case 'group.renamed':
      text = d.name ? `${a} renamed the group from ${q(d.name.from)} to ${q(d.name.to)}` : `${a} renamed the group`
      break
    case 'group.owner_transferred': {
      const to = userName(d.owner?.to ?? ev.target, names)
      const from = d.owner?.from
      text = from && from !== ev.actor ? `${a} transferred ownership from ${userName(from, names)} to ${to}` : `${a} transferred ownership to ${to}`
      break
    }
    case 'group.limits_changed':
      text = `${a} changed the group’s limits${changes(d, ['by']) ? ` (${changes(d, ['by'])})` : ''}`
      break
    case 'group.deleted':
      text = `${a} deleted the group`
      break
    case 'member.joined': {
      const who = userName(ev.target || ev.actor, names)
      text = `${who} joined${d.invited_by ? ` (invited by ${userName(d.invited_by, names)})` : ''}`
      break
    }
    case 'member.left': {
      const who = userName(ev.target || ev.actor, names)
      text = d.reason === 'account deleted' ? `${who} left (account deleted)` : `${who} left the group`
      if (d.credentials_revoked > 0) text += `; ${plural(d.credentials_revoked, 'credential')} revoked`
      break
    }
    case 'member.removed':
      text = `${a} removed ${userName(ev.target, names)}`
      if (d.kept_credentials) text += ' and kept their credentials'
      else if (d.credentials_revoked > 0) text += ` and revoked their ${plural(d.credentials_revoked, 'credential')}`
      break
    case 'invite.created':
      text = `${a} created an invite link${d.max_uses ? ` (${plural(d.max_uses, 'use')})` : ''}`
      break
    case 'invite.deleted':
      text = `${a} deleted an invite link`
      break
    case 'project.created':
      text = `${a} created project ${projectName(ev, projects)}`
      href = projHref
      break
    case 'project.updated':
      if (d.name) text = `${a} renamed project ${q(d.name.from)} to ${q(d.name.to)}`
      else text = `${a} changed the description of project ${p}`
      href = projHref
      break
    case 'project.disabled':
      text = `${a} disabled project ${p}`
      href = projHref
      break
    case 'project.enabled':
      text = `${a} enabled project ${p}`
      href = projHref
      break
    case 'project.limits_changed':
      text = `${a} changed the limits of project ${p}${changes(d, ['by']) ? ` (${changes(d, ['by'])})` : ''}`
      href = projHref
      break
    case 'project.rotated':
      text = `${a} rotated the keys of project ${p}: every credential and web token issued before was revoked`
      href = credHref
      break
    case 'export.created':
      text = `${a} shared ${d.subject ? `“${d.subject}” ` : ''}of ${p} with ${projectRef(d.to, projects)} (${d.type === 'service' ? 'service' : 'stream'})`
      href = projHref
      break
    case 'export.deleted':
      text = `${a} stopped sharing ${d.subject ? `“${d.subject}” ` : ''}of ${p} with ${projectRef(d.to, projects)}`
      href = projHref
      break
    case 'project.deleted':
      text = `${a} deleted project ${d.name ? q(d.name) : p}`
      break
    case 'credential.issued':
      text = `${a} issued credential ${q(d.name ?? '?')} for ${p}`
      href = credHref
      break
    case 'credential.revoked':
      text = `${a} revoked credential ${q(d.name ?? '?')} in ${p}${d.reason && d.reason !== 'revoked' ? ` (${d.reason})` : ''}`
      href = credHref
      break
    case 'credential.deleted':
      text = `${a} deleted credential ${q(d.name ?? '?')} in ${p}`
      href = credHref
      break
    default:
      text = `${a}: ${ev.action}${p ? ` in ${p}` : ''}`
  }
  return { text: cap(text), href }
}
