import { QueryClient } from '@tanstack/svelte-query'
import { pb } from './pb.svelte.js'

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      retry: (n, err) => n < 2 && !(err?.status >= 400 && err?.status < 500),
      refetchOnWindowFocus: true,
    },
  },
})

// Realtime: invalidate the cached lists when records change.
let unsubs = []
export async function startRealtime(user) {
  await stopRealtime()
  if (!user) return
  const watch = async (coll, keys, extra) => {
    try {
      const u = await pb.collection(coll).subscribe('*', (e) => {
        for (const k of keys) queryClient.invalidateQueries({ queryKey: [k] })
        extra?.(e)
      })
      unsubs.push(u)
    } catch {
      /* realtime is best effort */
    }
  }
  const refreshMe = async () => {
    try {
      await pb.collection('users').authRefresh()
    } catch {
      /* ignore */
    }
    for (const k of ['groups', 'group', 'projects']) queryClient.invalidateQueries({ queryKey: [k] })
  }
  await Promise.all([
    watch('groups', ['groups', 'group']),
    watch('projects', ['projects', 'project']),
    watch('credentials', ['credentials']),
    watch('events', ['activity']),
    watch('invites', ['invites']),
    // one row per user × group: joins, removals and leaves
    watch('memberships', ['members'], (e) => {
      if (e.record?.user === pb.authStore.record?.id) refreshMe() // we joined or left a group
    }),
    watch('users', ['members'], (e) => {
      if (e.record?.id === pb.authStore.record?.id) refreshMe()
    }),
  ])
}

export async function stopRealtime() {
  const u = unsubs
  unsubs = []
  for (const f of u) {
    try {
      await f()
    } catch {
      /* ignore */
    }
  }
}
