// Duplicate names of projects (within a group) and groups (per owner),
// compared as the server does: ignoring case (unit-tested).

const norm = (s) => String(s ?? '').trim().toLocaleLowerCase()

/** The item of `items` ({id, name}) named like `name`, except `exceptId`; or null. */
export function findDuplicate(name, items, exceptId = null) {
  const n = norm(name)
  if (!n) return null
  return (items ?? []).find((it) => it.id !== exceptId && norm(it.name) === n) ?? null
}

/** The plain-word message for a taken name. kind: 'project' | 'group'. */
export function nameTakenMessage(kind, name, existing) {
  const shown = existing?.name ?? String(name ?? '').trim()
  if (kind === 'group') return `You already own a group named “${shown}”. Group names are unique per owner (ignoring case): choose another name.`
  return `This group already has a project named “${shown}”. Project names are unique within a group (ignoring case): choose another name.`
}

/** True when a PocketBase error is the server's duplicate-name refusal. */
export function isNameTaken(err) {
  const f = (err?.response ?? err?.data)?.data?.name
  return f?.code === 'not_unique' || /already (has|own)s? a (project|group) named/i.test(f?.message ?? '')
}
