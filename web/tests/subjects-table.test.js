// The web form's validator agrees with the server's (bus.ValidateSubjects,
// internal/bus/subjects_table_test.go) on every case of one shared table.
import { describe, it, expect } from 'vitest'
import { readFileSync } from 'node:fs'
import { subjectError, parsePermissions } from '../src/lib/subjects.js'

const table = JSON.parse(readFileSync(new URL('../../internal/bus/testdata/permission_subjects.json', import.meta.url), 'utf8'))
const text = (c) => (c.repeat ? c.repeat.repeat(c.times) + (c.suffix ?? '') : c.subject)
const show = (s) => JSON.stringify(s.length > 40 ? `${s.slice(0, 20)}…${s.slice(-10)}` : s)

describe('permission subjects: the shared table (internal/bus/testdata/permission_subjects.json)', () => {
  it('has the cases', () => expect(table.cases.length).toBeGreaterThanOrEqual(50))
  for (const c of table.cases) {
    const s = text(c)
    it(`${show(s)}: pub ${c.pub ? 'valid' : 'invalid'}, sub ${c.sub ? 'valid' : 'invalid'} — ${c.why}`, () => {
      const pub = subjectError(s)
      const sub = subjectError(s, { allowQueue: true })
      expect(pub === '', `pub: ${pub}`).toBe(c.pub)
      expect(sub === '', `sub: ${sub}`).toBe(c.sub)
      if (!c.pub) expect(pub).toMatch(/^[a-z]/) // an error is a sentence the form shows after the subject
    })
  }
  it('the permission boxes give the same verdict for every entry they can hold as typed (no comma, line break or surrounding whitespace)', () => {
    for (const c of table.cases) {
      const s = text(c)
      if (s === '' || /[,\n\r\u2028\u2029]/.test(s) || s.trim() !== s) continue
      const r = parsePermissions({ pub_allow: s, sub_allow: s })
      expect(!r.errors.pub_allow, `pub_allow ${show(s)}`).toBe(c.pub)
      expect(!r.errors.sub_allow, `sub_allow ${show(s)}`).toBe(c.sub)
      if (c.pub) expect(r.value.pub_allow).toEqual([s])
    }
  })
})
