// A JetStream "scope" per data view: every consumer the view's KV, object
// store and stream code creates is remembered, gets a short inactive
// threshold, and is deleted when the view is left.
//
// Why: @nats-io/kv and @nats-io/obj browse with ordered consumers (keys,
// history, watch, list, get) that nats.js creates with a 5-minute inactive
// threshold and never deletes: stop() only unsubscribes. Each one counted
// against js_max_consumers until the server dropped it, and a closed tab
// left them behind for 5 minutes.
//
// How: the scope has its own JetStreamClient and manager. Their consumer
// APIs are wrapped (trackConsumers): every consumer without a durable name
// is created with inactive_threshold = INACTIVE_MS (a push consumer with no
// subscriber, or a pull consumer nobody pulls from, is deleted by the server
// after it), and remembered until it is deleted. release(iter) stops an
// iterator and deletes its consumer at once; close() stops every iterator
// the view holds and deletes every consumer it still has.

export const INACTIVE_MS = 10_000

const key = (stream, name) => `${stream}\u0000${name}`

/**
 * Wraps api.add / api.delete (a nats.js ConsumerAPI) in place: ephemeral and
 * ordered consumers get `thresholdNs` as inactive_threshold; `live` (a Map)
 * holds every consumer created and not yet deleted. After `isClosed()`,
 * add() refuses (an ordered consumer's automatic re-creation included) and a
 * consumer whose create was in flight is deleted as soon as it exists.
 */
export function trackConsumers(api, { thresholdNs, live, isClosed }) {
  if (api.__pocketbusTracked) return api
  const add = api.add.bind(api)
  const del = api.delete.bind(api)
  api.add = async (stream, cfg, opts) => {
    if (isClosed()) throw new Error('this view was closed; no new consumers')
    const c = { ...cfg }
    if (!c.durable_name) c.inactive_threshold = thresholdNs
    const ci = await add(stream, c, opts)
    const name = ci?.name ?? c.name
    if (name && !c.durable_name) {
      live.set(key(stream, name), { stream, name })
      if (isClosed()) {
        live.delete(key(stream, name))
        del(stream, name).catch(() => {})
      }
    }
    return ci
  }
  api.delete = (stream, name) => {
    live.delete(key(stream, name))
    return del(stream, name)
  }
  api.__pocketbusTracked = true
  return api
}

/** Stream and name of the consumer behind a nats.js KV/object iterator, if it has one. */
export function consumerOf(iter) {
  const oc = iter?._data
  const stream = oc?._info?.stream_name ?? oc?.stream
  const name = oc?._info?.name ?? oc?.name
  return stream && name ? { stream, name } : null
}

/**
 * Builds a scope on a NATS connection. The NATS libraries are imported here
 * (this module is loaded by the data pages only).
 */
export async function createScope(nc, { inactiveMs = INACTIVE_MS } = {}) {
  const [{ jetstream, jetstreamManager }, { nanos }, { Kvm }, { Objm }] = await Promise.all([
    import('@nats-io/jetstream'),
    import('@nats-io/nats-core'),
    import('@nats-io/kv'),
    import('@nats-io/obj'),
  ])
  let closed = false
  let busy = 0
  const live = new Map()
  const iters = new Set()
  const opts = { thresholdNs: nanos(inactiveMs), live, isClosed: () => closed }
  const js = jetstream(nc, { timeout: 5000 })
  trackConsumers(js.consumerAPI, opts)
  let jsmP = null

  const scope = {
    js,
    kvm: new Kvm(js),
    objm: new Objm(js),
    live,
    get closed() {
      return closed
    },
    /** The scope's JetStreamManager (its consumer API is tracked too). */
    jsm() {
      if (!jsmP) {
        jsmP = jetstreamManager(nc, { timeout: 5000 }).then((m) => {
          trackConsumers(m.consumers, opts)
          return m
        })
        jsmP.catch(() => (jsmP = null))
      }
      return jsmP
    },
    /** Keeps an iterator (a watch) until release() or close(). */
    hold(iter) {
      if (closed) {
        scope.release(iter)
        return iter
      }
      iters.add(iter)
      return iter
    },
    /** Stops the iterator and deletes its consumer now (not after the threshold). */
    release(iter) {
      if (!iter) return
      iters.delete(iter)
      const c = consumerOf(iter)
      try {
        iter.stop()
      } catch {
        /* already stopped */
      }
      if (c && live.has(key(c.stream, c.name))) js.consumerAPI.delete(c.stream, c.name).catch(() => {})
    },
    /**
     * Runs fn (anything that creates consumers: a listing, a download, the
     * start of a watch); when nothing else runs, every consumer the scope
     * has that no held iterator uses is deleted (a listing that ended, a
     * download read to its end).
     */
    async run(fn) {
      busy++
      try {
        return await fn()
      } finally {
        if (--busy === 0) scope.sweep()
      }
    },
    /** Runs a one-shot listing (keys, history) and deletes its consumer afterwards. */
    once(makeIter, limit = 10_000) {
      return scope.run(async () => {
        const it = await makeIter()
        const out = []
        try {
          for await (const x of it) {
            out.push(x)
            if (out.length >= limit) break
          }
        } finally {
          scope.release(it)
        }
        return out
      })
    },
    /** Deletes the consumers no held iterator uses (only while nothing runs). */
    sweep() {
      if (busy > 0) return
      const keep = new Set()
      for (const it of iters) {
        const c = consumerOf(it)
        if (c) keep.add(key(c.stream, c.name))
      }
      for (const [k, { stream, name }] of [...live]) {
        if (!keep.has(k)) js.consumerAPI.delete(stream, name).catch(() => {})
      }
    },
    /** Stops every held iterator and deletes every consumer the scope still has (at most ~2 s). */
    async close() {
      if (closed) return
      closed = true
      for (const it of [...iters]) scope.release(it)
      const pending = [...live.values()].map(({ stream, name }) => {
        live.delete(key(stream, name))
        return js.consumerAPI.delete(stream, name).catch(() => {})
      })
      let t
      await Promise.race([Promise.allSettled(pending), new Promise((r) => (t = setTimeout(r, 2000)))])
      clearTimeout(t)
    },
  }
  return scope
}

/**
 * Object infos of a store with the time of their metadata message: a
 * short-lived ephemeral consumer over the metadata subjects (last per
 * object), deleted when read. `scope.jsm()` and `scope.js` do the work.
 */
export async function listObjects(scope, store) {
  const [{ AckPolicy, DeliverPolicy }] = await Promise.all([import('@nats-io/jetstream')])
  const stream = `OBJ_${store}`
  const jsm = await scope.jsm()
  const ci = await jsm.consumers.add(stream, {
    ack_policy: AckPolicy.None,
    deliver_policy: DeliverPolicy.LastPerSubject,
    filter_subject: `$O.${store}.M.>`,
    mem_storage: true,
    num_replicas: 1,
  })
  try {
    const n = ci.num_pending
    if (!n) return []
    const c = await scope.js.consumers.get(stream, ci.name)
    const out = []
    const iter = await c.fetch({ max_messages: n, expires: 5000 })
    for await (const m of iter) {
      let info = null
      try {
        info = m.json()
      } catch {
        /* not an object's metadata */
      }
      if (info) out.push({ info, time: m.time })
      if (m.info.pending === 0) break
    }
    return out
  } finally {
    jsm.consumers.delete(stream, ci.name).catch(() => {})
  }
}
