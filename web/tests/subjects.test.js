import { describe, it, expect } from 'vitest'
import { subjectError, parseSubjectList, parsePermissions, subjectMatches, summarizePermissions, parseHeaders } from '../src/lib/subjects.js'

describe('subjectError', () => {
  it('accepts valid subjects and wildcards', () => {
    for (const s of ['foo', 'foo.bar', 'foo.*', 'foo.>', '>', '*.bar.*', '_INBOX.>', '$KV.cfg.>']) expect(subjectError(s)).toBe('')
  })
  it('rejects bad subjects with a reason', () => {
    expect(subjectError('')).toMatch(/empty/)
    expect(subjectError('foo..bar')).toMatch(/empty token/)
    expect(subjectError('.foo')).toMatch(/empty token/)
    expect(subjectError('foo.')).toMatch(/empty token/)
    expect(subjectError('foo.>.bar')).toMatch(/before the last/)
    expect(subjectError('foo*')).toMatch(/whole token/)
    expect(subjectError('fo>o.bar')).toMatch(/whole token/)
    expect(subjectError('foo bar')).toMatch(/spaces/)
  })
  it('allows a queue group in subscribe permissions only', () => {
    expect(subjectError('jobs.* workers', { allowQueue: true })).toBe('')
    expect(subjectError('jobs.* workers')).toMatch(/spaces/)
    expect(subjectError('jobs.* a b', { allowQueue: true })).toMatch(/spaces/)
  })
})

describe('parseSubjectList', () => {
  it('splits lines and commas, trims, dedupes', () => {
    const r = parseSubjectList(' orders.> \n\nupdates.*, orders.>,\n  metrics ')
    expect(r.subjects).toEqual(['orders.>', 'updates.*', 'metrics'])
    expect(r.errors).toEqual([])
  })
  it('reports every invalid entry', () => {
    const r = parseSubjectList('ok.one\nbad..two\nthree*')
    expect(r.subjects).toEqual(['ok.one'])
    expect(r.errors).toHaveLength(2)
    expect(r.errors[0]).toContain('"bad..two"')
  })
  it('returns an empty list for empty input', () => {
    expect(parseSubjectList('')).toEqual({ subjects: [], errors: [] })
    expect(parseSubjectList(undefined)).toEqual({ subjects: [], errors: [] })
  })
})

describe('parsePermissions', () => {
  it('parses all four boxes and names the broken one', () => {
    const r = parsePermissions({ pub_allow: 'a.>', pub_deny: '', sub_allow: 'b.* q', sub_deny: 'c..d' })
    expect(r.value).toEqual({ pub_allow: ['a.>'], pub_deny: [], sub_allow: ['b.* q'], sub_deny: [] })
    expect(Object.keys(r.errors)).toEqual(['sub_deny'])
  })
  it('rejects queue syntax in publish', () => {
    expect(parsePermissions({ pub_allow: 'a q' }).errors.pub_allow).toMatch(/spaces/)
  })
})

describe('subjectMatches', () => {
  it('matches NATS wildcards', () => {
    expect(subjectMatches('foo.*', 'foo.bar')).toBe(true)
    expect(subjectMatches('foo.*', 'foo.bar.baz')).toBe(false)
    expect(subjectMatches('foo.>', 'foo.bar.baz')).toBe(true)
    expect(subjectMatches('foo.>', 'foo')).toBe(false)
    expect(subjectMatches('>', 'x')).toBe(true)
    expect(subjectMatches('a.b', 'a.b')).toBe(true)
    expect(subjectMatches('a.b', 'a.c')).toBe(false)
  })
})

describe('summaries and headers', () => {
  it('summarizes permissions', () => {
    expect(summarizePermissions({ pub_allow: [], sub_allow: [] })).toBe('pub all · sub all')
    expect(summarizePermissions({ pub_allow: ['a.>'], pub_deny: ['a.x'], sub_allow: [] })).toBe('pub a.> except a.x · sub all')
  })
  it('parses headers', () => {
    expect(parseHeaders('X-Id: 1\n\nContent-Type: text/plain; x=1')).toEqual({ headers: [['X-Id', '1'], ['Content-Type', 'text/plain; x=1']], errors: [] })
    expect(parseHeaders('nocolon').errors).toHaveLength(1)
    expect(parseHeaders('bad name: 1').errors).toHaveLength(1)
  })
})
