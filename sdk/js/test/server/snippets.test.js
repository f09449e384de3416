// The connection snippets, run against a real server where the toolchain is
// here: Go (nats.go, from the module cache / Go proxy), JavaScript in Node
// (the SDK with the .creds) and the browser snippet's code (in Node, over
// WebSocket), and the nats CLI when `nats` is on PATH. Python and Java are
// compiled only (nats-py and jnats cannot be installed here); Rust is not
// checked (no crates).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Pocketbus } from '@pocketbus/client'
import { connectionSnippets } from '@pocketbus/client/snippets'
import { startServer, waitFor, SDK, ROOT } from './harness.js'

let srv, ada, pbus, project, observer, snippets, dir, got
const FILE = 'snippet-test.creds'
before(async () => {
  srv = await startServer()
  ada = await srv.user('ada')
  pbus = new Pocketbus(srv.url)
  await pbus.pb.collection('users').authWithPassword(ada.email, ada.password)
  project = await pbus.pb.collection('projects').create({ name: 'snippets', group: ada.record.mygroup })
  // a restricted credential: the snippets must publish where it may
  const cred = await pbus.issue(project.id, { name: 'snippet', pub_allow: ['snippets.>'], sub_allow: ['_INBOX.>'] })
  dir = join(srv.tmp, 'snippets')
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, FILE), cred.creds)
  snippets = Object.fromEntries(connectionSnippets({ natsUrl: srv.info.nats.url, credsFile: FILE, appUrl: srv.url, projectId: project.id, pubAllow: ['snippets.>'] }).map((s) => [s.id, s]))
  const nc = await pbus.connect(project.id)
  got = []
  nc.subscribe('snippets.>', { callback: (_e, m) => got.push(`${m.subject} ${m.string()}`) })
  await nc.flush()
  observer = nc
})
after(async () => {
  await pbus?.close()
  await srv?.stop()
})

