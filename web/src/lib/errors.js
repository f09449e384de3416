// Turns PocketBase / NATS errors into plain words (unit-tested).

const CODES = {
  validation_required: 'This field is required.',
  validation_invalid_email: 'Enter a valid email address.',
  validation_not_unique: 'This value is already taken.',
  validation_values_mismatch: 'The values do not match.',
  validation_length_out_of_range: 'The length is out of range.',
  validation_min_text_constraint: 'This is too short.',
  validation_max_text_constraint: 'This is too long.',
  validation_invalid_value: 'This value is not valid.',
  validation_missing_rel_records: 'The linked record does not exist.',
}

/** Returns { message, fields: {name: text} } for any thrown error. */
export function describeError(err) {
  if (!err) return { message: '', fields: {} }
  const body = err.response ?? err.data ?? {}
  const fields = {}
  const codes = {}
  const data = body?.data && typeof body.data === 'object' ? body.data : {}
  for (const [k, v] of Object.entries(data)) {
    if (v && typeof v === 'object' && (v.message || v.code)) {
      fields[k] = plainField(v)
      if (v.code) codes[k] = v.code
    } else if (typeof v === 'string') {
      fields[k] = v
    }
  }
  let message = body?.message || err.message || String(err)
  const status = err.status ?? body?.status
  if (err.isAbort) message = 'The request was cancelled.'
  else if (status === 0) message = 'Cannot reach the server. Check your connection.'
  else if (status === 401 && !Object.keys(fields).length) message = message || 'Please sign in again.'
  else if (status === 403 && /only superusers/i.test(message)) message = 'You are not allowed to do that.'
  else if (status === 404 && /wasn't found|not found/i.test(message)) message = message.replace(/^The requested resource wasn't found\.?$/, 'Not found — it may have been deleted, or you are not a member.')
  if (Object.keys(fields).length && /^Failed to (create|update) record\.?$|^Something went wrong/i.test(message)) {
    message = 'Please fix the highlighted fields.'
  }
  return { message, fields, codes, status }
}

function plainField(v) {
  if (v.message && !/^Invalid value\.?$/i.test(v.message)) return ensureDot(v.message)
  return CODES[v.code] ?? ensureDot(v.message || 'Invalid value.')
}

function ensureDot(s) {
  s = String(s).trim()
  s = s.charAt(0).toUpperCase() + s.slice(1)
  return /[.!?]$/.test(s) ? s : s + '.'
}
