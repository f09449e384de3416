// Display helpers for message payloads (unit-tested).
const dec = new TextDecoder('utf-8', { fatal: true })

/** Renders bytes as text when they are printable UTF-8, else as hex. */
export function showPayload(data, max = 4096) {
  if (!data || data.length === 0) return { text: '', kind: 'empty' }
  const slice = data.length > max ? data.subarray(0, max) : data
  try {
    const s = dec.decode(slice)
    // eslint-disable-next-line no-control-regex
    if (!/[\u0000-\u0008\u000e-\u001f]/.test(s)) {
      let text = s
      if (data.length <= max) {
        try {
          const j = JSON.parse(s)
          if (j && typeof j === 'object') return { text: JSON.stringify(j, null, 2), kind: 'json' }
        } catch {
          /* not JSON */
        }
      }
      return { text: text + (data.length > max ? `… (${data.length} bytes)` : ''), kind: 'text' }
    }
  } catch {
    /* not UTF-8 */
  }
  const hex = Array.from(slice.subarray(0, 256), (b) => b.toString(16).padStart(2, '0')).join(' ')
  return { text: hex + (data.length > 256 ? ` … (${data.length} bytes)` : ''), kind: 'binary' }
}

/** [[k, v], ...] from a NATS MsgHdrs (or undefined). */
export function headerPairs(h) {
  if (!h) return []
  const out = []
  for (const k of h.keys()) for (const v of h.values(k)) out.push([k, v])
  return out
}
