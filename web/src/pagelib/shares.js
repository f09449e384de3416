// Sharing subjects between projects of a group: the `exports` rows as the
// project page shows them (unit-tested in tests/pagelib.test.js).
import { describeError } from '../lib/errors.js'

/** Rows (expanded project/to) split into what this project shares and what it receives. */
export function splitShares(rows, pid) {
  const out = { outgoing: [], incoming: [] }
  for (const r of rows ?? []) {
    if (r.project === pid) out.outgoing.push(r)
    else if (r.to === pid) out.incoming.push(r)
  }
  const by = (a, b) => a.subject.localeCompare(b.subject) || a.type.localeCompare(b.type)
  out.outgoing.sort(by)
  out.incoming.sort(by)
  return out
}

/** One sentence on what a share does. */
export function shareSentence({ type, subject, from, to }) {
  if (type === 'service') return `Clients in “${to}” send requests on ${subject}; clients in “${from}” answer them.`
  return `Messages published on ${subject} in “${from}” are delivered to subscribers of ${subject} in “${to}”.`
}

/** A refusal of the exports routes in plain words: {message, fields}. */
export function shareError(err) {
  const d = describeError(err)
  if (d.status === 404) return { message: 'That project is not in this group any more (it may have been deleted). Choose another project of this group.', fields: {}, status: 404 }
  if (d.status === 403) return { message: 'Only the group owner can share subjects or end a share.', fields: {}, status: 403 }
  if (d.status === 400 && d.fields?.subject) return { message: '', fields: { subject: `The server refused this subject: ${lowerFirst(d.fields.subject)}` }, status: 400 }
  return d
}

const lowerFirst = (s) => s.charAt(0).toLowerCase() + s.slice(1)
