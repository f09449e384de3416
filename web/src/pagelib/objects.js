// Object store helpers (unit-tested in tests/pagelib.test.js).

/**
 * When an object was stored: its `mtime` when that is a real date, else the
 * time of its metadata message. The Go client (and so the nats CLI) writes
 * mtime as Go's zero time, "0001-01-01T00:00:00Z", and reads the date from
 * the message instead; so do we.
 */
export function objectTime(info, messageTime) {
  const t = Date.parse(info?.mtime ?? '')
  if (Number.isFinite(t) && t > 0) return new Date(t)
  const m = messageTime instanceof Date ? messageTime.getTime() : Date.parse(messageTime ?? '')
  return Number.isFinite(m) && m > 0 ? new Date(m) : null
}

/** Live objects (not deleted), by name. */
export function liveObjects(entries) {
  return entries
    .filter((e) => e.info && !e.info.deleted)
    .map((e) => ({ ...e.info, time: objectTime(e.info, e.time) }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** The file a drop or a file input carries (the first one), or null. */
export function firstFile(list) {
  return list && list.length ? list[0] : null
}
