// Snippet generation (pure). What runs against a server: test/server/snippets.test.js.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connectionSnippets, exampleSubject, natsUrls } from '@pocketbus/client/snippets'

const base = { natsUrl: 'nats://nats.example.com:4222', credsFile: 'orders-worker.creds', appUrl: 'https://bus.example.com/', projectId: 'abc123def456ghi' }

test('one snippet per client, in a fixed order, each naming its install step', () => {
  const s = connectionSnippets(base)
  assert.deepEqual(s.map((x) => x.id), ['cli', 'go', 'node', 'browser', 'python', 'rust', 'java'])
  for (const x of s) assert.ok(x.label && x.language && x.install && x.code.trim(), x.id)
})

test('nats context save with the advertised URL and an absolute creds path', () => {
  const cli = connectionSnippets(base)[0].code
  assert.match(cli, /^nats context save orders-worker --server nats:\/\/nats\.example\.com:4222 --creds "\$PWD\/orders-worker\.creds"$/m)
  assert.match(cli, /^nats --context orders-worker pub hello hi$/m)
})

test('every client gets the URL, the file and the subject', () => {
  for (const x of connectionSnippets({ ...base, pubAllow: ['orders.>'] })) {
    if (x.id === 'browser') {
      assert.ok(x.code.includes('"https://bus.example.com"') && x.code.includes('"abc123def456ghi"'), x.id)
      assert.ok(!x.code.includes('.creds"'), 'no .creds in a browser')
    } else {
      assert.ok(x.code.includes('nats://nats.example.com:4222'), x.id)
      assert.ok(x.code.includes('orders-worker.creds'), x.id)
    }
    assert.ok(x.code.includes('orders.hello'), `${x.id} publishes where it may`)
  }
})

test('several advertised URLs: a list where the client takes one, comma-joined where it parses that', () => {
  const s = Object.fromEntries(connectionSnippets({ ...base, natsUrl: 'nats://a:4222, nats://b:4222' }).map((x) => [x.id, x.code]))
  assert.ok(s.cli.includes('--server nats://a:4222,nats://b:4222'))
  assert.ok(s.go.includes('nats.Connect("nats://a:4222,nats://b:4222"'))
  assert.ok(s.java.includes('Nats.connect("nats://a:4222,nats://b:4222"'))
  assert.ok(s.python.includes('servers=["nats://a:4222", "nats://b:4222"]'))
  assert.ok(s.rust.includes('.connect(vec!["nats://a:4222", "nats://b:4222"])'))
  assert.ok(s.node.includes('servers: ["nats://a:4222", "nats://b:4222"]'))
})

test('odd names are quoted for the shell and escaped in string literals', () => {
  const s = Object.fromEntries(connectionSnippets({ ...base, credsFile: `it's "x".creds`, name: 'my ctx' }).map((x) => [x.id, x.code]))
  assert.ok(s.cli.includes(`nats context save 'my ctx'`))
  assert.ok(s.cli.includes(`--creds 'it'\\''s "x".creds'`))
  assert.ok(s.go.includes(`nats.UserCredentials("it's \\"x\\".creds")`))
})

test('exampleSubject picks a subject the credential may publish on', () => {
  assert.equal(exampleSubject([]), 'hello')
  assert.equal(exampleSubject(undefined), 'hello')
  assert.equal(exampleSubject(['orders.>']), 'orders.hello')
  assert.equal(exampleSubject(['_INBOX.>', 'a.*.c']), 'a.hello.c')
  assert.equal(exampleSubject(['$KV.cfg.>']), '$KV.cfg.hello')
  assert.equal(exampleSubject(['>']), 'hello')
})

test('natsUrls splits and trims', () => {
  assert.deepEqual(natsUrls(' nats://a:1 ,nats://b:2,, '), ['nats://a:1', 'nats://b:2'])
  assert.deepEqual(natsUrls(undefined), [])
  assert.throws(() => connectionSnippets({ ...base, natsUrl: '' }), /natsUrl/)
})
