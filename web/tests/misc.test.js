import { describe, it, expect } from 'vitest'
import { expiryFromChoice, credsFileName, defaultJetStream, credentialOptions } from '../src/lib/creds.js'
import { describeError } from '../src/lib/errors.js'
import { showPayload } from '../src/lib/payload.js'

describe('credential helpers', () => {
  const now = Date.parse('2026-11-22T10:00:00.500Z')
  it('turns expiry choices into RFC 3339', () => {
    expect(expiryFromChoice('never', '', now)).toBe('')
    expect(expiryFromChoice('7d', '', now)).toBe('2026-11-29T10:00:00Z')
    expect(expiryFromChoice('custom', '2026-12-01T10:00:00Z', now)).toBe('2026-12-01T10:00:00Z')
    expect(() => expiryFromChoice('custom', '', now)).toThrow(/Pick a date/)
    expect(() => expiryFromChoice('custom', '2020-01-01T00:00:00Z', now)).toThrow(/future/)
  })
  it('makes safe file names', () => {
    expect(credsFileName('My App!', 'orders service')).toBe('my-app-orders-service.creds')
    expect(credsFileName('', '')).toBe('pocketbus.creds')
  })
})

describe('credential options', () => {
  it('JetStream follows "any list given", as on the server', () => {
    expect(defaultJetStream({ pub_allow: [], pub_deny: [], sub_allow: [], sub_deny: [] })).toBe(true) // empty lists are no lists
    expect(defaultJetStream({})).toBe(true)
    expect(defaultJetStream({ sub_deny: ['secret.>'] })).toBe(false)
    expect(defaultJetStream({ pub_allow: ['a'], sub_allow: [] })).toBe(false)
  })
  it('describes what a credential was granted', () => {
    expect(credentialOptions({ jetstream: true, allow_responses: false })).toEqual(['JetStream, KV and Object Store'])
    expect(credentialOptions({ jetstream: false, allow_responses: true })).toEqual(['no JetStream', 'may reply to requests'])
  })
})

describe('describeError', () => {
  it('maps PocketBase field errors to plain words', () => {
    const err = { status: 400, response: { status: 400, message: 'Failed to create record.', data: { email: { code: 'validation_invalid_email', message: 'Invalid value.' }, name: { code: 'validation_length_out_of_range', message: 'The length must be between 1 and 64.' } } } }
    const d = describeError(err)
    expect(d.message).toBe('Please fix the highlighted fields.')
    expect(d.fields.email).toBe('Enter a valid email address.')
    expect(d.fields.name).toBe('The length must be between 1 and 64.')
  })
  it('keeps server messages for route errors', () => {
    expect(describeError({ status: 400, response: { message: 'A personal group cannot be deleted.', data: {} } }).message).toBe('A personal group cannot be deleted.')
    expect(describeError({ status: 0, response: {} }).message).toMatch(/Cannot reach/)
  })
})

describe('showPayload', () => {
  const enc = new TextEncoder()
  it('shows text, pretty JSON and hex', () => {
    expect(showPayload(enc.encode('hello'))).toEqual({ text: 'hello', kind: 'text' })
    expect(showPayload(enc.encode('{"a":1}')).kind).toBe('json')
    expect(showPayload(new Uint8Array([0, 1, 255])).text).toBe('00 01 ff')
    expect(showPayload(new Uint8Array()).kind).toBe('empty')
  })
})
