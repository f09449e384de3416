import { describe, it, expect } from 'vitest'
import { groupLabel, filterGroups, signUpError, ownedGroupInRefusal } from '../src/lib/names.js'
import { describeError } from '../src/lib/errors.js'

describe('group names', () => {
  it('calls the personal group "Personal" (its server name is the owner\'s)', () => {
    expect(groupLabel({ name: 'Alice Able', personal: true })).toBe('Personal')
    expect(groupLabel({ name: 'Acme', personal: false })).toBe('Acme')
    expect(groupLabel(null)).toBe('')
  })
  it('filters the switcher by label or name, accent- and case-insensitive, personal first', () => {
    const gs = [
      { id: 'b', name: 'Zoë Robotics' },
      { id: 'a', name: 'Alice Able', personal: true },
      { id: 'c', name: 'acme' },
    ]
    expect(filterGroups(gs, '').map((g) => g.id)).toEqual(['a', 'c', 'b'])
    expect(filterGroups(gs, 'ZOE').map((g) => g.id)).toEqual(['b'])
    expect(filterGroups(gs, 'pers').map((g) => g.id)).toEqual(['a'])
    expect(filterGroups(gs, 'alice').map((g) => g.id)).toEqual([]) // the person's own name is not a group
    expect(filterGroups(undefined, 'x')).toEqual([])
  })
})

describe('sign-up errors', () => {
  const taken = { status: 400, response: { status: 400, message: 'Failed to create record.', data: { email: { code: 'validation_not_unique', message: 'Value must be unique.' } } } }
  it('turns "Value must be unique." into an account-exists message with links', () => {
    const e = signUpError(describeError(taken))
    expect(e.emailTaken).toBe(true)
    expect(e.fields.email).toBe('An account with this email address already exists.')
    expect(e.message).toBe('')
  })
  it('leaves other errors alone', () => {
    const e = signUpError(describeError({ status: 400, response: { data: { password: { code: 'validation_length_out_of_range', message: 'Must be at least 8 character(s).' } } } }))
    expect(e.emailTaken).toBe(false)
    expect(e.fields.password).toBe('Must be at least 8 character(s).')
  })
})

describe('account delete refusal', () => {
  it('finds the shared group named in the server\'s message', () => {
    expect(ownedGroupInRefusal('This user owns the shared group "Team Alpha"; transfer its ownership or delete it first.')).toBe('Team Alpha')
    expect(ownedGroupInRefusal('Something else.')).toBe('')
  })
})
