// Connecting to a real Pocketbus server from Node 20 without flags: web
// token over WebSocket at <url>/nats, an issued credential over TCP, both in
// one process, KV, and the connection's state.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Pocketbus } from '@pocketbus/client'
import { startServer, sleep, waitFor, event } from './harness.js'

let srv, ada, pbus, project
before(async () => {
  srv = await startServer()
  ada = await srv.user('ada')
  pbus = new Pocketbus(srv.url)
  await pbus.pb.collection('users').authWithPassword(ada.email, ada.password)
  project = await pbus.pb.collection('projects').create({ name: 'connect', group: ada.record.mygroup })
})
after(async () => {
  await pbus?.close()
  await srv?.stop()
})

const te = new TextEncoder()
const next = (sub, ms = 3000) => Promise.race([(async () => { for await (const m of sub) return m })(), sleep(ms).then(() => null)])

test('Node has no global WebSocket here unless Node ≥ 22: the SDK does not need one', () => {
  const major = Number(process.versions.node.split('.')[0])
  if (major < 22) assert.equal(typeof globalThis.WebSocket, 'undefined', 'run without --experimental-websocket')
  assert.deepEqual(process.execArgv.filter((a) => /websocket/i.test(a)), [])
})

test('connect(projectId): web token over WebSocket at <url>/nats', async () => {
  const nc = await pbus.connect(project.id)
  const c = pbus.connection(project.id)
  assert.equal(typeof c.on, 'function')
  assert.equal(c.kind, 'token')
  assert.equal(c.status, 'connected')
  assert.equal(c.renewals, 1)
  // the token lives ≤ 1 h and the connection went through the HTTP port's /nats proxy
  assert.ok(c.expires > Date.now() + 50 * 60_000 && c.expires <= Date.now() + 60 * 60_000 + 1000, `expires ${new Date(c.expires).toISOString()}`)
  assert.equal(nc.getServer(), new URL(srv.url).host)
  assert.equal(await pbus.connect(project.id), nc, 'a second connect returns the same connection')

  const sub = nc.subscribe('hello.>')
  await nc.flush()
  nc.publish('hello.ws', te.encode('over websocket'))
  assert.equal((await next(sub))?.string(), 'over websocket')
  sub.unsubscribe()
})

test('kv(projectId, bucket): creates or opens a bucket on that connection; bindOnly opens only', async () => {
  const kv = await pbus.kv(project.id, 'config')
  await kv.put('color', 'blue')
  assert.equal((await kv.get('color'))?.string(), 'blue')
  const again = await pbus.kv(project.id, 'config', { bindOnly: true })
  assert.equal((await again.get('color'))?.string(), 'blue')
  const missing = await pbus.kv(project.id, 'nope', { bindOnly: true })
  await assert.rejects(() => missing.get('x'), /stream not found|not found/i)
})

test('connect(projectId, {creds}): TCP with an issued credential, next to a WebSocket connection in one process', async () => {
  const cred = await pbus.issue(project.id, { name: 'tcp client' })
  const other = new Pocketbus(srv.url)
  try {
    const tcp = await other.connect(project.id, { creds: cred.creds })
    assert.equal(other.connection(project.id).kind, 'creds')
    assert.equal(tcp.getServer(), new URL(srv.info.nats.url).host, 'TCP to the advertised NATS URL')
    const ws = await pbus.connect(project.id)

    // nats.js has one transport factory per process: after the TCP connect,
    // a reconnect of the WebSocket connection must still dial WebSocket.
    const c = pbus.connection(project.id)
    let back = event(c, 'reconnected')
    await c.renew()
    await back
    assert.equal(ws.getServer(), new URL(srv.url).host)
    // and the TCP one reconnects over TCP
    back = event(other.connection(project.id), 'reconnected')
    await tcp.reconnect()
    await back
    assert.equal(tcp.getServer(), new URL(srv.info.nats.url).host)

    const sub = ws.subscribe('mixed.*')
    await ws.flush()
    tcp.publish('mixed.tcp', te.encode('from tcp'))
    assert.equal((await next(sub))?.string(), 'from tcp')
    const sub2 = tcp.subscribe('mixed2.*')
    await tcp.flush()
    ws.publish('mixed2.ws', te.encode('from ws'))
    assert.equal((await next(sub2))?.string(), 'from ws')
    sub.unsubscribe()
  } finally {
    await other.close()
  }
})

test('one connection per project: a different credential for a connected project is refused', async () => {
  await pbus.connect(project.id)
  const cred = await pbus.issue(project.id, { name: 'second' })
  await assert.rejects(() => pbus.connect(project.id, { creds: cred.creds }), /already connected .* web token; disconnect/)
})

test('disconnect(projectId) closes that connection; connect opens a new one', async () => {
  const nc = await pbus.connect(project.id)
  await pbus.disconnect(project.id)
  assert.ok(nc.isClosed())
  assert.equal(pbus.connection(project.id), undefined)
  const nc2 = await pbus.connect(project.id)
  assert.notEqual(nc2, nc)
  assert.equal(pbus.connection(project.id).status, 'connected')
})

test('a project one is not a member of: connect rejects with the route error, nothing left open', async () => {
  const bob = await srv.user('bob')
  const b = new Pocketbus(srv.url)
  try {
    await b.pb.collection('users').authWithPassword(bob.email, bob.password)
    const err = await b.connect(project.id).then(() => null, (e) => e)
    assert.ok(err, 'connect should fail')
    assert.ok([403, 404].includes(err.status), `status ${err.status}`)
    assert.equal(b.connection(project.id), undefined)
  } finally {
    await b.close()
  }
})

test('a disabled project: the connection waits and comes back by itself when it is enabled', async () => {
  const p = await pbus.pb.collection('projects').create({ name: 'toggle', group: ada.record.mygroup })
  const nc = await pbus.connect(p.id)
  const c = pbus.connection(p.id)
  await pbus.pb.collection('projects').update(p.id, { disabled: true })
  await waitFor(() => c.status !== 'connected', { what: 'disconnected by disable' })
  await sleep(1500)
  assert.notEqual(c.status, 'closed', 'a disabled project is not an auth failure')
  const t0 = Date.now()
  await pbus.pb.collection('projects').update(p.id, { disabled: false })
  await waitFor(() => c.status === 'connected', { what: 'reconnected after enable', timeout: 10_000 })
  const back = Date.now() - t0
  assert.ok(back < 4000, `back after ${back} ms (nats.js alone waits its 20 s connect timeout)`)
  await nc.flush()
  await pbus.disconnect(p.id)
})
