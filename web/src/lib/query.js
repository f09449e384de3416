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
  await Promise.all([
    watch('groups', ['groups', 'group', 'activity']),
    watch('projects', ['projects', 'project', 'activity']),
    watch('credentials', ['credentials', 'activity']),
    watch('users', ['members', 'activity'], async (e) => {
      if (e.record?.id === pb.authStore.record?.id) {
        // our own memberships changed (added to / removed from a group)
        try {
          await pb.collection('users').authRefresh()
        } catch {
          /* ignore */
        }
        queryClient.invalidateQueries({ queryKey: ['groups'] })
      }
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
