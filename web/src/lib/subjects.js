// Parsing and validation of NATS subject lists for the permission editor
// (unit-tested in tests/subjects.test.js).

// The server's rules (internal/bus/subjects.go: jwt/v2's permission check and
// nats-server's subject validity, plus its own), case for case: both sides
// are tested against internal/bus/testdata/permission_subjects.json.
const MAX_SUBJECT_BYTES = 512
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/ // Go's unicode.IsControl
const utf8 = new TextEncoder()

/**
 * Validates one permission subject. Returns an error text or ''.
 * A subject is dot-separated non-empty tokens; `*` and `>` only as whole
 * tokens, `>` only last; at most 512 bytes; no control characters. In
 * subscribe lists (allowQueue) one ASCII space may add a queue group, which
 * follows the same rules ("jobs.> workers"). Other spaces, such as a
 * no-break space, are ordinary characters to NATS, as on the server.
 */
export function subjectError(s, { allowQueue = false } = {}) {
  if (typeof s !== 'string' || s.length === 0) return 'is empty'
  if (s.isWellFormed?.() === false) return 'is not valid text' // a lone surrogate
  if (utf8.encode(s).length > MAX_SUBJECT_BYTES) return `is longer than ${MAX_SUBJECT_BYTES} bytes`
  if (CONTROL.test(s)) return 'contains a tab, a line break or another control character'
  const parts = s.split(' ')
  if (parts.length > 2) return 'has spaces (use one subject per line; a queue group follows its subject after one space)'
  if (parts.length === 2) {
    if (!allowQueue) return 'has spaces: a queue group ("subject queue") is allowed in subscribe lists only'
    if (parts[0] === '' || parts[1] === '') return 'has spaces at the start or end'
  }
  const err = tokensError(parts[0])
  if (err) return err
  if (parts.length === 2) {
    const q = tokensError(parts[1])
    if (q) return `has an invalid queue group: the group ${q}`
  }
  return ''
}

function tokensError(x) {
  const tokens = x.split('.')
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]
    if (t === '') return 'has an empty token (two dots, or a leading/trailing dot)'
    if (t === '>' && i !== tokens.length - 1) return 'uses ">" before the last token'
    if (t.length > 1 && /[*>]/.test(t)) return 'uses a wildcard inside a token (wildcards must be a whole token)'
  }
  return ''
}

/**
 * Parses user text (one subject per line, or comma separated) into a
 * de-duplicated list. Returns { subjects, errors } where errors is a list of
 * plain-language messages.
 */
export function parseSubjectList(text, opts = {}) {
  const subjects = []
  const errors = []
  const seen = new Set()
  for (const raw of String(text ?? '').split(/[\n,]/)) {
    const s = raw.trim()
    if (!s) continue
    const err = subjectError(s, opts)
    if (err) {
      errors.push(`"${s}" ${err}`)
      continue
    }
    if (!seen.has(s)) {
      seen.add(s)
      subjects.push(s)
    }
  }
  return { subjects, errors }
}

/** Parses the four permission boxes; returns { value, errors:{field:msg} }. */
export function parsePermissions(p) {
  const value = {}
  const errors = {}
  for (const k of ['pub_allow', 'pub_deny', 'sub_allow', 'sub_deny']) {
    const r = parseSubjectList(p?.[k] ?? '', { allowQueue: k.startsWith('sub') })
    if (r.errors.length) errors[k] = r.errors.join('; ')
    value[k] = r.subjects
  }
  return { value, errors }
}

/** Does a concrete subject match a pattern with * and > wildcards? */
export function subjectMatches(pattern, subject) {
  const p = pattern.split('.')
  const s = subject.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i
    if (i >= s.length) return false
    if (p[i] !== '*' && p[i] !== s[i]) return false
  }
  return p.length === s.length
}

/** Human summary of a permission set, e.g. "pub: orders.>; sub: all". */
export function summarizePermissions(c) {
  const part = (allow, deny) => {
    let out = allow?.length ? allow.join(', ') : 'all'
    if (deny?.length) out += ` except ${deny.join(', ')}`
    return out
  }
  return `pub ${part(c.pub_allow, c.pub_deny)} · sub ${part(c.sub_allow, c.sub_deny)}`
}

/** Parses "Key: value" lines into [key, value] pairs; returns { headers, errors }. */
export function parseHeaders(text) {
  const headers = []
  const errors = []
  for (const raw of String(text ?? '').split('\n')) {
    const line = raw.trim()
    if (!line) continue
    const i = line.indexOf(':')
    if (i <= 0) {
      errors.push(`"${line}" is not "Name: value"`)
      continue
    }
    const k = line.slice(0, i).trim()
    if (!/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(k)) {
      errors.push(`"${k}" is not a valid header name`)
      continue
    }
    headers.push([k, line.slice(i + 1).trim()])
  }
  return { headers, errors }
}
