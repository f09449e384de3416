import { test } from 'node:test'
import assert from 'node:assert/strict'
import { natsWsUrl, Pocketbus } from '@pocketbus/client'

test('natsWsUrl: <url>/nats over ws or wss, keeping a path prefix', () => {
  assert.equal(natsWsUrl('http://127.0.0.1:8090'), 'ws://127.0.0.1:8090/nats')
  assert.equal(natsWsUrl('https://bus.example.com/'), 'wss://bus.example.com/nats')
  assert.equal(natsWsUrl('https://example.com/pocketbus/?x=1#y'), 'wss://example.com/pocketbus/nats')
})

test('new Pocketbus(url): pb is the PocketBase client for that URL; the url is required outside a browser', () => {
  const pbus = new Pocketbus('http://127.0.0.1:8090/')
  assert.equal(pbus.url, 'http://127.0.0.1:8090')
  assert.equal(pbus.pb.baseURL, 'http://127.0.0.1:8090')
  assert.equal(pbus.wsUrl, 'ws://127.0.0.1:8090/nats')
  assert.throws(() => new Pocketbus(), /url is required/)
})

test('connect without a project id is refused', async () => {
  await assert.rejects(() => new Pocketbus('http://127.0.0.1:1').connect(''), /projectId is required/)
})

test('close() ends realtime and requests of its own PocketBase client only, not of one passed in as {pb}', async () => {
  const calls = []
  const fakePb = (name) => ({
    realtime: { isConnected: true, unsubscribe: async () => calls.push(`${name}: unsubscribe`) },
    cancelAllRequests: () => calls.push(`${name}: cancel`),
  })
  const given = fakePb('given')
  await new Pocketbus('http://127.0.0.1:1', { pb: given }).close()
  assert.deepEqual(calls, [], "the caller's client keeps its realtime and requests")

  const own = new Pocketbus('http://127.0.0.1:1')
  Object.assign(own.pb, { realtime: fakePb('own').realtime, cancelAllRequests: fakePb('own').cancelAllRequests })
  await own.close()
  assert.deepEqual(calls, ['own: unsubscribe', 'own: cancel'])
})
