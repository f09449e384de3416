import { jetstreamManager } from '@nats-io/jetstream'
import { Kvm } from '@nats-io/kv'
import { Objm } from '@nats-io/obj'

const cache = new WeakMap()
function memo(nc, key, make) {
  let m = cache.get(nc)
  if (!m) cache.set(nc, (m = {}))
  if (!m[key]) m[key] = make().catch((e) => { delete m[key]; throw e })
  return m[key]
}

export const getJsm = (nc) => memo(nc, 'jsm', () => jetstreamManager(nc, { timeout: 5000 }))
export const getKvm = (nc) => memo(nc, 'kvm', async () => new Kvm(nc))
export const getObjm = (nc) => memo(nc, 'objm', async () => new Objm(nc))

export async function collect(iter, limit = 10_000) {
  const out = []
  for await (const x of iter) {
    out.push(x)
    if (out.length >= limit) break
  }
  return out
}

/** Friendly text for a JetStream error. */
export function jsError(err) {
  const m = err?.message || String(err)
  if (/jetstream not enabled|503|no responders/i.test(m)) return 'JetStream is not available for this project (no JetStream limits, or the server is starting).'
  if (/insufficient resources|maximum number of streams|resource limits/i.test(m)) return `Over this project's limits: ${m}`
  return m
}
