import { QueryClient } from '@tanstack/svelte-query'
import { pb, renewAuth } from './pb.svelte.js'
import { shouldRetry, retryDelay } from './status.js'
import { onServerChange, suspectOffline } from './online.svelte.js'

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // network errors wait for the server (paused while it is offline, see
      // lib/online.svelte.js); 4xx answers are final; others twice, backing off
      retry: shouldRetry,
      retryDelay,
      refetchOnWindowFocus: true,
      refetchOnReconnect: true,
    },
  },
})

// When the server comes back: refetch everything (what is on screen now,
// the rest when it is next used) and reconnect realtime, which stopped
// retrying while the server was away.
onServerChange((state) => {
  if (state === 'offline') {
    pb.realtime.disconnect() // keeps the subscriptions; no reconnect loop
  } else {
    queryClient.invalidateQueries(undefined, { cancelRefetch: false })
    if (Object.keys(pb.realtime.subscriptions ?? {}).length) pb.realtime.connect().catch(() => {})
  }
})
// PocketBase calls this when its realtime stream drops: is the server gone?
pb.realtime.onDisconnect = () => suspectOffline()

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
      /* realtime is best effort; it reconnects when the server is back */
    }
  }
  const refreshMe = async () => {
    try {
      await renewAuth()
    } catch {
      /* ignore */
    }
    for (const k of ['groups', 'group', 'projects']) queryClient.invalidateQueries({ queryKey: [k] })
  }
  // Every (re)connect after the first: changes may have been missed meanwhile.
  let connects = 0
  const reconnected = async () => {
    try {
      const u = await pb.realtime.subscribe('PB_CONNECT', () => {
        if (connects++ > 0) queryClient.invalidateQueries(undefined, { cancelRefetch: false })
      })
      unsubs.push(u)
    } catch {
      /* as above */
    }
  }
  await Promise.all([
    reconnected(),
    watch('groups', ['groups', 'group']),
    watch('projects', ['projects', 'project', 'group-stats']),
    watch('credentials', ['credentials']),
    watch('events', ['activity']),
    watch('invites', ['invites']),
    // one row per user × group: joins, removals and leaves
    watch('memberships', ['members'], (e) => {
      if (e.record?.user === pb.authStore.record?.id) refreshMe() // we joined or left a group
    }),
    watch('users', ['members', 'me'], (e) => {
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
