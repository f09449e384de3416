import { describe, it, expect } from 'vitest'
import { describeEvent } from '../src/lib/events.js'
import { membersFromRows, memberName, namesById, activeInvites, inviteUses, removalFacts } from '../src/lib/members.js'

const names = new Map([['u1', 'Ada'], ['u2', 'Bob']])
const projects = new Map([['p1', 'Orders']])
const ctx = { names, projects, gid: 'g1' }
const say = (ev) => describeEvent(ev, ctx)

describe('describeEvent', () => {
  it('names the actor from the members, else a former member, a superuser or the server', () => {
    expect(say({ action: 'project.created', actor: 'u1', project: 'p1', data: { name: 'Orders' } })).toEqual({ text: 'Ada created project “Orders”', href: '/g/g1/p/p1' })
    expect(say({ action: 'project.disabled', actor: 'gone', project: 'p1', data: {} }).text).toBe('A former member disabled project “Orders”')
    expect(say({ action: 'group.limits_changed', actor: '', data: { by: 'superuser', max_projects: { from: 10, to: 20 } } }).text).toBe('A superuser changed the group’s limits (max_projects 10 → 20)')
    expect(say({ action: 'credential.revoked', actor: '', project: 'p1', data: { by: 'server', name: 'c' } }).text).toBe('The server revoked credential “c” in “Orders”')
  })
  it('membership sentences', () => {
    expect(say({ action: 'member.joined', actor: 'u2', target: 'u2', data: { invite: 'i1', invited_by: 'u1' } }).text).toBe('Bob joined (invited by Ada)')
    expect(say({ action: 'member.removed', actor: 'u1', target: 'u9', data: { credentials_revoked: 2, kept_credentials: false } }).text).toBe('Ada removed a former member and revoked their 2 credentials')
    expect(say({ action: 'member.removed', actor: 'u1', target: 'u9', data: { credentials_revoked: 0, kept_credentials: true } }).text).toBe('Ada removed a former member and kept their credentials')
    expect(say({ action: 'member.left', actor: 'u9', target: 'u9', data: { credentials_revoked: 1 } }).text).toBe('A former member left the group; 1 credential revoked')
    expect(say({ action: 'member.left', actor: '', target: 'u9', data: { reason: 'account deleted', by: 'server' } }).text).toBe('A former member left (account deleted)')
    expect(say({ action: 'group.owner_transferred', actor: 'u1', target: 'u2', data: { owner: { from: 'u1', to: 'u2' } } }).text).toBe('Ada transferred ownership to Bob')
    expect(say({ action: 'group.owner_transferred', actor: '', target: 'u2', data: { by: 'superuser', owner: { from: 'u1', to: 'u2' } } }).text).toBe('A superuser transferred ownership from Ada to Bob')
    expect(say({ action: 'group.created', actor: '', data: { by: 'server', name: 'Ada Lovelace', personal: true } }).text).toBe('Personal group created')
    expect(say({ action: 'group.created', actor: 'u1', data: { name: 'Team', personal: false } }).text).toBe('Ada created the group “Team”')
  })
  it('credentials and projects, with links only to what still exists', () => {
    expect(say({ action: 'credential.issued', actor: 'u2', project: 'p1', data: { name: 'svc' } })).toEqual({ text: 'Bob issued credential “svc” for “Orders”', href: '/g/g1/p/p1/credentials' })
    expect(say({ action: 'credential.revoked', actor: 'u1', project: 'p1', data: { name: 'svc', reason: 'member removed' } }).text).toBe('Ada revoked credential “svc” in “Orders” (member removed)')
    expect(say({ action: 'project.deleted', actor: 'u1', project: 'p7', data: { name: 'Old' } })).toEqual({ text: 'Ada deleted project “Old”', href: undefined })
    expect(say({ action: 'credential.issued', actor: 'u1', project: 'p7', data: { name: 'x' } }).text).toBe('Ada issued credential “x” for a deleted project')
    expect(say({ action: 'project.updated', actor: 'u1', project: 'p1', data: { name: { from: 'A', to: 'Orders' } } }).text).toBe('Ada renamed project “A” to “Orders”')
    expect(say({ action: 'project.limits_changed', actor: '', project: 'p1', data: { by: 'superuser', max_connections: { from: 100, to: -1 } } }).text).toBe('A superuser changed the limits of project “Orders” (max_connections 100 → unlimited)')
    expect(say({ action: 'group.renamed', actor: 'u1', data: { name: { from: 'a', to: 'b' } } }).text).toBe('Ada renamed the group from “a” to “b”')
    expect(say({ action: 'invite.created', actor: 'u1', data: { max_uses: 1 } }).text).toBe('Ada created an invite link (1 use)')
    expect(say({ action: 'something.new', actor: 'u1', data: {} }).text).toBe('Ada: something.new')
    expect(say({ action: 'project.disabled', actor: 'u1', project: 'p1', data: {} }).text).toBe('Ada disabled project “Orders”')
    expect(say({ action: 'project.enabled', actor: 'u2', project: 'p1', data: {} }).text).toBe('Bob enabled project “Orders”')
    expect(say({ action: 'project.rotated', actor: 'u1', project: 'p1', data: {} }).text).toBe('Ada rotated the keys of project “Orders”: every credential and web token issued before was revoked')
    expect(say({ action: 'export.created', actor: 'u1', project: 'p1', data: { subject: 'orders.>', type: 'stream', to: 'p1' } }).text).toBe('Ada shared “orders.>” of “Orders” with “Orders” (stream)')
    expect(say({ action: 'export.deleted', actor: 'u1', project: 'p1', data: { subject: 'x', type: 'service', to: 'gone' } }).text).toBe('Ada stopped sharing “x” of “Orders” with a deleted project')
  })
})

