// close() leaves nothing behind: a Node process that used every part of the
// SDK exits by itself (no process.exit) once it calls pbus.close().
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pocketbus } from '@pocketbus/client'
import { startServer, SDK } from './harness.js'

let srv, ada, pbus, project
before(async () => {
  srv = await startServer()
  ada = await srv.user('ada')
  pbus = new Pocketbus(srv.url)
  await pbus.pb.collection('users').authWithPassword(ada.email, ada.password)
  project = await pbus.pb.collection('projects').create({ name: 'exit', group: ada.record.mygroup })
})
after(async () => {
  await pbus?.close()
  await srv?.stop()
})

function run(file, env) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    const p = spawn(process.execPath, [file], { cwd: SDK, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.stderr.on('data', (d) => (out += d))
    const kill = setTimeout(() => p.kill('SIGKILL'), 20_000)
    p.on('exit', (code, signal) => {
      clearTimeout(kill)
      resolve({ code, signal, out, ms: Date.now() - t0 })
    })
  })
}

test('a process using web token + WebSocket, credential + TCP, KV watch and renewals exits on its own after close()', async () => {
  const cred = await pbus.issue(project.id, { name: 'exit client' })
  const script = join(srv.tmp, 'exit-client.mjs')
  writeFileSync(
    script,
    `import { Pocketbus } from '@pocketbus/client'
const { URL: url, EMAIL, PASSWORD, PID, CREDS } = process.env
const pbus = new Pocketbus(url)
await pbus.pb.collection('users').authWithPassword(EMAIL, PASSWORD)
const nc = await pbus.connect(PID)
const kv = await pbus.kv(PID, 'exit')
const watch = await kv.watch()
await kv.put('k', 'v')
for await (const e of watch) { if (e.key === 'k') break }
await pbus.connection(PID).renew()
const other = new Pocketbus(url)
const tcp = await other.connect(PID, { creds: CREDS })
tcp.subscribe('x.>')
nc.subscribe('y.>')
await Promise.all([nc.flush(), tcp.flush()])
await Promise.all([pbus.close(), other.close()])
console.log('closed at', Date.now())
`,
  )
  // The script lives outside the package: resolve @pocketbus/client from the SDK.
  writeFileSync(join(srv.tmp, 'package.json'), '{"type":"module"}')
  const { symlinkSync, mkdirSync } = await import('node:fs')
  mkdirSync(join(srv.tmp, 'node_modules', '@pocketbus'), { recursive: true })
  symlinkSync(SDK, join(srv.tmp, 'node_modules', '@pocketbus', 'client'))
  const r = await run(script, { URL: srv.url, EMAIL: ada.email, PASSWORD: ada.password, PID: project.id, CREDS: cred.creds })
  assert.equal(r.signal, null, `killed: still running 20 s later\n${r.out}`)
  assert.equal(r.code, 0, r.out)
  const closedAt = Number(/closed at (\d+)/.exec(r.out)?.[1])
  assert.ok(closedAt, r.out)
  const lag = Date.now() - closedAt
  assert.ok(lag < 2000, `exited ${lag} ms after close(): something kept it alive`)
  console.log(`# the process exited ${Date.now() - closedAt} ms after close() returned (whole run ${r.ms} ms)`)
})
