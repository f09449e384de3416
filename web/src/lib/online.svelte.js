// Can the server be reached? One source of truth for the whole app.
//
// Any request that fails without an answer (PocketBase SDK, the route
// helpers, realtime, NATS) makes us *suspect* an outage; one probe of
// /api/health decides. While the server cannot be reached:
//  - TanStack Query is told we are offline (onlineManager): queries keep
//    their cached data and pause their fetches and retries — no request storm;
//  - PocketBase realtime stops reconnecting on its own (it would retry every
//    2 s), and the project's NATS connection is closed (lib/nats.svelte.js);
//  - we probe with backoff (1, 2, 4, then every 5 s), at once on Retry, on
//    focus and when the browser comes back online.
// When a probe answers, everything is refetched, realtime reconnects and
// the NATS connection reopens, each by itself.
import { onlineManager } from '@tanstack/svelte-query'
import { probeDelay } from './status.js'

export const online = $state({
  server: 'online', // online | offline
  checking: false,
  since: null, // when the outage was noticed (ms)
  retryAt: null, // next automatic probe (ms)
  probes: 0, // probes sent during this outage
})

const listeners = new Set()
/** fn('offline' | 'online') on every change; returns an unsubscribe function. */
export function onServerChange(fn) {
  listeners.add(fn)
  return () => listeners.delete(fn)
}

let timer = null
let inflight = null
let attempt = 0

// TanStack Query follows us (and the browser's own online/offline events).
onlineManager.setEventListener((setOnline) => {
  const off = () => {
    setOnline(false)
    markOffline()
    if (!timer && !inflight) schedule()
  }
  const on = () => probeNow()
  window.addEventListener('offline', off)
  window.addEventListener('online', on)
  return () => {
    window.removeEventListener('offline', off)
    window.removeEventListener('online', on)
  }
})

// A tab that comes back to the front checks at once.
if (typeof document !== 'undefined') {
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && online.server === 'offline') probeNow()
  })
}

/** Something failed without an answer: check (once) whether the server is there. */
export function suspectOffline() {
  if (online.server === 'offline') return
  probe()
}

/** A request got an answer: the server is there. */
export function noteAnswer() {
  if (online.server === 'offline') markOnline()
}

/** Retry now (the banner's button). */
export function probeNow() {
  clearTimeout(timer)
  timer = null
  return probe()
}

function probe() {
  if (inflight) return inflight
  online.checking = true
  if (online.server === 'offline') online.probes++
  inflight = (async () => {
    let ok = false
    try {
      const ctl = new AbortController()
      const t = setTimeout(() => ctl.abort(), 5000)
      // any answer counts (503 = NATS not ready yet, but HTTP is back)
      await fetch('/api/health', { cache: 'no-store', signal: ctl.signal })
      clearTimeout(t)
      ok = true
    } catch {
      ok = false
    }
    online.checking = false
    inflight = null
    if (ok) markOnline()
    else {
      markOffline()
      schedule()
    }
    return ok
  })()
  return inflight
}

function schedule() {
  clearTimeout(timer)
  const d = probeDelay(attempt++)
  online.retryAt = Date.now() + d
  timer = setTimeout(() => {
    timer = null
    probe()
  }, d)
}

function markOffline() {
  if (online.server === 'offline') return
  online.server = 'offline'
  online.since = Date.now()
  online.probes = 0
  attempt = 0
  onlineManager.setOnline(false)
  for (const fn of listeners) fn('offline')
}

function markOnline() {
  clearTimeout(timer)
  timer = null
  attempt = 0
  online.retryAt = null
  if (online.server === 'online') return
  online.server = 'online'
  online.since = null
  onlineManager.setOnline(true)
  for (const fn of listeners) fn('online')
}
