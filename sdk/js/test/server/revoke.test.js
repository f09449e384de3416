// Revocation ends a connection at once on the client too: no reconnect
// storm, no nats.js reconnectTimeWait (2 s by default) before it gives up.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Pocketbus } from '@pocketbus/client'
import { startServer, waitFor } from './harness.js'

let srv, ada, owner, group, project
before(async () => {
  srv = await startServer()
  ada = await srv.user('ada')
  owner = new Pocketbus(srv.url)
  await owner.pb.collection('users').authWithPassword(ada.email, ada.password)
  group = await owner.pb.collection('groups').create({ name: 'revoke team' })
  project = await owner.pb.collection('projects').create({ name: 'revoke', group: group.id })
})
after(async () => {
  await owner?.close()
  await srv?.stop()
})

/** Watches a connection: its events and when it closed. */
function watch(client, pid) {
  const c = client.connection(pid)
  const events = []
  c.on((_c, e) => events.push(e.type === 'status' ? e.status : e.type))
  return { c, events, closedAt: c.closed().then((err) => ({ at: Date.now(), err })) }
}

test('a revoked credential: the connection closes at once with the reason, without reconnecting', async () => {
  const cred = await owner.issue(project.id, { name: 'to revoke' })
  const client = new Pocketbus(srv.url)
  try {
    await client.connect(project.id, { creds: cred.creds })
    const w = watch(client, project.id)
    const t0 = Date.now()
    await owner.revoke(cred.id)
    const { at, err } = await w.closedAt
    const ms = at - t0
    assert.match(err?.message ?? '', /authentication revoked/i)
    assert.ok(ms < 1000, `closed ${ms} ms after the revoke call returned`)
    assert.ok(!w.events.includes('reconnecting'), `events: ${w.events}`)
    assert.equal(w.c.status, 'closed')
    assert.equal(client.connection(project.id), undefined)
    console.log(`# revoked credential: client closed ${ms} ms after the revoke call`)
    // and it cannot connect again
    await assert.rejects(() => client.connect(project.id, { creds: cred.creds }), /authorization violation/i)
  } finally {
    await client.close()
  }
})

test('a member removed from the group: their web-token connection closes (the fresh token is refused)', async () => {
  const bob = await srv.user('bob')
  const invite = await owner.invites.create(group.id, {})
  const b = new Pocketbus(srv.url)
  try {
    await b.pb.collection('users').authWithPassword(bob.email, bob.password)
    await b.invites.accept(invite.token)
    await b.connect(project.id)
    const w = watch(b, project.id)
    const t0 = Date.now()
    await owner.groups.removeMember(group.id, bob.id)
    const { at, err } = await w.closedAt
    const ms = at - t0
    assert.ok(ms < 1000, `closed ${ms} ms after the removal returned`)
    assert.ok([403, 404].includes(err?.status), `closed with ${err?.status} ${err?.message}`)
    assert.equal(w.c.status, 'closed')
    console.log(`# removed member: web-token connection closed ${ms} ms after the removal`)
  } finally {
    await b.close()
  }
})

test('rotate: credentials issued before are refused at once; web-token connections carry on with a fresh token', async () => {
  const cred = await owner.issue(project.id, { name: 'before rotate' })
  const client = new Pocketbus(srv.url)
  const web = new Pocketbus(srv.url, { pb: owner.pb })
  try {
    await client.connect(project.id, { creds: cred.creds })
    const nc = await web.connect(project.id)
    const wc = watch(client, project.id)
    const ww = watch(web, project.id)
    const t0 = Date.now()
    const r = await owner.rotate(project.id)
    assert.ok(r.revoked_before, JSON.stringify(r))
    const { at, err } = await wc.closedAt
    assert.match(err?.message ?? '', /authentication revoked/i)
    assert.ok(at - t0 < 1000, `credential connection closed after ${at - t0} ms`)
    // the web connection takes a fresh token and stays; a new credential works
    await waitFor(() => ww.c.status === 'connected' && ww.c.renewals >= 2, { what: `web connection back with a fresh token (events: ${ww.events})`, timeout: 5000 })
    assert.ok(!ww.events.includes('closed'), `web events: ${ww.events}`)
    const fresh = await owner.issue(project.id, { name: 'after rotate' })
    const after = new Pocketbus(srv.url)
    try {
      const nc2 = await after.connect(project.id, { creds: fresh.creds })
      const got = []
      nc.subscribe('rotated.*', { callback: (_e, m) => got.push(m.string()) })
      await nc.flush()
      nc2.publish('rotated.x', new TextEncoder().encode('new credential'))
      await waitFor(() => got.includes('new credential'), { what: 'a message from a credential issued after the rotation' })
    } finally {
      await after.close()
    }
    // the old credential is refused
    await assert.rejects(() => new Pocketbus(srv.url).connect(project.id, { creds: cred.creds }), /authorization violation/i)
  } finally {
    await client.close()
    await web.close()
  }
})
