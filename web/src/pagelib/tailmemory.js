// What a project's live tail showed, kept while its view is gone (unit-
// tested): the shell may close the NATS connection while a project is
// disabled and open a new one when it is enabled, which mounts a new tail.
// The new one carries on with the earlier messages and marks the gap.

const memory = new Map()

/** Saves the tail of a project: its rows, count, filter and since when it was not live (or null). */
export function keepTail(pid, { msgs, count, active, seq, lostAt }) {
  if (!pid) return
  memory.set(pid, { msgs, count, active, seq, lostAt })
}

/** The saved tail of a project (once), or null. */
export function takeTail(pid) {
  const m = memory.get(pid) ?? null
  memory.delete(pid)
  return m
}

/** Forgets every saved tail (sign-out, tests). */
export function forgetTails() {
  memory.clear()
}
