import { pb } from './pb.svelte.js'
import { membersFromRows } from './members.js'

// Members come from the memberships rows (one per user × group); co-members
// see each other's name and avatar only.
export const membersQuery = (gid) => ({
  queryKey: ['members', gid],
  queryFn: async () =>
    membersFromRows(
      await pb.collection('memberships').getFullList({ filter: pb.filter('group = {:gid}', { gid }), expand: 'user', sort: 'created' }),
    ),
  enabled: !!gid,
})

export const projectsQuery = (gid) => ({
  queryKey: ['projects', gid],
  queryFn: () => pb.collection('projects').getFullList({ filter: pb.filter('group = {:gid}', { gid }), sort: 'name' }),
  enabled: !!gid,
})

// The group owner's invite links (the collection lists them to the owner only).
export const invitesQuery = (gid, enabled = true) => ({
  queryKey: ['invites', gid],
  queryFn: () => pb.collection('invites').getFullList({ filter: pb.filter('group = {:gid}', { gid }), sort: '-created' }),
  enabled: !!gid && enabled,
})

// The group's audit trail, newest first.
export const ACTIVITY_SIZE = 20
export const activityQuery = (gid) => ({
  queryKey: ['activity', gid],
  queryFn: async () =>
    (await pb.collection('events').getList(1, ACTIVITY_SIZE, { filter: pb.filter('group = {:gid}', { gid }), sort: '-created,-@rowid' })).items,
  enabled: !!gid,
  refetchInterval: 60_000,
})

/** How many credentials the user created in the group's projects that are not revoked (what a removal revokes). */
export async function liveCredentialCount(gid, userId) {
  const r = await pb.collection('credentials').getList(1, 1, {
    filter: pb.filter('created_by = {:u} && project.group = {:g} && revoked = ""', { u: userId, g: gid }),
    fields: 'id',
  })
  return r.totalItems
}

// Usage of every project of the group in one request (GET
// /api/pocketbus/groups/{id}/stats → {projects: {<id>: stats}}), polled
// gently: every 30 s while the tab is visible, and on focus.
export const GROUP_STATS_INTERVAL = 30_000
export const groupStatsQuery = (gid) => ({
  queryKey: ['group-stats', gid],
  queryFn: async () => (await pb.send(`/api/pocketbus/groups/${encodeURIComponent(gid)}/stats`, { requestKey: null })).projects ?? {},
  enabled: !!gid,
  refetchInterval: GROUP_STATS_INTERVAL,
  staleTime: 5_000,
})
