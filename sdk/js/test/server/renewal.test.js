// Token renewal against a real server. The server's web tokens live 1 h, so
// two ways make it short here:
//  - a token source ({token}) that issues real credentials expiring in a few
//    seconds through the issue route: the server really expires them, and
//    the connection must outlive several of them;
//  - an injected clock ({now}) 59½ minutes ahead, so real web tokens from
//    the token route look nearly expired and are renewed every second or so.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Pocketbus } from '@pocketbus/client'
import { connect as tcpConnect, jwtAuthenticator } from '@nats-io/transport-node'
import { startServer, sleep, waitFor, event } from './harness.js'

let srv, ada, pbus, project, observer
before(async () => {
  srv = await startServer()
  ada = await srv.user('ada')
  pbus = new Pocketbus(srv.url)
  await pbus.pb.collection('users').authWithPassword(ada.email, ada.password)
  project = await pbus.pb.collection('projects').create({ name: 'renewal', group: ada.record.mygroup })
  const cred = await pbus.issue(project.id, { name: 'observer' })
  observer = new Pocketbus(srv.url)
  await observer.connect(project.id, { creds: cred.creds })
})
after(async () => {
  await observer?.close()
  await pbus?.close()
  await srv?.stop()
})

const te = new TextEncoder()
const rfc3339 = (ms) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z')

/** Token source: real user JWTs that expire `life` ms from now (whole seconds). */
function shortTokens(client, pid, life, { claim } = {}) {
  let n = 0
  const issued = []
  const source = async () => {
    const exp = Math.ceil((Date.now() + life) / 1000) * 1000
    const r = await client.issue(pid, { name: `short-${n++}`, expires: rfc3339(exp) })
    issued.push({ jwt: r.jwt, seed: r.seed, expires: exp })
    return { jwt: r.jwt, seed: r.seed, expires: claim ? claim(exp) : rfc3339(exp) }
  }
  return { source, issued }
}

/** Publishes a numbered message every `every` ms from the observer until stopped. */
function ticker(subject, every = 150) {
  let i = 0
  const nc = observer.connection(project.id).nc
  const t = setInterval(() => nc.publish(subject, te.encode(String(i++))), every)
  return () => clearInterval(t)
}

test('the connection keeps working past its tokens’ life: renewed before expiry, reconnected with each', async () => {
  const client = new Pocketbus(srv.url, { pb: pbus.pb })
  const { source, issued } = shortTokens(pbus, project.id, 3000)
  try {
    const events = []
    const nc = await client.connect(project.id, { token: source, onStatus: (_c, e) => events.push(e.type) })
    const got = []
    const sub = nc.subscribe('tick.renewal', { callback: (_e, m) => got.push({ at: Date.now(), n: Number(m.string()) }) })
    await nc.flush()
    const firstExpires = issued[0].expires
    const stop = ticker('tick.renewal')
    await sleep(Math.max(0, firstExpires - Date.now()) + 3500) // past the first and second tokens
    stop()
    const c = client.connection(project.id)
    // sampled at any moment it may be between a renewal's disconnect and reconnect
    await waitFor(() => c.status === 'connected', { what: 'connected', timeout: 5000 })
    assert.ok(c.renewals >= 4, `renewals ${c.renewals}`)
    assert.ok(!events.includes('closed'), `events ${events}`)
    const after = got.filter((g) => g.at > firstExpires + 1000)
    assert.ok(after.length > 10, `messages after the first token expired: ${after.length}`)
    // the server did expire the first token: it cannot connect any more
    const refused = await tcpConnect({ servers: srv.info.nats.url, authenticator: jwtAuthenticator(issued[0].jwt, te.encode(issued[0].seed)), maxReconnectAttempts: 0, timeout: 3000 }).then((x) => x.close().then(() => false), (e) => /authorization/i.test(e.message))
    assert.ok(refused, 'the first, expired token still connects')
    sub.unsubscribe()
  } finally {
    await client.close()
  }
})

test('a token that expires unrenewed (a tab that slept): "User Authentication Expired" fetches a fresh one and reconnects', async () => {
  const client = new Pocketbus(srv.url, { pb: pbus.pb })
  // the source claims a 1 h life, so no renewal is scheduled; the JWT ends in ~2 s
  const { source } = shortTokens(pbus, project.id, 2000, { claim: (exp) => rfc3339(exp + 3600_000) })
  try {
    const nc = await client.connect(project.id, { token: source })
    const c = client.connection(project.id)
    const expired = event(c, 'error')
    const back = event(c, 'reconnected')
    const e = await expired
    assert.match(e.error.message, /authentication expired/i)
    await back
    assert.equal(c.status, 'connected')
    assert.equal(c.renewals, 2)
    // (its next token ends in 2 s too: publish until one lands between blips)
    const got = []
    nc.subscribe('after.expiry', { callback: (_e, m) => got.push(m.string()) })
    await waitFor(() => {
      observer.connection(project.id).nc.publish('after.expiry', te.encode('still here'))
      return got.includes('still here')
    }, { what: 'a message after the expiry', interval: 200, timeout: 8000 })
  } finally {
    await client.close()
  }
})

test('injected clock: real web tokens from the token route are renewed and the connection stays up', async () => {
  const skew = 59.5 * 60_000
  const client = new Pocketbus(srv.url, { pb: pbus.pb, now: () => Date.now() + skew })
  try {
    const nc = await client.connect(project.id)
    const c = client.connection(project.id)
    const got = []
    nc.subscribe('tick.clock', { callback: (_e, m) => got.push(m.string()) })
    await nc.flush()
    const stop = ticker('tick.clock')
    await waitFor(() => c.renewals >= 4, { what: 'four renewals', timeout: 15_000 })
    stop()
    await waitFor(() => c.status === 'connected', { what: 'connected after renewals' })
    // renewals go on every second or so: publish until one lands between blips
    await waitFor(() => {
      observer.connection(project.id).nc.publish('tick.clock', te.encode('last'))
      return got.includes('last')
    }, { what: 'a message after the renewals', interval: 200, timeout: 8000 })
  } finally {
    await client.close()
  }
})

test('a renewal failure is surfaced (event and .error) while the connection keeps working', async () => {
  const client = new Pocketbus(srv.url, { pb: pbus.pb, now: () => Date.now() + 59.5 * 60_000 })
  let calls = 0
  const source = async () => {
    if (++calls > 1) {
      const e = new Error('token route down')
      e.status = 503
      throw e
    }
    return client.token(project.id)
  }
  try {
    const nc = await client.connect(project.id, { token: source })
    const c = client.connection(project.id)
    const failed = await event(c, 'renew-failed')
    assert.equal(failed.error.message, 'token route down')
    assert.equal(c.error?.message, 'token route down')
    assert.equal(c.status, 'connected')
    await nc.flush()
  } finally {
    await client.close()
  }
})
