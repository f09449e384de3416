// ProjectConnection's decisions with a fake NATS connection: retries of the
// first connect, which server errors end a connection, and that one fresh
// token decides after a revocation. (The real-server tests cover the same
// paths end to end where a server can produce them.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createUser } from '@nats-io/nkeys'
import { Pocketbus } from '@pocketbus/client'

const seed = new TextDecoder().decode(createUser().getSeed())
const token = (n) => ({ jwt: `jwt-${n}`, seed, expires: new Date(Date.now() + 3600_000).toISOString(), ws_url: '' })
const httpError = (status) => Object.assign(new Error(`HTTP ${status}`), { status })

/** A NatsConnection stand-in: push(status) feeds nc.status(); dial() signs with the authenticator. */
function fakeNc(opts) {
  const queue = []
  let wake = null
  let closed = false
  let resolveClosed
  const closedP = new Promise((r) => (resolveClosed = r))
  const nc = {
    opts,
    protocol: {
      connected: true,
      connectError: null,
      close: async (err) => nc._close(err),
    },
    getServer: () => '127.0.0.1:1',
    isClosed: () => closed,
    reconnect: async () => {},
    flush: async () => {},
    close: async () => nc._close(undefined),
    closed: () => closedP,
    _close(err) {
      if (closed) return
      closed = true
      nc.push({ type: 'close' })
      resolveClosed(err)
    },
    dial() {
      opts.authenticator(new Uint8Array(8))
    },
    push(s) {
      queue.push(s)
      wake?.()
    },
    status() {
      return {
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (queue.length) {
              const s = queue.shift()
              yield s
              if (s.type === 'close') return
            }
            await new Promise((r) => (wake = r))
          }
        },
      }
    },
  }
  return nc
}

function client({ connect }) {
  const ncs = []
  const platform = {
    name: 'fake',
    tcp: true,
    async connect(kind, opts) {
      const r = await connect(kind, opts)
      if (r instanceof Error) throw r
      const nc = fakeNc(opts)
      nc.dial()
      ncs.push(nc)
      return nc
    },
  }
  const pbus = new Pocketbus('http://127.0.0.1:1', { platform })
  pbus.infoP = Promise.resolve({ nats: { url: 'nats://127.0.0.1:1' } })
  return { pbus, ncs }
}
const tick = () => new Promise((r) => setTimeout(r, 20))

test('retry: the first connect is retried after failures (reported as errors) until it works', async () => {
  const { pbus } = client({ connect: () => null })
  let calls = 0
  const events = []
  const source = async () => {
    if (++calls < 3) throw httpError(0)
    return token(calls)
  }
  const nc = await pbus.connect('p', { retry: true, token: source, onStatus: (_c, e) => events.push(e.type) })
  assert.ok(nc)
  assert.equal(calls, 3)
  assert.deepEqual(events, ['error', 'error', 'connected'])
  await pbus.close()
})

test('retry still gives up on a refusal (403): rejects and closes', async () => {
  const { pbus } = client({ connect: () => null })
  await assert.rejects(() => pbus.connect('p', { retry: true, token: async () => { throw httpError(403) } }), /HTTP 403/)
  assert.equal(pbus.connection('p'), undefined)
})

test('without retry the first failure rejects', async () => {
  const { pbus } = client({ connect: () => new Error('connection refused') })
  await assert.rejects(() => pbus.connect('p', { token: async () => token(1) }), /connection refused/)
  assert.equal(pbus.connection('p'), undefined)
})

test('creds: "Authorization Violation" from the server closes at once with that error', async () => {
  const { pbus, ncs } = client({ connect: () => null })
  await pbus.connect('p', { creds: `-----BEGIN NATS USER JWT-----\nx.y.z\n------END NATS USER JWT------\n-----BEGIN USER NKEY SEED-----\n${seed}\n------END USER NKEY SEED------\n` })
  const c = pbus.connection('p')
  ncs[0].push({ type: 'error', error: new Error('Authorization Violation') })
  const err = await c.closed()
  assert.match(err.message, /authorization violation/i)
  assert.equal(c.status, 'closed')
})

test('token: a revocation fetches one fresh token; when the route refuses it (removed member) the connection closes', async () => {
  const { pbus, ncs } = client({ connect: () => null })
  let n = 0
  await pbus.connect('p', { token: async () => (++n === 1 ? token(1) : Promise.reject(httpError(404))) })
  const c = pbus.connection('p')
  ncs[0].push({ type: 'error', error: new Error('User Authentication Revoked') })
  const err = await c.closed()
  assert.equal(err.status, 404)
  assert.equal(n, 2)
})

