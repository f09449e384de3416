import { pb } from './pb.svelte.js'
import { toMs } from './format.js'

export const membersQuery = (gid) => ({
  queryKey: ['members', gid],
  queryFn: () => pb.collection('users').getFullList({ filter: pb.filter('groups.id ?= {:gid}', { gid }), sort: 'name,email' }),
  enabled: !!gid,
})

export const projectsQuery = (gid) => ({
  queryKey: ['projects', gid],
  queryFn: () => pb.collection('projects').getFullList({ filter: pb.filter('group = {:gid}', { gid }), sort: 'name' }),
  enabled: !!gid,
})

/** Recent activity from the records' timestamps. */
export async function loadActivity(gid, group) {
  const [projects, creds] = await Promise.all([
    pb.collection('projects').getList(1, 30, { filter: pb.filter('group = {:gid}', { gid }), sort: '-created' }),
    pb.collection('credentials').getList(1, 30, {
      filter: pb.filter('project.group = {:gid}', { gid }),
      sort: '-created',
      expand: 'project,created_by',
    }),
  ])
  const ev = []
  if (group?.created) ev.push({ at: toMs(group.created), text: `Group “${group.name}” created` })
  for (const p of projects.items) {
    ev.push({ at: toMs(p.created), text: `Project “${p.name}” created`, href: `/g/${gid}/p/${p.id}` })
    if (p.updated && p.updated !== p.created) ev.push({ at: toMs(p.updated), text: `Project “${p.name}” updated${p.disabled ? ' (disabled)' : ''}`, href: `/g/${gid}/p/${p.id}` })
  }
  for (const c of creds.items) {
    const pname = c.expand?.project?.name ?? 'a project'
    const who = c.expand?.created_by?.name || c.expand?.created_by?.email || ''
    const href = `/g/${gid}/p/${c.project}/credentials`
    ev.push({ at: toMs(c.created), text: `Credential “${c.name}” issued for ${pname}${who ? ` by ${who}` : ''}`, href })
    if (c.revoked) ev.push({ at: toMs(c.revoked), text: `Credential “${c.name}” revoked in ${pname}`, href })
  }
  return ev.filter((e) => e.at).sort((a, b) => b.at - a.at).slice(0, 20)
}