describe('members', () => {
  it('come from memberships rows, by name, never with an email', () => {
    const rows = [
      { id: 'm2', user: 'u2', created: '2', expand: { user: { id: 'u2', name: 'bob', email: 'x@y' } } },
      { id: 'm1', user: 'u1', created: '1', expand: { user: { id: 'u1', name: 'Ada' } } },
      { id: 'm3', user: 'u3', created: '3' },
    ]
    const m = membersFromRows(rows)
    expect(m.map((x) => x.id)).toEqual(['u1', 'u2', 'u3'])
    expect(m[0]).toEqual({ id: 'u1', name: 'Ada', avatar: '', membership: 'm1', joined: '1' })
    expect(JSON.stringify(m)).not.toContain('x@y')
    expect(memberName(m[2])).toBe('Unnamed member')
    expect(namesById(m).get('u2')).toBe('bob')
  })
  it('lists only invites that still work', () => {
    const now = Date.parse('2026-01-10T00:00:00Z')
    const inv = [
      { id: 'a', expires: '2026-01-11 00:00:00.000Z', uses: 0, max_uses: 1, created: '1' },
      { id: 'b', expires: '2026-01-09 00:00:00.000Z', uses: 0, max_uses: 1, created: '2' },
      { id: 'c', expires: '2026-01-11 00:00:00.000Z', uses: 5, max_uses: 5, created: '3' },
      { id: 'd', expires: '2026-02-01 00:00:00.000Z', uses: 1, max_uses: 5, created: '4' },
    ]
    expect(activeInvites(inv, now).map((i) => i.id)).toEqual(['d', 'a'])
    expect(inviteUses(inv[3])).toBe('1 of 5 uses')
    expect(inviteUses(inv[0])).toBe('0 of 1 use')
  })
  it('says what a removal does', () => {
    expect(removalFacts({ self: false, name: 'Bob', count: 2, keep: false })[2]).toBe('The 2 credentials they created in this group’s projects are revoked: clients using them are disconnected and refused.')
    expect(removalFacts({ self: false, name: 'Bob', count: 1, keep: true })[2]).toBe('The 1 credential they created in this group’s projects keeps working and stays in the projects’ credential lists.')
    expect(removalFacts({ self: true, count: 0 })).toEqual([
      'You lose access to this group and its projects.',
      'Your browser sessions on the group’s projects are disconnected within a second.',
      'You created no credentials in this group’s projects that are still active.',
    ])
    expect(removalFacts({ self: false, name: 'Bob', count: null })[0]).toBe('Bob loses access to this group and its projects.')
  })
})