test('token: a revocation survived with a fresh token (a rotation); refused again with that fresh token → closed', async () => {
  const { pbus, ncs } = client({ connect: () => null })
  let n = 0
  await pbus.connect('p', { token: async () => token(++n) })
  const c = pbus.connection('p')
  const nc = ncs[0]
  nc.protocol.connected = false
  nc.push({ type: 'error', error: new Error('User Authentication Revoked') })
  nc.push({ type: 'disconnect' })
  await tick()
  assert.equal(n, 2, 'one fresh token')
  assert.notEqual(c.status, 'closed')
  nc.dial() // the reconnect signs with the fresh token
  nc.push({ type: 'reconnect' })
  await tick()
  assert.equal(c.status, 'connected')
  // later revoked again: a new recovery (not terminal at once)
  nc.push({ type: 'error', error: new Error('User Authentication Revoked') })
  await tick()
  assert.equal(n, 3)
  nc.dial() // signs with token 3 …
  nc.push({ type: 'error', error: new Error('Authorization Violation') }) // … which is refused too
  const err = await c.closed()
  assert.match(err.message, /authorization violation/i)
})

test('a refusal that is not about auth (disabled project) fails the pending dial at once and is not terminal', async () => {
  const { pbus, ncs } = client({ connect: () => null })
  await pbus.connect('p', { token: async () => token(1) })
  const c = pbus.connection('p')
  const nc = ncs[0]
  let failed = null
  nc.protocol.connected = false
  nc.protocol.connectError = (e) => (failed = e)
  nc.push({ type: 'disconnect' })
  nc.push({ type: 'reconnecting' })
  nc.push({ type: 'error', error: new Error('maximum account active connections exceeded') })
  await tick()
  assert.match(failed?.message ?? '', /maximum account active connections/)
  assert.equal(c.status, 'reconnecting')
  await pbus.close()
})

test('close() while the first connect is still retrying rejects it and stops', async () => {
  const { pbus } = client({ connect: () => null })
  const p = pbus.connect('p', { retry: true, token: async () => { throw httpError(503) } })
  await tick()
  await pbus.close()
  await assert.rejects(p, /closed before it was ready/)
})

test('close() while the first token fetch is pending: the token that arrives after is not adopted, no renewal timer is left, nothing dials', async () => {
  let dials = 0
  const { pbus } = client({ connect: () => void dials++ })
  let give
  let asked
  const fetching = new Promise((r) => (asked = r))
  const p = pbus.connect('p', { token: () => new Promise((r) => { give = r; asked() }) })
  await fetching
  const c = pbus.connection('p')
  const closing = c.close()
  give(token(1))
  await assert.rejects(p, /closed before it was ready/)
  await closing
  await tick()
  const leaked = c.renewer.timer
  c.renewer.stop() // so that a failure here does not also hold the test process up
  assert.equal(c.status, 'closed')
  assert.equal(leaked, null, 'no renewal timer (it would keep the process up for 55 min)')
  assert.equal(c.token, null, 'the late token is not adopted')
  assert.equal(dials, 0)
})

test('a planned renewal marks the status events of its reconnect {renewal: true}; a disconnect of its own is not marked', async () => {
  const { pbus, ncs } = client({ connect: () => null })
  let n = 0
  const events = []
  await pbus.connect('p', { token: async () => token(++n), onStatus: (_c, e) => events.push(e) })
  const c = pbus.connection('p')
  const nc = ncs[0]
  nc.reconnect = async () => {
    nc.push({ type: 'disconnect' })
    nc.push({ type: 'reconnecting' })
    nc.dial()
    nc.push({ type: 'reconnect' })
  }
  await c.renew()
  assert.equal(n, 2)
  const seen = events.map((e) => `${e.type}:${e.status}${e.renewal ? ' (renewal)' : ''}`)
  assert.deepEqual(seen, ['connected:connected', 'renewed:connected', 'status:disconnected (renewal)', 'status:reconnecting (renewal)', 'reconnected:connected (renewal)'])
  events.length = 0
  nc.push({ type: 'disconnect' })
  nc.push({ type: 'reconnect' })
  await tick()
  assert.deepEqual(events.map((e) => `${e.type}:${e.status}${e.renewal ? ' (renewal)' : ''}`), ['status:disconnected', 'reconnected:connected'])
  await pbus.close()
})