const has = (cmd, args = ['--version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0
const arrived = (n) => waitFor(() => got.length >= n, { what: `message ${n} from the snippet`, timeout: 10_000 })

test('Go (nats.go): the snippet compiles and publishes with the .creds', { timeout: 240_000 }, async () => {
  const mod = join(dir, 'go')
  mkdirSync(mod, { recursive: true })
  writeFileSync(join(mod, 'main.go'), snippets.go.code)
  const natsGo = /github\.com\/nats-io\/nats\.go (v\S+)/.exec(readFileSync(join(ROOT, 'go.mod'), 'utf8'))[1]
  writeFileSync(join(mod, 'go.mod'), `module snippet\n\ngo 1.22\n\nrequire github.com/nats-io/nats.go ${natsGo}\n`)
  copyFileSync(join(ROOT, 'go.sum'), join(mod, 'go.sum')) // the checksums the project already trusts
  const env = { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' }
  execFileSync('go', ['mod', 'tidy'], { cwd: mod, env, stdio: 'pipe' })
  execFileSync('go', ['build', '-o', 'snippet', '.'], { cwd: mod, env, stdio: 'pipe' })
  const n = got.length
  const out = execFileSync(join(mod, 'snippet'), { cwd: dir, encoding: 'utf8', timeout: 20_000 })
  assert.match(out, /^connected to nats:\/\/127\.0\.0\.1:\d+/m)
  await arrived(n + 1)
  assert.equal(got.at(-1), 'snippets.hello hi')
})

test('JavaScript (Node): the SDK snippet connects over TCP with the .creds, publishes, and exits', async () => {
  const js = join(dir, 'node')
  mkdirSync(join(js, 'node_modules', '@pocketbus'), { recursive: true })
  symlinkSync(SDK, join(js, 'node_modules', '@pocketbus', 'client'))
  writeFileSync(join(js, 'package.json'), '{"type":"module"}')
  writeFileSync(join(js, 'main.mjs'), snippets.node.code)
  copyFileSync(join(dir, FILE), join(js, FILE))
  const n = got.length
  const out = execFileSync(process.execPath, ['main.mjs'], { cwd: js, encoding: 'utf8', timeout: 20_000 })
  assert.match(out, /^connected to 127\.0\.0\.1:\d+/m)
  assert.equal(out.trim().split(':').at(-1), new URL(srv.info.nats.url).port, 'the advertised TCP port')
  await arrived(n + 1)
  assert.equal(got.at(-1), 'snippets.hello hi')
})

test('JavaScript (browser): the snippet’s code signs in and connects with a web token (run in Node over WebSocket)', async () => {
  const js = join(dir, 'node')
  // the browser snippet expects `email` and `password` in scope
  writeFileSync(join(js, 'browser.mjs'), `const email = process.env.EMAIL, password = process.env.PASSWORD;\n${snippets.browser.code}\nawait pbus.close();\n`)
  const n = got.length
  const out = execFileSync(process.execPath, ['browser.mjs'], { cwd: js, encoding: 'utf8', timeout: 20_000, env: { ...process.env, EMAIL: ada.email, PASSWORD: ada.password } })
  assert.equal(out.trim(), `connected to ${new URL(srv.url).host}`, 'through <url>/nats')
  await arrived(n + 1)
  assert.equal(got.at(-1), 'snippets.hello hi')
})

test('nats CLI: context save, then publish with the context', { skip: !has('nats') && 'the nats CLI is not on PATH' }, async () => {
  const home = join(dir, 'cli-home')
  mkdirSync(home, { recursive: true })
  const n = got.length
  const r = spawnSync('sh', ['-e', '-c', snippets.cli.code], { cwd: dir, encoding: 'utf8', env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, timeout: 20_000 })
  assert.equal(r.status, 0, r.stderr + r.stdout)
  await arrived(n + 1)
  assert.equal(got.at(-1), 'snippets.hello hi')
  // the saved context points at the file by an absolute path: it works from anywhere
  const r2 = spawnSync('nats', ['--context', 'snippet-test', 'pub', 'snippets.again', 'x'], { cwd: '/', encoding: 'utf8', env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') }, timeout: 20_000 })
  assert.equal(r2.status, 0, r2.stderr)
  await arrived(n + 2)
})

test('Python (nats-py): the snippet compiles (nats-py cannot be installed here, so it is not run)', { skip: !has('python3') && 'no python3' }, () => {
  const f = join(dir, 'snippet.py')
  writeFileSync(f, snippets.python.code)
  execFileSync('python3', ['-m', 'py_compile', f], { stdio: 'pipe' })
})

test('Java (jnats): the snippet compiles against the jnats signatures it uses (stubs; jnats cannot be installed here)', { skip: !has('javac', ['-version']) && 'no javac' }, () => {
  const src = join(dir, 'java')
  const pkg = join(src, 'io', 'nats', 'client')
  mkdirSync(pkg, { recursive: true })
  // io.nats.client as jnats 2.x declares these members
  writeFileSync(join(pkg, 'AuthHandler.java'), 'package io.nats.client;\npublic interface AuthHandler {}\n')
  writeFileSync(join(pkg, 'Connection.java'), `package io.nats.client;
public interface Connection extends AutoCloseable {
    void publish(String subject, byte[] body);
    void flush(java.time.Duration timeout) throws java.util.concurrent.TimeoutException, InterruptedException;
    String getConnectedUrl();
    void close() throws InterruptedException;
}
`)
  writeFileSync(join(pkg, 'Nats.java'), `package io.nats.client;
public abstract class Nats {
    public static Connection connect(String url, AuthHandler handler) throws java.io.IOException, InterruptedException { return null; }
    public static AuthHandler credentials(String credsFile) { return null; }
}
`)
  writeFileSync(join(src, 'Connect.java'), snippets.java.code)
  execFileSync('javac', ['-d', join(src, 'out'), join(src, 'Connect.java'), join(pkg, 'AuthHandler.java'), join(pkg, 'Connection.java'), join(pkg, 'Nats.java')], { stdio: 'pipe' })
})
