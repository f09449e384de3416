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
