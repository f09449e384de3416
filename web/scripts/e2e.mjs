#!/usr/bin/env node
// Browser end-to-end test of the Pocketbus web app against a real server.
//
// Builds the web app and the Go binary, starts `pocketbus serve` on free ports
// with a temporary data dir, drives Debian's chromium with playwright-core and
// a Node NATS client, saves screenshots (under docs/screenshots/ with UPDATE_SCREENSHOTS=1), prints the
// page weight and the group page's time to first render, and ends with
// "N passed, N failed".
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname, basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:net'
import { gzipSync } from 'node:zlib'

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ROOT = resolve(WEB, '..')
// The committed screenshots are refreshed only on request (make screenshots),
// so a test run leaves the work tree clean.
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, 'docs', 'screenshots') : join(WEB, 'test-results', 'screenshots')
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium'
const CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']
const DESKTOP = { width: 1280, height: 800 }
const PHONE = { width: 390, height: 844 }
const T = 15_000

// ---------------------------------------------------------------- helpers
const log = (...a) => console.log(...a)
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function ensureChromium() {
  if (existsSync(CHROMIUM)) return
  log(`chromium not found at ${CHROMIUM}; installing it with apt-get`)
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0
  const run = (args) => execFileSync(asRoot ? args[0] : 'sudo', asRoot ? args.slice(1) : args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  run(['apt-get', 'update'])
  run(['apt-get', 'install', '-y', 'chromium'])
  if (!existsSync(CHROMIUM)) throw new Error(`chromium still missing at ${CHROMIUM}`)
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
    s.on('error', rej)
  })
}

async function waitFor(fn, { timeout = T, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout
  let last
  while (Date.now() < end) {
    try {
      const v = await fn()
      if (v) return v
    } catch (e) {
      last = e
    }
    await sleep(interval)
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`)
}

// tiny step runner: a failed step fails, later steps that need it are skipped
const results = []
let broken = null
async function step(name, fn, { needs = true } = {}) {
  // E2E_ONLY=prefix runs only the steps whose name starts with it (while developing)
  if (process.env.E2E_ONLY && !name.startsWith(process.env.E2E_ONLY)) {
    results.push({ name, status: 'skipped' })
    return
  }
  if (broken && needs) {
    results.push({ name, status: 'skipped' })
    log(`  - SKIP ${name} (after: ${broken})`)
    return
  }
  const t0 = Date.now()
  try {
    await fn()
    results.push({ name, status: 'passed' })
    log(`  ✓ ${name} (${Date.now() - t0} ms)`)
  } catch (e) {
    results.push({ name, status: 'failed', error: e })
    log(`  ✗ ${name}\n      ${String(e?.stack || e).split('\n').slice(0, 4).join('\n      ')}`)
    if (needs) broken = name
    if (page) {
      mkdirSync(join(WEB, 'test-results'), { recursive: true })
      await page.screenshot({ path: join(WEB, 'test-results', `fail-${results.length}.png`) }).catch(() => {})
    }
  }
}

// ---------------------------------------------------------------- setup
let server, browser, page, tmp
let serverCtl // stop() and start() the server on the same ports and data dir
let distDrift = null // what `git status` says of web/dist after the build
const cleanup = []
async function main() {
  ensureChromium()
  tmp = mkdtempSync(join(tmpdir(), 'pocketbus-e2e-'))
  mkdirSync(SHOTS, { recursive: true })

  log('building web app (npm run build)…')
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: WEB, stdio: ['ignore', 'ignore', 'inherit'] })
  // The binary embeds the committed web/dist: it must be exactly this build.
  try {
    distDrift = execFileSync('git', ['status', '--porcelain', '--', 'web/dist'], { cwd: ROOT, encoding: 'utf8' }).trim()
  } catch { /* not a git checkout: nothing to compare */ }
  log('building pocketbus (go build ./cmd/pocketbus)…')
  const bin = join(tmp, 'pocketbus')
  execFileSync('go', ['build', '-o', bin, './cmd/pocketbus'], { cwd: ROOT, stdio: 'inherit' })

  const port = await freePort()
  const natsPort = await freePort()
  const base = `http://127.0.0.1:${port}`
  const serverLog = []
  // fixed ports, so the server can be stopped and started again on them (the outage step)
  const startServer = () => {
    server = spawn(bin, ['serve', '--http', `127.0.0.1:${port}`, '--dir', join(tmp, 'pb_data'), '--nats-listen', `127.0.0.1:${natsPort}`, '--nats-ws-listen', '127.0.0.1:0', '--rate-limits=false'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] })
    server.stdout.on('data', (d) => serverLog.push(String(d)))
    server.stderr.on('data', (d) => serverLog.push(String(d)))
    return waitFor(async () => {
      if (server.exitCode !== null) throw new Error(`server exited: ${serverLog.join('')}`)
      const r = await fetch(`${base}/api/pocketbus/info`)
      return r.ok ? r.json() : null
    }, { timeout: 60_000, what: 'pocketbus serve' })
  }
  cleanup.push(() => server.exitCode === null && server.kill('SIGTERM'))
  const info = await startServer()
  serverCtl = {
    bin, dir: join(tmp, 'pb_data'),
    async stop() {
      const s = server
      if (s.exitCode !== null) return
      const gone = new Promise((r) => s.once('exit', r))
      s.kill('SIGTERM')
      await gone
    },
    start: startServer,
  }
  log(`server ${info.version} at ${base}, NATS ${info.nats?.url}`)

  const { chromium } = await import('playwright-core')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROME_FLAGS })
  cleanup.push(() => browser.close())

  await run(base, info)
  if (process.env.E2E_SERVER_LOG) log(serverLog.join(''))
}

// ---------------------------------------------------------------- the test
async function run(base, info) {
  const nats = await import('@nats-io/transport-node')
  const { Kvm } = await import('@nats-io/kv')
  const { Objm } = await import('@nats-io/obj')

  const ctxA = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true, permissions: ['clipboard-read', 'clipboard-write'] })
  page = await ctxA.newPage()
  const consoleErrors = []
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()))
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`))
  const shot = async (name, p = page) => p.screenshot({ path: join(SHOTS, `${name}.png`) })
  const stamp = Date.now().toString(36)
  const userA = { name: 'Ada Lovelace', email: `ada-${stamp}@example.com`, password: 'correct horse 1' }
  const userB = { name: 'Bob Other', email: `bob-${stamp}@example.com`, password: 'battery staple 2' }
  const userC = { name: 'Cy Member', email: `cy-${stamp}@example.com`, password: 'tr0ubador 3x' }
  const s = {} // shared state between steps
  const url = () => new URL(page.url()).pathname
  // REST from outside the page, as the user signed in on a page
  const authOf = (p) => p.evaluate(() => JSON.parse(localStorage.getItem('pocketbase_auth') || '{}'))
  const rest = async (p, path, { method = 'GET', body } = {}) => {
    const { token } = await authOf(p)
    const r = await fetch(`${base}${path}`, { method, headers: { Authorization: token, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    const text = await r.text()
    let json = null
    try { json = text ? JSON.parse(text) : null } catch { /* not JSON */ }
    return { status: r.status, json, text }
  }
  const q = (o) => new URLSearchParams(o).toString()
  const natsConnect = (opts) => nats.connect({ servers: info.nats.url, maxReconnectAttempts: 0, timeout: 3000, ...opts })
  const credsAuth = (creds) => nats.credsAuthenticator(new TextEncoder().encode(creds))
  const canConnect = (creds) => natsConnect({ authenticator: credsAuth(creds) }).then((c) => c.close().then(() => true), () => false)
  // resolves to 'closed' when the connection closes within ms, else 'open'
  const closesWithin = (nc, ms) => Promise.race([nc.closed().then(() => 'closed'), sleep(ms).then(() => 'open')])
  // the groups the header's group switcher lists (it opens the menu, reads it, closes it)
  const switcherGroups = async (p) => {
    await p.locator('#group-switcher').click()
    const names = await p.locator('#group-options [role="option"]').allTextContents()
    await p.keyboard.press('Escape')
    return names
  }

  log('\nE2E steps:')
  await step('committed web/dist is the build of web/src', async () => {
    if (distDrift) throw new Error(`rebuild and commit web/dist (make web); it differs from the build of web/src:\n${distDrift}`)
  }, { needs: false })

  await step('unauthenticated visit goes to sign-in and keeps where it was going', async () => {
    await page.goto(`${base}/new-group`)
    await page.getByRole('heading', { name: 'Sign in to Pocketbus' }).waitFor({ timeout: T })
    if (!page.url().includes('/signin?next=%2Fnew-group')) throw new Error(`url ${page.url()}`)
    await shot('signin-desktop')
  })

  await step('sign up → personal group shown', async () => {
    await page.goto(`${base}/signup`)
    await page.getByLabel('Name').fill(userA.name)
    await page.getByLabel('Email address').fill(userA.email)
    await page.getByLabel('Password', { exact: true }).fill(userA.password)
    await page.getByLabel('Confirm password').fill(userA.password)
    await page.getByRole('button', { name: 'Create account' }).click()
    await waitFor(() => /^\/g\/[^/]+$/.test(url()), { what: 'redirect to the personal group' })
    s.personal = url().split('/')[2]
    await page.getByTestId('group-name').waitFor({ timeout: T })
    await page.getByText('Personal', { exact: true }).first().waitFor({ timeout: T })
    await page.getByText('No projects yet').waitFor({ timeout: T })
    await shot('group-personal-desktop')
  })

  await step('sign out, sign in again and return to the page asked for', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to Pocketbus' }).waitFor({ timeout: T })
    await page.goto(`${base}/g/${s.personal}/settings`)
    await page.getByLabel('Email address').fill(userA.email)
    await page.getByLabel('Password').fill(userA.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await waitFor(() => url() === `/g/${s.personal}/settings`, { what: 'return to settings' })
    await page.getByRole('heading', { name: 'Group settings' }).waitFor({ timeout: T })
  })

  await step('create group', async () => {
    await page.getByRole('link', { name: 'New group' }).first().click()
    await page.getByLabel('Group name').fill('Team Alpha')
    await page.getByRole('button', { name: 'Create group' }).click()
    await waitFor(() => /^\/g\/[^/]+$/.test(url()) && url() !== `/g/${s.personal}`, { what: 'group page' })
    s.gid = url().split('/')[2]
    await page.getByTestId('group-name').getByText('Team Alpha').waitFor({ timeout: T })
    await waitFor(async () => (await switcherGroups(page)).some((t) => t.includes('Team Alpha')), { what: 'group in selector' })
  })

  await step('create project', async () => {
    await page.getByRole('link', { name: 'New project' }).first().click()
    await page.getByLabel('Project name').fill('Orders')
    await page.getByLabel(/Description/).fill('order events')
    await page.getByRole('button', { name: 'Create project' }).click()
    await waitFor(() => /^\/g\/[^/]+\/p\/[^/]+$/.test(url()), { what: 'project page' })
    s.pid = url().split('/')[4]
    const key = await page.getByTestId('account-key').textContent({ timeout: T })
    if (!/^A[A-Z2-7]{55}$/.test(key.trim())) throw new Error(`account key looks wrong: ${key}`)
    await page.getByText('refreshed every 5 s').waitFor({ timeout: T })
    // the overview does not open NATS (the data pages do)
    await waitFor(async () => (await page.getByTestId('nats-status').textContent()) === 'not in use on this page', { what: 'no NATS connection on the overview' })
    await shot('project-desktop')
  })

  await step('issue credential → .creds downloaded once', async () => {
    await page.getByRole('link', { name: 'Credentials' }).first().click()
    await page.getByTestId('new-credential').click() // web-pages: the list comes first, the form opens on request
    await page.getByLabel('Name').fill('e2e client')
    await page.getByRole('button', { name: /Permissions/ }).click()
    await page.getByLabel('Publish — allow').fill('bad..subject')
    await page.getByRole('button', { name: 'Issue credential' }).click()
    await page.getByText('has an empty token').first().waitFor({ timeout: T }) // permission editor validation
    await page.getByLabel('Publish — allow').fill('')
    await page.getByLabel('Expires').selectOption('30d')
    await page.getByRole('button', { name: 'Issue credential' }).click()
    await page.getByText('Download the .creds file now').waitFor({ timeout: T })
    // ready snippets with the advertised NATS URL and the file's name
    const snip = page.getByTestId('snippets')
    await snip.waitFor({ timeout: T })
    const cli = await snip.locator('[data-snippet="cli"] pre').textContent()
    if (!cli.includes(`nats context save orders-e2e-client --server ${info.nats.url} --creds "$PWD/orders-e2e-client.creds"`)) throw new Error(`CLI snippet:\n${cli}`)
    for (const tab of ['Go', 'JavaScript (Node)', 'JavaScript (browser)', 'Python', 'Rust', 'Java']) await snip.getByRole('tab', { name: tab, exact: true }).waitFor({ timeout: T })
    await snip.getByRole('tab', { name: 'JavaScript (Node)' }).click()
    await snip.getByRole('button', { name: 'Copy code' }).click()
    await snip.getByRole('button', { name: 'Copied' }).waitFor({ timeout: T })
    s.nodeSnippet = await page.evaluate(() => navigator.clipboard.readText())
    if (!s.nodeSnippet.includes(`pbus.connect(${JSON.stringify(s.pid)}`) || !s.nodeSnippet.includes(info.nats.url)) throw new Error(`Node snippet:\n${s.nodeSnippet}`)
    await snip.getByRole('tab', { name: 'Go' }).click()
    await snip.locator('[data-snippet="go"]').getByText(`nats.Connect("${info.nats.url}", nats.UserCredentials("orders-e2e-client.creds"))`).waitFor({ timeout: T })
    await shot('credentials-issued-desktop')
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.getByTestId('download-creds').click()])
    const file = join(tmp, 'client.creds')
    await dl.saveAs(file)
    s.creds = readFileSync(file, 'utf8')
    if (!dl.suggestedFilename().endsWith('.creds')) throw new Error(`file name ${dl.suggestedFilename()}`)
    if (!s.creds.includes('BEGIN NATS USER JWT') || !s.creds.includes('BEGIN USER NKEY SEED')) throw new Error('download is not a .creds file')
    await page.getByText('Downloaded. The secret is no longer in this page').waitFor({ timeout: T })
    if (await page.getByTestId('download-creds').count()) throw new Error('download still offered')
    await page.locator('li[data-cred="e2e client"]').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Done' }).click()
    await shot('credentials-desktop')
  })

  await step('credential options: help texts; JetStream follows the lists; the records carry the flags (REST); the list shows the grants', async () => {
    await page.goto(`${base}/g/${s.gid}/p/${s.pid}/credentials`)
    await page.getByTestId('new-credential').click()
    const opts = page.getByTestId('cred-options')
    await opts.getByText('it can read and write every stream of this project').waitFor({ timeout: T })
    await opts.getByText('lets the client publish one reply to the reply subject of each message it receives').waitFor({ timeout: T })
    const js = page.getByLabel('JetStream, Key-Value and Object Store')
    const resp = page.getByLabel('Allow responses')
    if (!(await js.isChecked()) || (await resp.isChecked())) throw new Error('defaults without lists should be JetStream on, responses off')
    // a responder: one subscribe list → JetStream goes off by itself; responses asked for
    await page.getByLabel('Name').fill('responder')
    await page.getByRole('button', { name: /Permissions/ }).click()
    await page.getByLabel('Subscribe — allow').fill('svc.>\njobs.> workers')
    await waitFor(async () => !(await js.isChecked()), { what: 'JetStream off once a list is given' })
    await resp.check()
    await page.getByRole('button', { name: 'Issue credential' }).click()
    await page.getByText('Credential “responder” issued').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Dismiss without downloading' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Dismiss and lose the secret' }).click()
    // a restricted client that is given JetStream by hand
    await page.getByTestId('new-credential').click()
    await page.getByLabel('Name').fill('js-reader')
    if (!(await page.getByLabel('Publish — allow').isVisible())) await page.getByRole('button', { name: /Permissions/ }).click()
    await page.getByLabel('Publish — allow').fill('reports.>')
    await js.check()
    await page.getByRole('button', { name: 'Issue credential' }).click()
    await page.getByText('Credential “js-reader” issued').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Dismiss without downloading' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Dismiss and lose the secret' }).click()
    const list = (await rest(page, `/api/collections/credentials/records?${q({ filter: `project = "${s.pid}"`, perPage: 50 })}`)).json
    const rec = (n) => list.items.find((c) => c.name === n)
    const want = { 'e2e client': [false, true], responder: [true, false], 'js-reader': [false, true] }
    for (const [n, [ar, jsOn]] of Object.entries(want)) {
      const c = rec(n)
      if (!c || c.allow_responses !== ar || c.jetstream !== jsOn) throw new Error(`${n}: allow_responses ${c?.allow_responses}, jetstream ${c?.jetstream}; want ${ar}, ${jsOn}`)
    }
    if (JSON.stringify(rec('responder').sub_allow) !== JSON.stringify(['svc.>', 'jobs.> workers'])) throw new Error(`responder sub_allow ${JSON.stringify(rec('responder').sub_allow)}`)
    await page.locator('li[data-cred="responder"]').getByTestId('cred-grants').getByText('no JetStream · may reply to requests').waitFor({ timeout: T })
    await page.locator('li[data-cred="js-reader"]').getByTestId('cred-grants').getByText('JetStream, KV and Object Store').waitFor({ timeout: T })
    await page.getByTestId('new-credential').click()
    await page.getByTestId('cred-options').scrollIntoViewIfNeeded()
    await shot('credentials-options-desktop')
    await page.getByRole('link', { name: 'Credentials' }).first().waitFor({ timeout: T })
  }, { needs: false })

  await step('Node NATS client connects with the .creds; its message shows in the live tail; token renewal keeps the tail', async () => {
    s.nc = await nats.connect({ servers: info.nats.url, authenticator: nats.credsAuthenticator(new TextEncoder().encode(s.creds)), name: 'e2e', maxReconnectAttempts: 0 })
    cleanup.push(() => s.nc.close().catch(() => {}))
    await page.getByRole('link', { name: 'Live tail' }).first().click()
    await page.getByText('Waiting for messages…').waitFor({ timeout: T })
    await sleep(300)
    s.nc.publish('e2e.hello', new TextEncoder().encode('hi from node'))
    await s.nc.flush()
    await page.locator('[data-subject="e2e.hello"]').getByText('hi from node').waitFor({ timeout: T })
    // token renewal: fetch a fresh token, reconnect with it, the tail subscription survives
    const before = Number(await page.getByTestId('nats-status').getAttribute('data-renewals'))
    const asked = [] // a renewal is no outage: no /api/health probe, no refetch of what the page shows
    const onRequest = (r) => asked.push(`${r.method()} ${new URL(r.url()).pathname}`)
    page.on('request', onRequest)
    await page.evaluate(() => window.__pocketbusRenewToken())
    await waitFor(async () => Number(await page.getByTestId('nats-status').getAttribute('data-renewals')) > before && (await page.getByTestId('nats-status').textContent()) === 'connected', { what: 'renewed and reconnected' })
    await sleep(300)
    page.off('request', onRequest)
    log(`      requests during the renewal: ${asked.join(', ')}`)
    const extra = asked.filter((x) => !/\/token$/.test(x))
    if (extra.length) throw new Error(`a token renewal asked for more than a token: ${extra.join(', ')}`)
    s.nc.publish('e2e.hello', new TextEncoder().encode('after renewal'))
    await s.nc.flush()
    await page.locator('[data-subject="e2e.hello"]').getByText('after renewal').waitFor({ timeout: T })
  })

  await step('the Node snippet copied from the page runs with the downloaded .creds (SDK over TCP); the tail shows its message', async () => {
    const dir = join(WEB, 'test-results', 'snippet')
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'orders-e2e-client.creds'), s.creds)
    writeFileSync(join(dir, 'main.mjs'), s.nodeSnippet)
    const out = execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8', timeout: 20_000 })
    if (!/^connected to 127\.0\.0\.1:\d+/m.test(out)) throw new Error(`snippet printed: ${out}`)
    await page.locator('[data-subject="hello"]').getByText('hi', { exact: true }).waitFor({ timeout: T })
    rmSync(dir, { recursive: true, force: true })
  })

  await step('publish box: UI message with headers reaches the client', async () => {
    const sub = s.nc.subscribe('e2e.fromui', { max: 1 })
    await s.nc.flush()
    await page.getByLabel('Subject', { exact: true }).fill('e2e.fromui')
    await page.getByLabel(/Headers/).fill('X-Test: yes')
    await page.getByLabel('Payload').fill('{"from":"browser"}')
    await page.getByRole('button', { name: 'Publish' }).click()
    const got = await Promise.race([(async () => { for await (const m of sub) return m })(), sleep(T).then(() => null)])
    if (!got) throw new Error('client got nothing')
    if (got.string() !== '{"from":"browser"}' || got.headers?.get('X-Test') !== 'yes') throw new Error(`got ${got.string()} ${got.headers}`)
    await page.locator('[data-subject="e2e.fromui"]').first().waitFor({ timeout: T })
    await shot('tail-desktop')
  })

  await step('streams: create in UI, client publishes, recent messages shown', async () => {
    await page.getByRole('link', { name: 'Streams' }).first().click()
    await page.getByRole('button', { name: 'New' }).click()
    await page.getByLabel('Name').fill('ORDERS')
    await page.getByLabel('Subjects').fill('orders.>')
    await page.getByRole('button', { name: 'Create stream' }).click()
    await page.getByRole('heading', { name: 'ORDERS' }).waitFor({ timeout: T })
    const { jetstream } = await import('@nats-io/jetstream')
    const js = jetstream(s.nc)
    await js.publish('orders.1', new TextEncoder().encode('first order'))
    await page.getByRole('button', { name: 'Refresh' }).click()
    await page.getByText('first order').waitFor({ timeout: T })
    await shot('streams-desktop')
  })

  await step('KV: put a key in the UI, read it from the client', async () => {
    await page.getByRole('link', { name: 'Key-Value' }).first().click()
    await page.getByRole('button', { name: 'New' }).click()
    await page.getByLabel('Name').fill('cfg')
    await page.getByRole('button', { name: 'Create bucket' }).click()
    await page.getByRole('heading', { name: 'cfg' }).waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Watch live' }).click()
    await page.getByLabel('Key', { exact: true }).fill('color')
    await page.getByLabel('Value').fill('blue')
    await page.getByRole('button', { name: 'Put' }).click()
    await page.getByText('Saved color').waitFor({ timeout: T })
    const kv = await new Kvm(s.nc).open('cfg')
    const e = await kv.get('color')
    if (e?.string() !== 'blue') throw new Error(`client read ${e?.string()}`)
    await kv.put('color', 'green') // and the UI watch sees the client's update
    await page.locator('.tail').getByText('green').first().waitFor({ timeout: T })
    await page.getByTestId('kv-value').getByText('green').waitFor({ timeout: T })
    await shot('kv-desktop')
  })

  await step('objects: upload with progress, download, client reads it', async () => {
    await page.getByRole('link', { name: 'Object stores' }).first().click()
    await page.getByRole('button', { name: 'New' }).click()
    await page.getByLabel('Name').fill('files')
    await page.getByRole('button', { name: 'Create store' }).click()
    await page.getByRole('heading', { name: 'files' }).waitFor({ timeout: T })
    const content = Buffer.from('pocketbus object '.repeat(20000)) // ~340 KB, several chunks
    await page.locator('#os-file').setInputFiles({ name: 'report.txt', mimeType: 'text/plain', buffer: content })
    await page.getByText('uploaded').waitFor({ timeout: T })
    await page.locator('li[data-object="report.txt"]').waitFor({ timeout: T })
    const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.locator('li[data-object="report.txt"]').getByRole('button', { name: 'Download' }).click()])
    const f = join(tmp, 'report.txt')
    await dl.saveAs(f)
    if (!readFileSync(f).equals(content)) throw new Error('downloaded object differs')
    const os = await new Objm(s.nc).open('files')
    const r = await os.getBlob('report.txt')
    if (!r || Buffer.from(r).length !== content.length) throw new Error('client could not read the object')
    await shot('objects-desktop')
  })

  await step('group page lists the project with usage; settings page', async () => {
    await page.goto(`${base}/g/${s.gid}`)
    await page.getByTestId('project-list').getByRole('link', { name: 'Orders' }).waitFor({ timeout: T })
    await page.getByTestId('activity').getByText(`${userA.name} issued credential “e2e client” for “Orders”`).waitFor({ timeout: T })
    await page.getByText(/conn ·/).first().waitFor({ timeout: T })
    await shot('group-desktop')
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByRole('heading', { name: 'Transfer ownership' }).waitFor({ timeout: T })
    await shot('group-settings-desktop')
  })

  await step('revoke credential → client disconnected', async () => {
    if (s.nc.isClosed()) throw new Error('client was already closed before the revoke')
    await s.nc.flush()
    const closed = s.nc.closed()
    await page.goto(`${base}/g/${s.gid}/p/${s.pid}/credentials`)
    await page.locator('li[data-cred="e2e client"]').getByRole('button', { name: 'Revoke' }).click()
    const t0 = Date.now()
    await page.getByRole('button', { name: 'Revoke credential' }).click()
    const res = await Promise.race([closed.then(() => 'closed'), sleep(5000).then(() => 'still open')])
    if (res !== 'closed') throw new Error('client still connected 5 s after revoke')
    log(`      client disconnected ${Date.now() - t0} ms after the revoke click`)
    await page.locator('li[data-cred="e2e client"]').getByText('Revoked', { exact: true }).waitFor({ timeout: T })
    const again = await nats.connect({ servers: info.nats.url, authenticator: nats.credsAuthenticator(new TextEncoder().encode(s.creds)), maxReconnectAttempts: 0, timeout: 3000 }).then((c) => c.close().then(() => 'connected'), () => 'refused')
    if (again !== 'refused') throw new Error('revoked credential can still connect')
  })

  await step('a second user cannot see any of it', async () => {
    const ctxB = await browser.newContext({ viewport: DESKTOP })
    const pb2 = await ctxB.newPage()
    await pb2.goto(`${base}/signup`)
    await pb2.getByLabel('Name').fill(userB.name)
    await pb2.getByLabel('Email address').fill(userB.email)
    await pb2.getByLabel('Password', { exact: true }).fill(userB.password)
    await pb2.getByLabel('Confirm password').fill(userB.password)
    await pb2.getByRole('button', { name: 'Create account' }).click()
    await pb2.getByTestId('group-name').waitFor({ timeout: T })
    const opts = await switcherGroups(pb2)
    if (opts.some((t) => t.includes('Team Alpha'))) throw new Error('B sees Team Alpha in the selector')
    await pb2.goto(`${base}/g/${s.gid}`)
    await pb2.getByRole('alert').waitFor({ timeout: T })
    if (await pb2.getByText('Orders').count()) throw new Error('B sees the project')
    await pb2.goto(`${base}/g/${s.gid}/p/${s.pid}/credentials`)
    await sleep(1000)
    if (await pb2.getByText('e2e client').count()) throw new Error('B sees the credential')
    const token = await pb2.evaluate(() => JSON.parse(localStorage.getItem('pocketbase_auth') || '{}').token)
    const get = (p, init = {}) => fetch(`${base}${p}`, { ...init, headers: { Authorization: token, 'Content-Type': 'application/json' } })
    for (const c of ['projects', 'credentials']) {
      const r = await (await get(`/api/collections/${c}/records`)).json()
      if (r.totalItems !== 0) throw new Error(`B lists ${r.totalItems} ${c}`)
    }
    const g = await get(`/api/collections/groups/records/${s.gid}`)
    if (g.status !== 404) throw new Error(`B viewing A's group: ${g.status}`)
    for (const [p, m] of [[`/api/pocketbus/projects/${s.pid}/token`, 'POST'], [`/api/pocketbus/projects/${s.pid}/stats`, 'GET'], [`/api/pocketbus/projects/${s.pid}/credentials`, 'POST']]) {
      const r = await get(p, { method: m, body: m === 'POST' ? JSON.stringify({ name: 'x' }) : undefined })
      if (r.status !== 403 && r.status !== 404) throw new Error(`B ${m} ${p}: ${r.status}`)
    }
    s.pageB = pb2
  }, { needs: false })

  await step('invite link: the owner makes and copies it; a signed-out visitor signs up, comes back, joins; the link is then used up', async () => {
    if (!s.pageB) throw new Error('no second user page')
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByRole('heading', { name: 'Invite people' }).waitFor({ timeout: T })
    if (await page.getByLabel(/Add a member by email/).count()) throw new Error('the add-by-email form is still there')
    await page.getByLabel('Link expires after').selectOption('7d')
    await page.getByLabel('Number of people').fill('1')
    await page.getByRole('button', { name: 'Create invite link' }).click()
    const link = await page.locator('#invite-url').inputValue({ timeout: T })
    const m = /^(https?:\/\/[^/]+)\/join\/([A-Za-z0-9_-]{20,})$/.exec(link)
    if (!m || m[1] !== base) throw new Error(`invite link ${link}`)
    s.inviteToken = m[2]
    await page.getByRole('button', { name: 'Copy link' }).click()
    await page.getByRole('button', { name: 'Copied' }).waitFor({ timeout: T })
    await shot('invite-link-desktop')
    const copied = await page.evaluate(() => navigator.clipboard.readText())
    if (copied !== link) throw new Error(`clipboard has ${JSON.stringify(copied)}`)
    await page.getByTestId('invite-list').getByText('0 of 1 use').waitFor({ timeout: T })
    const invs = (await rest(page, `/api/collections/invites/records?${q({ filter: `group = "${s.gid}"` })}`)).json
    if (invs?.totalItems !== 1 || invs.items[0].max_uses !== 1 || invs.items[0].uses !== 0 || 'token' in invs.items[0] || 'token_hash' in invs.items[0]) throw new Error(`invites (REST): ${JSON.stringify(invs)}`)
    const days = (Date.parse(invs.items[0].expires.replace(' ', 'T')) - Date.now()) / 86400e3
    if (days < 6.9 || days > 7.01) throw new Error(`expires in ${days} days`)
    // shown once: a reload does not show it again
    await page.reload()
    await page.getByTestId('invite-list').waitFor({ timeout: T })
    if (await page.locator('#invite-url').count()) throw new Error('the link is shown again after a reload')
    // the owner watches the group page while the invitee joins (realtime)
    await page.goto(`${base}/g/${s.gid}`)
    await page.getByTestId('group-members').waitFor({ timeout: T })

    const ctxC = await browser.newContext({ viewport: DESKTOP })
    const pc = await ctxC.newPage()
    s.pageC = pc
    await pc.goto(copied)
    await pc.getByRole('heading', { name: 'You are invited to a group' }).waitFor({ timeout: T })
    if ((await pc.title()) !== 'You are invited · Pocketbus') throw new Error(`title ${await pc.title()}`)
    await pc.getByRole('link', { name: 'Create an account' }).click()
    await pc.getByLabel('Name').fill(userC.name)
    await pc.getByLabel('Email address').fill(userC.email)
    await pc.getByLabel('Password', { exact: true }).fill(userC.password)
    await pc.getByLabel('Confirm password').fill(userC.password)
    await pc.getByRole('button', { name: 'Create account' }).click()
    await pc.getByRole('heading', { name: 'Join Team Alpha?' }).waitFor({ timeout: T })
    if (new URL(pc.url()).pathname !== `/join/${s.inviteToken}`) throw new Error(`after sign-up at ${pc.url()}`)
    if ((await pc.title()) !== 'Join Team Alpha? · Pocketbus') throw new Error(`title ${await pc.title()}`)
    await pc.getByText(`${userA.name} invited you`).waitFor({ timeout: T })
    await shot('join-desktop', pc)
    await pc.getByRole('button', { name: 'Join Team Alpha' }).click()
    await waitFor(() => new URL(pc.url()).pathname === `/g/${s.gid}`, { what: 'the new member on the group page' })
    await pc.getByTestId('group-name').getByText('Team Alpha').waitFor({ timeout: T })
    s.authC = await authOf(pc)
    const ms = (await rest(page, `/api/collections/memberships/records?${q({ filter: `group = "${s.gid}"`, expand: 'user' })}`)).json
    if (!ms.items.some((x) => x.user === s.authC.record.id)) throw new Error('no membership row for the new member (REST)')
    const ownA = (await authOf(page)).record.id
    const others = ms.items.filter((x) => x.user !== ownA)
    if (!others.length || others.some((x) => !x.expand?.user || x.expand.user.email || 'groups' in x.expand.user)) throw new Error(`the owner sees of a co-member: ${JSON.stringify(others.map((x) => x.expand?.user))}`)
    // the owner sees them join without reloading: members and activity
    await page.getByTestId('group-members').getByText(userC.name).waitFor({ timeout: T })
    await page.getByTestId('activity').getByText(`${userC.name} joined (invited by ${userA.name})`).waitFor({ timeout: T })
    // used up: REST says 404, a third user gets the plain page
    const used = await rest(s.pageB, `/api/pocketbus/invites/${s.inviteToken}`)
    if (used.status !== 404) throw new Error(`used-up invite answers ${used.status}`)
    await s.pageB.goto(copied)
    await s.pageB.getByRole('heading', { name: 'This invite link is no longer valid' }).waitFor({ timeout: T })
    if ((await s.pageB.title()) !== 'Invite no longer valid · Pocketbus') throw new Error(`title ${await s.pageB.title()}`)
    if (await s.pageB.getByRole('button', { name: /^Join/ }).count()) throw new Error('a used-up link still offers Join')
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByText('None. Links that expired or were used up are not listed.').waitFor({ timeout: T })
  }, { needs: false })

  // The member issues a credential and holds a web-token connection; the
  // owner removes them in the dialog. Returns what the checks need.
  const memberWithAccess = async (credName) => {
    const issued = await rest(s.pageC, `/api/pocketbus/projects/${s.pid}/credentials`, { method: 'POST', body: { name: credName } })
    if (issued.status !== 200) throw new Error(`member issue: ${issued.status} ${issued.text}`)
    const nc = await natsConnect({ authenticator: credsAuth(issued.json.creds), name: credName })
    cleanup.push(() => nc.close().catch(() => {}))
    const tok = await rest(s.pageC, `/api/pocketbus/projects/${s.pid}/token`, { method: 'POST', body: {} })
    if (tok.status !== 200) throw new Error(`member token: ${tok.status}`)
    const web = await natsConnect({ authenticator: nats.jwtAuthenticator(tok.json.jwt, new TextEncoder().encode(tok.json.seed)), name: 'member-web' })
    cleanup.push(() => web.close().catch(() => {}))
    return { id: issued.json.id, creds: issued.json.creds, nc, web }
  }
  const openRemoval = async () => {
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByTestId('member-list').locator('li', { hasText: userC.name }).getByRole('button', { name: 'Remove' }).click({ timeout: T })
    const dlg = page.getByTestId('remove-dialog')
    await dlg.getByText(`Remove ${userC.name} from`).waitFor({ timeout: T })
    await dlg.getByText('browser sessions on the group’s projects are disconnected').waitFor({ timeout: T })
    return dlg
  }
  const liveCount = async () => (await rest(page, `/api/collections/credentials/records?${q({ filter: `created_by = "${s.authC.record.id}" && project.group = "${s.gid}" && revoked = ""` })}`)).json.totalItems
  const stillMember = async () => (await rest(page, `/api/collections/memberships/records?${q({ filter: `group = "${s.gid}" && user = "${s.authC.record.id}"` })}`)).json.totalItems > 0

  await step('removal dialog: says what happens; without "keep" the member\'s credential is refused and their web-token connection closes', async () => {
    if (!s.authC) throw new Error('no invited member')
    await s.pageC.goto(`${base}/g/${s.gid}/p/${s.pid}/tail`)
    await waitFor(async () => (await s.pageC.getByTestId('nats-status').textContent()) === 'connected', { what: 'member browser NATS connection' })
    const a = await memberWithAccess('cy-svc')
    const n = await liveCount()
    if (n !== 1) throw new Error(`member has ${n} live credentials (REST), want 1`)
    const dlg = await openRemoval()
    await dlg.getByText('The 1 credential they created in this group’s projects is revoked').waitFor({ timeout: T })
    if (await dlg.getByLabel('Keep their credentials').isChecked()) throw new Error('"keep" checked by default')
    await shot('remove-member-desktop')
    const t0 = Date.now()
    const del = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().includes(`/members/${s.authC.record.id}`), { timeout: T })
    const at = (nc) => nc.closed().then(() => Date.now())
    const [webAt, credAt] = [at(a.web), at(a.nc)]
    await dlg.getByRole('button', { name: 'Remove member' }).click()
    const res = await del
    const t1 = Date.now()
    if (res.status() !== 204 || res.url().includes('keep_credentials=true')) throw new Error(`DELETE ${res.url()} → ${res.status()}`)
    const [web, cred] = await Promise.all([closesWithin(a.web, 5000), closesWithin(a.nc, 5000)])
    if (web !== 'closed') throw new Error('member web-token connection still open 5 s after removal')
    if (cred !== 'closed') throw new Error('member credential connection still open 5 s after removal')
    log(`      removal: DELETE answered ${t1 - t0} ms after the click; web-token connection closed ${(await webAt) - t1} ms, credential connection ${(await credAt) - t1} ms after the answer`)
    if (await canConnect(a.creds)) throw new Error('removed member\'s credential still connects')
    if (await stillMember()) throw new Error('still a member (REST)')
    const rec = (await rest(page, `/api/collections/credentials/records/${a.id}`)).json
    if (!rec?.revoked) throw new Error(`credential record not revoked: ${JSON.stringify(rec)}`)
    await waitFor(async () => (await page.getByTestId('member-list').getByText(userC.name).count()) === 0, { what: 'member gone from the list' })
    // the member's own browser: connection lost, group gone from the selector (realtime)
    await waitFor(async () => (await s.pageC.getByTestId('nats-status').textContent()) !== 'connected', { what: 'member browser NATS disconnected' })
    await waitFor(async () => !(await switcherGroups(s.pageC)).some((t) => t.includes('Team Alpha')), { what: 'group gone from the member\'s selector (realtime)' })
  }, { needs: false })

  await step('removal dialog with "Keep their credentials": the member\'s credential still connects', async () => {
    if (!s.authC) throw new Error('no invited member')
    const inv = await rest(page, `/api/pocketbus/groups/${s.gid}/invites`, { method: 'POST', body: {} })
    if (inv.status !== 200) throw new Error(`invite: ${inv.status} ${inv.text}`)
    const acc = await rest(s.pageC, `/api/pocketbus/invites/${inv.json.token}/accept`, { method: 'POST', body: {} })
    if (acc.status !== 200) throw new Error(`accept: ${acc.status} ${acc.text}`)
    const a = await memberWithAccess('cy-kept')
    const dlg = await openRemoval()
    await dlg.getByText('The 1 credential they created in this group’s projects is revoked').waitFor({ timeout: T })
    await dlg.getByLabel('Keep their credentials').check()
    await dlg.getByText('keeps working and stays in the projects’ credential lists').waitFor({ timeout: T })
    await dlg.getByRole('button', { name: 'Remove member' }).click()
    await waitFor(async () => !(await stillMember()), { what: 'membership gone (REST)' })
    if ((await closesWithin(a.web, 3000)) !== 'closed') throw new Error('member web-token connection still open 3 s after removal')
    if (a.nc.isClosed()) throw new Error('kept credential was disconnected')
    if (!(await canConnect(a.creds))) throw new Error('kept credential no longer connects')
    const rec = (await rest(page, `/api/collections/credentials/records/${a.id}`)).json
    if (rec?.revoked) throw new Error('kept credential is marked revoked')
    await page.goto(`${base}/g/${s.gid}/p/${s.pid}/credentials`)
    await page.locator('li[data-cred="cy-kept"]').getByText('by a former member').waitFor({ timeout: T })
    await page.locator('li[data-cred="cy-kept"]').getByText('Active', { exact: true }).waitFor({ timeout: T })
    const ev = (await rest(page, `/api/collections/events/records?${q({ filter: `group = "${s.gid}" && action = "member.removed"`, sort: '-created' })}`)).json
    const kept = ev.items.map((e) => e.data.kept_credentials)
    if (JSON.stringify(kept) !== '[true,false]') throw new Error(`member.removed events kept_credentials ${JSON.stringify(kept)}`)
    await a.nc.close()
  }, { needs: false })

  await step('activity: sentences from events, newest first, refreshed by realtime', async () => {
    await page.goto(`${base}/g/${s.gid}`)
    const act = page.getByTestId('activity')
    await act.getByText(`${userA.name} removed a former member and kept their credentials`).waitFor({ timeout: T })
    await act.getByText(`${userA.name} removed a former member and revoked their 1 credential`).waitFor({ timeout: T })
    await act.getByText(`${userA.name} revoked credential “cy-svc” in “Orders” (member removed)`).waitFor({ timeout: T })
    await act.getByText(`${userA.name} created an invite link (1 use)`).first().waitFor({ timeout: T })
    const first = await act.locator('li').first().textContent()
    if (!first.includes('kept their credentials')) throw new Error(`newest entry is ${first}`)
    // a change made elsewhere shows up without reloading
    const r = await rest(page, `/api/pocketbus/projects/${s.pid}/credentials`, { method: 'POST', body: { name: 'from-rest' } })
    if (r.status !== 200) throw new Error(`issue: ${r.status}`)
    await act.getByText(`${userA.name} issued credential “from-rest” for “Orders”`).waitFor({ timeout: T })
    await rest(page, `/api/pocketbus/credentials/${r.json.id}/revoke`, { method: 'POST', body: {} })
    await act.getByText(`${userA.name} revoked credential “from-rest” in “Orders”`).waitFor({ timeout: T })
    await shot('group-activity-desktop')
    await s.pageC.context().close()
  }, { needs: false })

  await step('group settings: rename; plain-word refusal of a duplicate name', async () => {
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByLabel('Group name').fill(userA.name)
    await page.getByRole('button', { name: 'Rename' }).click()
    await page.getByText('the owner already has a group named').first().waitFor({ timeout: T })
    await page.getByLabel('Group name').fill('Team Alpha One')
    await page.getByRole('button', { name: 'Rename' }).click()
    await page.getByText('Saved.').waitFor({ timeout: T })
  }, { needs: false })

  await step('group settings: transfer ownership to a member and back, the member leaves', async () => {
    if (!s.pageB) throw new Error('no second user page')
    const pb2 = s.pageB
    const tokenOf = (p) => p.evaluate(() => JSON.parse(localStorage.getItem('pocketbase_auth') || '{}'))
    const authA = await tokenOf(page)
    const authB = await tokenOf(pb2)
    const getAs = (auth, p) => fetch(`${base}${p}`, { headers: { Authorization: auth.token } })
    const ownerNow = async () => (await (await getAs(authA, `/api/collections/groups/records/${s.gid}`)).json()).owner
    // A invites B, who is signed in and accepts on the join page; then A hands the group over
    const inv = await rest(page, `/api/pocketbus/groups/${s.gid}/invites`, { method: 'POST', body: { max_uses: 2 } })
    if (inv.status !== 200) throw new Error(`invite: ${inv.status} ${inv.text}`)
    await pb2.goto(inv.json.url)
    await pb2.getByRole('heading', { name: 'Join Team Alpha One?' }).waitFor({ timeout: T })
    await pb2.getByRole('button', { name: 'Join Team Alpha One' }).click()
    await waitFor(() => new URL(pb2.url()).pathname === `/g/${s.gid}`, { what: 'B on the group page' })
    // opening the link again as a member goes straight to the group
    await pb2.goto(inv.json.url)
    await waitFor(() => new URL(pb2.url()).pathname === `/g/${s.gid}`, { what: 'a member opening the link again lands on the group' })
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByTestId('member-list').getByText(userB.name).waitFor({ timeout: T })
    await page.getByLabel('New owner').selectOption({ label: userB.name })
    await page.getByRole('button', { name: 'Transfer', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Transfer ownership' }).click()
    await waitFor(async () => (await ownerNow()) === authB.record.id, { what: 'B owns the group (REST)' })
    await page.getByText('Only the owner can rename the group.').waitFor({ timeout: T })
    await waitFor(async () => (await page.getByRole('heading', { name: 'Transfer ownership' }).count()) === 0, { what: 'A no longer offered owner actions' })
    if (await page.getByRole('button', { name: 'Delete group' }).count()) throw new Error('former owner still offered Delete group')
    await page.getByTestId('member-list').locator('li', { hasText: userB.name }).getByText('Owner', { exact: true }).waitFor({ timeout: T })
    // B, now the owner, gives it back to A in B's own session
    await pb2.goto(`${base}/g/${s.gid}/settings`)
    await pb2.getByRole('heading', { name: 'Transfer ownership' }).waitFor({ timeout: T })
    await pb2.getByLabel('New owner').selectOption({ label: userA.name })
    await pb2.getByRole('button', { name: 'Transfer', exact: true }).click()
    await pb2.getByRole('dialog').getByRole('button', { name: 'Transfer ownership' }).click()
    await waitFor(async () => (await ownerNow()) === authA.record.id, { what: 'A owns the group again (REST)' })
    // B, a plain member again, leaves
    const leave = pb2.getByTestId('member-list').locator('li', { hasText: userB.name }).getByRole('button', { name: 'Leave' })
    await leave.click()
    await pb2.getByRole('dialog').getByText('You created no credentials in this group’s projects that are still active.').waitFor({ timeout: T })
    if (await pb2.getByRole('dialog').getByLabel('Keep their credentials').count()) throw new Error('leaving offers to keep credentials')
    await pb2.getByRole('dialog').getByRole('button', { name: 'Leave group' }).click()
    await waitFor(() => new URL(pb2.url()).pathname === `/g/${authB.record.mygroup}`, { what: 'B back on their personal group' })
    const g = await getAs(authB, `/api/collections/groups/records/${s.gid}`)
    if (g.status !== 404) throw new Error(`B still reads the group after leaving: ${g.status}`)
    const members = await (await getAs(authA, `/api/collections/memberships/records?filter=${encodeURIComponent(`group = "${s.gid}"`)}`)).json()
    if (members.items?.some((m) => m.user === authB.record.id) || members.totalItems !== 1) throw new Error(`members after leave: ${JSON.stringify(members.items?.map((m) => m.user))}`)
    await waitFor(async () => !(await switcherGroups(pb2)).some((t) => t.includes('Team Alpha')), { what: 'group gone from B\'s selector' })
    await pb2.context().close()
  }, { needs: false })

  await step('page weight and time to first render of the group page', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP })
    await ctx.addInitScript(([k, v]) => localStorage.setItem(k, v), ['pocketbase_auth', await page.evaluate(() => localStorage.getItem('pocketbase_auth'))])
    const p = await ctx.newPage()
    const assets = new Set()
    p.on('response', (r) => { if (/\.(js|css)$/.test(new URL(r.url()).pathname)) assets.add(new URL(r.url()).pathname) })
    await p.goto(`${base}/g/${s.gid}`)
    await p.getByTestId('project-list').waitFor({ timeout: T })
    const t = await p.evaluate(() => ({
      firstRender: window.__pbFirstRender,
      fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime,
      dcl: performance.getEntriesByType('navigation')[0]?.domContentLoadedEventEnd,
    }))
    let js = 0, css = 0
    for (const a of assets) {
      const gz = gzipSync(readFileSync(join(WEB, 'dist', a))).length
      if (a.endsWith('.css')) css += gz
      else js += gz
    }
    let all = 0
    for (const f of execFileSync('find', [join(WEB, 'dist', 'assets'), '-type', 'f']).toString().trim().split('\n')) all += gzipSync(readFileSync(f)).length
    s.metrics = { js, css, all, ...t, files: [...assets].map((a) => basename(a)) }
    log(`      PAGE WEIGHT (group page, gzipped): JS ${(js / 1024).toFixed(1)} KiB + CSS ${(css / 1024).toFixed(1)} KiB = ${((js + css) / 1024).toFixed(1)} KiB in ${assets.size} files; whole app incl. lazy NATS pages ${(all / 1024).toFixed(1)} KiB`)
    log(`      FIRST RENDER (group page): first contentful paint ${t.fcp?.toFixed(0)} ms, projects list rendered ${t.firstRender?.toFixed(0)} ms after navigation start (DOMContentLoaded ${t.dcl?.toFixed(0)} ms)`)
    if (!(t.firstRender > 0)) throw new Error('no first-render mark')
    await ctx.close()
  }, { needs: false })

  await step('phone-width screenshots and layout', async () => {
    await page.setViewportSize(PHONE)
    const pages = [
      ['group', `/g/${s.gid}`, () => page.getByTestId('project-list').waitFor({ timeout: T })],
      ['project', `/g/${s.gid}/p/${s.pid}`, () => page.getByTestId('account-key').waitFor({ timeout: T })],
      ['credentials', `/g/${s.gid}/p/${s.pid}/credentials`, () => page.locator('li[data-cred]').first().waitFor({ timeout: T })],
      ['tail', `/g/${s.gid}/p/${s.pid}/tail`, () => page.getByText('Waiting for messages…').waitFor({ timeout: T })],
      ['kv', `/g/${s.gid}/p/${s.pid}/kv`, () => page.getByRole('button', { name: /^cfg/ }).waitFor({ timeout: T })],
    ]
    for (const [name, path, ready] of pages) {
      await page.goto(`${base}${path}`)
      await ready()
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
      if (overflow > 2) throw new Error(`${name} page scrolls sideways by ${overflow}px at phone width`)
      await shot(`${name}-phone`)
    }
    await page.getByRole('button', { name: 'Menu' }).click()
    await page.getByRole('link', { name: 'Object stores' }).waitFor({ timeout: T })
    await shot('menu-phone')
    await page.setViewportSize(DESKTOP)
    const p2 = await browser.newPage({ viewport: PHONE })
    await p2.goto(`${base}/signin`)
    await p2.getByRole('heading', { name: 'Sign in to Pocketbus' }).waitFor({ timeout: T })
    await shot('signin-phone', p2)
    await p2.close()
  }, { needs: false })

  await step('keyboard: tab reaches the group selector with a visible focus ring', async () => {
    await page.goto(`${base}/g/${s.gid}`)
    await page.getByTestId('project-list').waitFor({ timeout: T })
    await page.keyboard.press('Tab') // the skip link
    await page.keyboard.press('Tab') // the home link
    await page.keyboard.press('Tab')
    const f = await page.evaluate(() => ({ id: document.activeElement?.id, outline: getComputedStyle(document.activeElement).outlineStyle }))
    if (f.id !== 'group-switcher') throw new Error(`focus on ${JSON.stringify(f)}`)
    if (f.outline === 'none') throw new Error('no visible focus ring')
  }, { needs: false })

  // An independent NATS client for the project, from a fresh web token (the
  // .creds client was revoked above).
  const projectJs = async () => {
    if (!s.pnc) {
      const token = await page.evaluate(() => JSON.parse(localStorage.getItem('pocketbase_auth') || '{}').token)
      const r = await fetch(`${base}/api/pocketbus/projects/${s.pid}/token`, { method: 'POST', headers: { Authorization: token, 'Content-Type': 'application/json' }, body: '{}' })
      if (!r.ok) throw new Error(`project token: ${r.status}`)
      const tok = await r.json()
      const nc = await nats.connect({ servers: info.nats.url, authenticator: nats.jwtAuthenticator(tok.jwt, new TextEncoder().encode(tok.seed)), name: 'e2e-check', maxReconnectAttempts: 0 })
      cleanup.push(() => nc.close().catch(() => {}))
      const { jetstreamManager } = await import('@nats-io/jetstream')
      s.pnc = nc
      s.jsm = await jetstreamManager(nc)
    }
    return { nc: s.pnc, jsm: s.jsm }
  }
  const streamGone = async (jsm, name) => jsm.streams.info(name).then(() => false, (e) => /not found/i.test(e.message))
  const openData = async (kind, ready) => {
    await page.goto(`${base}/g/${s.gid}/p/${s.pid}/${kind}`)
    await waitFor(async () => (await page.getByTestId('nats-status').textContent()) === 'connected', { what: 'web app NATS connection' })
    await ready()
  }

  await step('streams: purge, then delete (type to confirm)', async () => {
    const { jsm } = await projectJs()
    if (!((await jsm.streams.info('ORDERS')).state.messages > 0)) throw new Error('ORDERS has no messages to purge')
    await openData('streams', () => page.getByRole('button', { name: /^ORDERS/ }).click({ timeout: T }))
    await page.getByText('first order').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Purge', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Purge' }).click()
    await waitFor(async () => (await jsm.streams.info('ORDERS')).state.messages === 0, { what: 'ORDERS purged (client)' })
    await page.getByText('No messages.').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Delete', exact: true }).click()
    const confirmBtn = page.getByRole('dialog').getByRole('button', { name: 'Delete stream' })
    if (await confirmBtn.isEnabled()) throw new Error('delete enabled before typing the name')
    await page.getByRole('dialog').getByLabel(/Type/).fill('ORDERS')
    await confirmBtn.click()
    await waitFor(() => streamGone(jsm, 'ORDERS'), { what: 'ORDERS deleted (client)' })
    await page.getByText('No streams yet.').waitFor({ timeout: T })
  }, { needs: false })

  await step('KV: delete a key, then delete the bucket', async () => {
    const { nc, jsm } = await projectJs()
    const kv = await new Kvm(nc).open('cfg')
    if ((await kv.get('color'))?.operation !== 'PUT') throw new Error('cfg/color missing before delete')
    await openData('kv', () => page.getByRole('button', { name: /^cfg/ }).click({ timeout: T }))
    await page.getByTestId('kv-keys').getByRole('button', { name: 'color' }).click({ timeout: T })
    await page.getByTestId('kv-value').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Delete', exact: true }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Delete key' }).click()
    await waitFor(async () => (await kv.get('color'))?.operation === 'DEL', { what: 'delete marker for color (client)' })
    await page.getByText('Deleted.', { exact: true }).waitFor({ timeout: T })
    await waitFor(async () => (await page.getByTestId('kv-keys').count()) === 0, { what: 'key gone from the key list' })
    await page.getByRole('button', { name: 'Delete bucket' }).click()
    await page.getByRole('dialog').getByLabel(/Type/).fill('cfg')
    await page.getByRole('dialog').getByRole('button', { name: 'Delete bucket' }).click()
    await waitFor(() => streamGone(jsm, 'KV_cfg'), { what: 'bucket cfg deleted (client)' })
    await page.getByText('No buckets yet.').waitFor({ timeout: T })
  }, { needs: false })

  await step('objects: delete an object, then delete the store', async () => {
    const { nc, jsm } = await projectJs()
    const os = await new Objm(nc).open('files')
    if (!(await os.info('report.txt')) || (await os.info('report.txt')).deleted) throw new Error('files/report.txt missing before delete')
    await openData('objects', () => page.getByRole('button', { name: /^files/ }).click({ timeout: T }))
    await page.locator('li[data-object="report.txt"]').getByRole('button', { name: 'Delete' }).click({ timeout: T })
    await page.getByRole('dialog').getByRole('button', { name: 'Delete object' }).click()
    await waitFor(async () => (await os.info('report.txt'))?.deleted === true, { what: 'report.txt deleted (client)' })
    await page.getByText('No objects. Upload a file.').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Delete store' }).click()
    await page.getByRole('dialog').getByLabel(/Type/).fill('files')
    await page.getByRole('dialog').getByRole('button', { name: 'Delete store' }).click()
    await waitFor(() => streamGone(jsm, 'OBJ_files'), { what: 'store files deleted (client)' })
    await page.getByText('No object stores yet.').waitFor({ timeout: T })
  }, { needs: false })

  await step('disable/enable project, delete project, delete group (not the personal one)', async () => {
    await page.goto(`${base}/g/${s.gid}/p/${s.pid}`)
    await page.getByTestId('toggle-project').click()
    await page.getByRole('dialog').getByRole('button', { name: 'Disable project' }).click()
    await page.getByTestId('project-status').getByText('Disabled').waitFor({ timeout: T })
    await page.getByTestId('toggle-project').click()
    await page.getByTestId('project-status').getByText('Active').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Delete project' }).click()
    await page.getByRole('dialog').getByLabel(/Type/).fill('Orders')
    await page.getByRole('dialog').getByRole('button', { name: 'Delete project' }).click()
    await waitFor(() => url() === `/g/${s.gid}`, { what: 'back on the group page' })
    await page.getByText('No projects yet').waitFor({ timeout: T })
    await page.goto(`${base}/g/${s.personal}/settings`)
    await page.getByRole('heading', { name: 'Group settings' }).waitFor({ timeout: T })
    await page.getByText('A personal group is yours alone').waitFor({ timeout: T })
    if (await page.getByRole('button', { name: 'Delete group' }).count()) throw new Error('personal group offers delete')
    if (await page.getByRole('heading', { name: 'Transfer ownership' }).count()) throw new Error('personal group offers a transfer')
    await page.goto(`${base}/g/${s.gid}/settings`)
    await page.getByRole('button', { name: 'Delete group' }).click()
    await page.getByRole('dialog').getByLabel(/Type/).fill('Team Alpha One')
    await page.getByRole('dialog').getByRole('button', { name: 'Delete group' }).click()
    await waitFor(() => url() === `/g/${s.personal}`, { what: 'back on the personal group' })
    await waitFor(async () => !(await switcherGroups(page)).some((t) => t.includes('Team Alpha')), { what: 'group gone from selector' })
  }, { needs: false })

  // ===================================================================
  // web-pages: the data views, the credentials page, duplicate names,
  // rotation and sharing (issues 10 and 11). Self-contained (its own group
  // and projects) and checked from outside the page where it matters: NATS
  // clients with issued credentials, the nats CLI, REST.
  // ===================================================================
  const wp = {}
  const wpIssue = async (pid, name, body = {}) => {
    const r = await rest(page, `/api/pocketbus/projects/${pid}/credentials`, { method: 'POST', body: { name, ...body } })
    if (r.status !== 200) throw new Error(`issue ${name}: ${r.status} ${r.text}`)
    return r.json
  }
  const wpConnect = async (creds, name) => {
    const nc = await natsConnect({ authenticator: credsAuth(creds), name })
    cleanup.push(() => nc.close().catch(() => {}))
    return nc
  }
  const wpFooter = () => page.getByTestId('nats-status').textContent()
  const wpAuthed = async (opts) => {
    const ctx = await browser.newContext({ viewport: DESKTOP, ...opts })
    await ctx.addInitScript(([k, v]) => localStorage.setItem(k, v), ['pocketbase_auth', await page.evaluate(() => localStorage.getItem('pocketbase_auth'))])
    const p = await ctx.newPage()
    p.on('console', (m) => m.type() === 'error' && consoleErrors.push(`[${opts?.timezoneId ?? 'second tab'}] ${m.text()}`))
    p.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`))
    return p
  }
  // The nats CLI (as the SDK's tests get it): on PATH, built before, or built now; null when it cannot be had.
  const wpNatsCli = async () => {
    const { spawnSync } = await import('node:child_process')
    const tools = join(tmpdir(), 'pocketbus-tools')
    for (const c of ['nats', join(tools, 'nats')]) if (spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0) return c
    log('      building the nats CLI (go install github.com/nats-io/natscli/nats@v0.5.0)…')
    const r = spawnSync('go', ['install', 'github.com/nats-io/natscli/nats@v0.5.0'], { env: { ...process.env, GOBIN: tools, GOFLAGS: '-mod=mod' }, stdio: 'ignore', timeout: 600_000 })
    return r.status === 0 ? join(tools, 'nats') : null
  }
  const wpRunCli = (args) => execFileSync(wp.cli, args, { cwd: wp.dir, encoding: 'utf8', timeout: 30_000, env: { ...process.env, HOME: wp.dir, NATS_CONTEXT: '' } })

  await step('web-pages: setup — a group with projects Exporter and Importer; data made from outside: KV keys with history, an object put by the nats CLI, a stream of 60 messages with a durable consumer', async () => {
    await page.setViewportSize(DESKTOP)
    await page.goto(`${base}/new-group`)
    await page.getByLabel('Group name').fill('Pages Team')
    await page.getByRole('button', { name: 'Create group' }).click()
    await waitFor(() => /^\/g\/[^/]+$/.test(url()), { what: 'the new group' })
    wp.gid = url().split('/')[2]
    for (const n of ['Exporter', 'Importer']) {
      await page.goto(`${base}/g/${wp.gid}/new-project`)
      await page.getByLabel('Project name').fill(n)
      await page.getByRole('button', { name: 'Create project' }).click()
      await waitFor(() => /^\/g\/[^/]+\/p\/[^/]+$/.test(url()), { what: `project ${n}` })
      wp[n] = url().split('/')[4]
    }
    const cr = await wpIssue(wp.Exporter, 'outside')
    wp.outsideCreds = cr.creds
    wp.nc = await wpConnect(cr.creds, 'wp-outside')
    const { jetstream, jetstreamManager, AckPolicy } = await import('@nats-io/jetstream')
    wp.jsm = await jetstreamManager(wp.nc)
    wp.js = jetstream(wp.nc)
    const kv = await new Kvm(wp.nc).create('settings', { history: 5 })
    for (const k of ['alpha', 'beta', 'gamma']) for (let i = 1; i <= 3; i++) await kv.put(k, `${k}-v${i}`)
    const os = await new Objm(wp.nc).create('docs')
    await wp.jsm.streams.add({ name: 'EVENTS', subjects: ['events.>'] })
    for (let i = 1; i <= 60; i++) await wp.js.publish(i % 3 === 0 ? 'events.click' : 'events.view', JSON.stringify({ n: i }))
    await wp.jsm.consumers.add('EVENTS', { durable_name: 'audit', ack_policy: AckPolicy.Explicit })
    wp.dir = mkdtempSync(join(tmp, 'wp-cli-'))
    writeFileSync(join(wp.dir, 'app.creds'), cr.creds)
    writeFileSync(join(wp.dir, 'api.txt'), 'uploaded by the nats CLI')
    wp.cli = await wpNatsCli()
    if (wp.cli) {
      wpRunCli(['--server', info.nats.url, '--creds', 'app.creds', 'object', 'put', 'docs', 'api.txt'])
      log(`      object docs/api.txt put with the nats CLI (${wp.cli})`)
    } else {
      // no CLI here: write what the Go client writes (mtime is Go's zero time)
      await os.putBlob({ name: 'api.txt' }, readFileSync(join(wp.dir, 'api.txt')))
      const subj = `$O.docs.M.${Buffer.from('api.txt').toString('base64url')}${'='.repeat((3 - (7 % 3)) % 3)}`
      const meta = (await wp.jsm.streams.getMessage('OBJ_docs', { last_by_subj: subj })).json()
      const h = nats.headers()
      h.set('Nats-Rollup', 'sub')
      await wp.js.publish(subj, JSON.stringify({ ...meta, mtime: '0001-01-01T00:00:00Z' }), { headers: h })
      log('      no nats CLI: docs/api.txt written as the Go client writes it (mtime 0001-01-01T00:00:00Z)')
    }
  }, { needs: false })

  await step('web-pages: names — a duplicate group or project name is said plainly as it is typed and when the server refuses it (new group, new project, rename)', async () => {
    if (!wp.Importer) throw new Error('no web-pages group')
    await page.goto(`${base}/new-group`)
    await page.getByLabel('Group name').fill('pages TEAM')
    await page.getByTestId('name-taken').getByText('You already own a group named “Pages Team”').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Create group' }).click()
    await page.getByTestId('name-error').getByText(/^You already own a group named “Pages Team”\. .*choose another name\.$/).waitFor({ timeout: T })
    await page.goto(`${base}/g/${wp.gid}/new-project`)
    await page.getByLabel('Project name').fill('EXPORTER')
    await page.getByTestId('name-taken').getByText('This group already has a project named “Exporter”').waitFor({ timeout: T })
    await page.getByTestId('name-taken').getByRole('link', { name: 'Open “Exporter”' }).waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Create project' }).click()
    await page.getByTestId('name-error').getByText(/^This group already has a project named “Exporter”\. .*choose another name\.$/).waitFor({ timeout: T })
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Importer}`)
    await page.getByRole('button', { name: 'Edit', exact: true }).click()
    await page.locator('#p-name').fill('exporter')
    await page.getByTestId('name-taken').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Save' }).click()
    await page.getByTestId('name-error').getByText('This group already has a project named “Exporter”').waitFor({ timeout: T })
    await page.getByRole('button', { name: 'Cancel' }).click()
    const names = (await rest(page, `/api/collections/projects/records?${q({ filter: `group = "${wp.gid}"`, sort: 'name' })}`)).json.items.map((x) => x.name)
    if (JSON.stringify(names) !== '["Exporter","Importer"]') throw new Error(`projects (REST): ${JSON.stringify(names)}`)
  }, { needs: false })

  await step('web-pages: browsing KV keys, history, watch and object stores back and forth leaves no consumers once the pages are left (jsm from outside, stats route); a watch consumer\'s inactive threshold is short, so a closed tab leaks nothing for long', async () => {
    const listed = async () => {
      const out = []
      for (const s of ['KV_settings', 'OBJ_docs']) for await (const c of wp.jsm.consumers.list(s)) out.push({ stream: s, name: c.name, idle: c.config.inactive_threshold / 1e9 })
      return out
    }
    let peak = 0
    const sample = async () => (peak = Math.max(peak, (await listed()).length))
    const pbase = `${base}/g/${wp.gid}/p/${wp.Exporter}`
    for (let round = 0; round < 2; round++) {
      // Round 1 goes back inside the app: a reload would leave round 0's
      // consumers to their inactive threshold (as a closed tab does, tested
      // below), and a quick round 1 then still finds them when it leaves.
      if (round === 0) await page.goto(`${pbase}/kv`)
      else await page.getByRole('link', { name: 'Key-Value' }).first().click()
      await page.getByRole('button', { name: /^settings/ }).click({ timeout: T })
      for (const k of ['alpha', 'beta', 'gamma']) {
        await page.getByTestId('kv-keys').getByRole('button', { name: k, exact: true }).click({ timeout: T })
        await page.locator('table').getByText(`${k}-v1`).waitFor({ timeout: T })
        await sample()
      }
      await page.getByRole('button', { name: 'Watch live' }).click()
      const watch = await waitFor(async () => (await listed()).find((c) => c.stream === 'KV_settings'), { what: 'the watch consumer (outside)' })
      if (!(watch.idle > 0 && watch.idle <= 15)) throw new Error(`the watch consumer's inactive threshold is ${watch.idle} s: a closed tab leaves it that long`)
      await sample()
      await page.getByRole('link', { name: 'Object stores' }).first().click()
      await page.getByRole('button', { name: /^docs/ }).click({ timeout: T })
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: T }), page.locator('li[data-object="api.txt"]').getByRole('button', { name: 'Download' }).click({ timeout: T })])
      if (readFileSync(await dl.path(), 'utf8') !== 'uploaded by the nats CLI') throw new Error('downloaded object differs')
      await sample()
      await page.getByRole('link', { name: 'Key-Value' }).first().click()
      await page.getByRole('button', { name: /^settings/ }).click({ timeout: T })
      await page.getByTestId('kv-keys').getByRole('button', { name: 'beta', exact: true }).click({ timeout: T })
      await page.locator('table').getByText('beta-v2').waitFor({ timeout: T })
      await sample()
    }
    // leave the data pages inside the app (no reload): the views clean up
    await page.getByRole('link', { name: 'Credentials' }).first().click()
    const t0 = Date.now()
    await waitFor(async () => (await listed()).length === 0, { timeout: 3000, what: 'no consumers on KV_settings and OBJ_docs within 3 s of leaving' })
      .catch(async (err) => { throw new Error(`${err.message}; left: ${JSON.stringify(await listed())}`) })
    const gone = Date.now() - t0
    const stats = await waitFor(async () => {
      const r = (await rest(page, `/api/pocketbus/projects/${wp.Exporter}/stats`)).json
      return r?.jetstream?.consumers === 1 ? r : null
    }, { timeout: 3000, what: 'stats route: jetstream.consumers 1 (the durable "audit")' })
    log(`      consumers on KV_settings + OBJ_docs: up to ${peak} while browsing, none ${gone} ms after leaving; stats jetstream.consumers ${stats.jetstream.consumers} (the durable "audit" on EVENTS)`)
    // a tab closed while watching runs no clean-up: the inactive threshold removes its consumer
    const p2 = await wpAuthed()
    await p2.goto(`${pbase}/kv`)
    await p2.getByRole('button', { name: /^settings/ }).click({ timeout: T })
    await p2.getByRole('button', { name: 'Watch live' }).click({ timeout: T })
    await waitFor(async () => (await listed()).length === 1, { what: 'the second tab\'s watch consumer (outside)' })
    await p2.context().close()
    const t1 = Date.now()
    await waitFor(async () => (await listed()).length === 0, { timeout: 30_000, interval: 500, what: 'the closed tab\'s watch consumer removed by its inactive threshold' })
    log(`      closed tab: its watch consumer was gone ${Date.now() - t1} ms after the tab closed (nats.js default threshold: 300 s)`)
  }, { needs: false })

  await step('web-pages: streams — consumer list, newest page that follows the stream by itself, older page, jump to a sequence, subject filter, one-line rows that expand', async () => {
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}/streams`)
    await page.getByRole('button', { name: /^EVENTS/ }).click({ timeout: T })
    const range = page.getByTestId('msg-range')
    await range.getByText('#36 – #60', { exact: true }).waitFor({ timeout: T })
    await page.getByTestId('consumer-list').locator('tr[data-consumer="audit"]').getByText('durable · pull').waitFor({ timeout: T })
    await page.getByRole('button', { name: '← Older' }).click()
    await range.getByText('#11 – #35', { exact: true }).waitFor({ timeout: T })
    await page.getByLabel('Sequence').fill('5')
    await page.getByRole('button', { name: 'Go to sequence' }).click()
    await range.getByText('#5 – #29', { exact: true }).waitFor({ timeout: T })
    await page.getByLabel('Subject filter').fill('events.click')
    await page.getByRole('button', { name: 'Filter', exact: true }).click()
    await range.getByText('#3 – #60 on events.click', { exact: true }).waitFor({ timeout: T })
    const rows = page.getByTestId('stream-messages').locator('li[data-seq]')
    const subjects = await rows.evaluateAll((ls) => [...new Set(ls.map((l) => l.dataset.subject))])
    if (JSON.stringify(subjects) !== '["events.click"]' || (await rows.count()) !== 20) throw new Error(`filtered page: ${await rows.count()} rows on ${subjects}`)
    await shot('streams-filter-desktop')
    await page.getByLabel('Subject filter').fill('')
    await page.getByRole('button', { name: 'Filter', exact: true }).click()
    await range.getByText('#36 – #60', { exact: true }).waitFor({ timeout: T })
    const t0 = Date.now()
    await wp.js.publish('events.view', JSON.stringify({ n: 61, late: true }))
    const row = page.getByTestId('stream-messages').locator('li[data-seq="61"]')
    await row.waitFor({ timeout: 10_000 })
    log(`      streams: a message published from outside showed ${Date.now() - t0} ms later, without Refresh`)
    const h = (await row.boundingBox()).height
    if (h > 30) throw new Error(`a 26-byte message takes ${h} px`)
    await row.getByRole('button').click()
    await row.locator('pre').getByText('"late": true').waitFor({ timeout: T })
  }, { needs: false })

  await step('web-pages: the live tail shows one line per message (NATS tools style) and expands one to its headers, reply subject and payload', async () => {
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}/tail`)
    await page.getByText('Waiting for messages…').waitFor({ timeout: T })
    await sleep(300)
    for (let i = 0; i < 12; i++) wp.nc.publish('sensor.temp', `temp=${20 + i}.5C`) // 10 bytes each
    const hd = nats.headers()
    hd.set('X-Unit', 'celsius')
    wp.nc.publish('sensor.meta', 'unit=C', { headers: hd, reply: 'reply.here' })
    await wp.nc.flush()
    const tail = page.getByTestId('tail')
    await tail.locator('[data-subject="sensor.meta"]').waitFor({ timeout: T })
    const heights = await tail.locator('li[data-subject]').evaluateAll((ls) => ls.map((l) => l.getBoundingClientRect().height))
    if (heights.length !== 13 || Math.max(...heights) > 30) throw new Error(`${heights.length} rows of ${heights.join(', ')} px (one line is at most 30 px)`)
    log(`      tail: 13 messages in ${Math.round(heights.reduce((a, b) => a + b, 0))} px (at most ${Math.max(...heights)} px a row)`)
    const meta = tail.locator('[data-subject="sensor.meta"]')
    await meta.getByRole('button').click()
    for (const t of ['X-Unit', 'celsius', 'reply.here']) await meta.getByText(t, { exact: true }).waitFor({ timeout: T })
    await shot('tail-rows-desktop')
  }, { needs: false })

  await step('web-pages: signing out forgets the tail: signed in again in the same tab (no reload), the tail starts empty', async () => {
    const tailPath = `/g/${wp.gid}/p/${wp.Exporter}/tail`
    if (url() !== tailPath) throw new Error(`expected to be on the tail, at ${url()}`)
    await page.getByTestId('tail').locator('li[data-subject]').first().waitFor({ timeout: T })
    await page.evaluate(() => (window.__e2eSameTab = true))
    await page.getByRole('button', { name: 'Sign out' }).click()
    await page.getByRole('heading', { name: 'Sign in to Pocketbus' }).waitFor({ timeout: T })
    // back to the tail inside the app: the guard sends it to sign-in, which returns there
    await page.evaluate((p) => { history.pushState({}, '', p); dispatchEvent(new PopStateEvent('popstate')) }, tailPath)
    await waitFor(() => url() === '/signin', { what: 'the sign-in page' })
    await page.getByLabel('Email address').fill(userA.email)
    await page.getByLabel('Password').fill(userA.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await waitFor(() => url() === tailPath, { what: 'back on the tail' })
    await page.getByTestId('tail').locator('li').first().waitFor({ timeout: T })
    if (!(await page.evaluate(() => window.__e2eSameTab))) throw new Error('the page reloaded: this checks nothing')
    const rows = await page.getByTestId('tail').locator('li[data-subject], li[data-testid="tail-gap"]').count()
    if (rows) throw new Error(`the tail shows ${rows} rows from before the sign-out`)
    await page.getByText('Waiting for messages…').waitFor({ timeout: T })
  }, { needs: false })

  await step('web-pages: objects — the CLI-put object shows its real date; drag-and-drop upload (read back by a client); empty stores and buckets show a nats CLI line that works as shown', async () => {
    const pbase = `${base}/g/${wp.gid}/p/${wp.Exporter}`
    await page.goto(`${pbase}/objects`)
    await page.getByRole('button', { name: /^docs/ }).click({ timeout: T })
    const when = await page.locator('li[data-object="api.txt"]').textContent({ timeout: T })
    if (when.includes('0001') || !when.includes(String(new Date().getFullYear()))) throw new Error(`the CLI object is dated: "${when}"`)
    await page.getByRole('button', { name: 'New' }).click()
    await page.getByLabel('Name').fill('inbox')
    await page.getByRole('button', { name: 'Create store' }).click()
    await page.getByRole('heading', { name: 'inbox' }).waitFor({ timeout: T })
    const line = await page.getByTestId('cli-line').textContent({ timeout: T })
    if (line !== `nats --server ${info.nats.url} --creds app.creds object put inbox report.pdf`) throw new Error(`empty store's CLI line: ${line}`)
    if (wp.cli) {
      writeFileSync(join(wp.dir, 'report.pdf'), '%PDF-1.4 not really')
      wpRunCli(line.split(' ').slice(1))
      await page.getByRole('button', { name: 'Refresh' }).click()
      await page.locator('li[data-object="report.pdf"]').waitFor({ timeout: T })
    }
    // drag and drop a file onto the store
    await page.evaluate(() => {
      const dt = new DataTransfer()
      dt.items.add(new File(['dropped on the card'], 'dropped.txt', { type: 'text/plain' }))
      const el = document.querySelector('[data-testid="object-drop"]')
      el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }))
      el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }))
    })
    await page.locator('li[data-object="dropped.txt"]').waitFor({ timeout: T })
    const got = Buffer.from(await (await new Objm(wp.nc).open('inbox')).getBlob('dropped.txt')).toString()
    if (got !== 'dropped on the card') throw new Error(`client read ${got}`)
    await shot('objects-desktop')
    // an empty bucket's line puts a key
    await page.getByRole('link', { name: 'Key-Value' }).first().click()
    await page.getByRole('button', { name: 'New' }).click()
    await page.getByLabel('Name').fill('blank')
    await page.getByRole('button', { name: 'Create bucket' }).click()
    const kvLine = await page.getByTestId('cli-line').textContent({ timeout: T })
    if (kvLine !== `nats --server ${info.nats.url} --creds app.creds kv put blank greeting hello`) throw new Error(`empty bucket's CLI line: ${kvLine}`)
    if (wp.cli) {
      wpRunCli(kvLine.split(' ').slice(1))
      await page.getByRole('button', { name: /^blank/ }).click()
      await page.getByTestId('kv-keys').getByRole('button', { name: 'greeting' }).waitFor({ timeout: T })
    }
  }, { needs: false })

  await step('web-pages: credentials page at 390 px in New York time — list first, New credential opens the form, hints not placeholders, no stale error, custom expiry names its time zone, Copy .creds (the copy connects), dismissing unsaved asks first, no sideways scroll', async () => {
    const p = await wpAuthed({ viewport: PHONE, timezoneId: 'America/New_York', permissions: ['clipboard-read', 'clipboard-write'] })
    wp.phone = p
    await p.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}/credentials`)
    await p.locator('li[data-cred="outside"]').waitFor({ timeout: T })
    if (await p.getByTestId('cred-form').count()) throw new Error('the form shows before the list')
    await p.getByTestId('new-credential').click()
    await p.getByRole('button', { name: /Permissions/ }).click()
    const placeholders = await p.getByTestId('cred-form').locator('input, textarea').evaluateAll((els) => els.map((e) => e.getAttribute('placeholder')).filter(Boolean))
    if (placeholders.length) throw new Error(`placeholders that look like values: ${JSON.stringify(placeholders)}`)
    await p.getByText('Subjects it may publish to, e.g. orders.>').waitFor({ timeout: T })
    await p.getByRole('button', { name: 'Issue credential' }).click()
    await p.getByText('Give the credential a name').waitFor({ timeout: T })
    await p.getByLabel('Name').fill('phone app')
    await waitFor(async () => (await p.getByText('Give the credential a name').count()) === 0, { what: 'the name error gone once a name is typed' })
    await p.getByLabel('Expires').selectOption('custom')
    await p.getByText('Date and time, in your time zone: America/New_York (UTC-05:00)').waitFor({ timeout: T })
    await p.locator('#cred-exp-custom').fill('2030-01-15T09:30')
    await p.getByTestId('expiry-meaning').getByText('in America/New_York (UTC-05:00) = 2030-01-15 14:30 UTC').waitFor({ timeout: T })
    await shot('credentials-form-phone', p)
    await p.getByRole('button', { name: 'Issue credential' }).click()
    await p.getByTestId('issued').waitFor({ timeout: T })
    const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    if (overflow > 2) throw new Error(`the issued credential scrolls sideways by ${overflow}px at 390 px`)
    await p.getByTestId('copy-creds').click()
    const copied = await p.evaluate(() => navigator.clipboard.readText())
    if (!copied.includes('BEGIN NATS USER JWT') || !copied.includes('BEGIN USER NKEY SEED')) throw new Error('Copy .creds did not copy a .creds file')
    wp.phoneNc = await wpConnect(copied, 'wp-phone-app') // the copy is the real secret
    await shot('credentials-issued-phone', p)
    await p.getByRole('button', { name: 'Done, I saved it' }).click()
    await p.locator('li[data-cred="phone app"]').getByText('expires Jan 15, 2030, 09:30 AM EST').waitFor({ timeout: T })
    const rec = (await rest(page, `/api/collections/credentials/records?${q({ filter: `project = "${wp.Exporter}" && name = "phone app"` })}`)).json.items[0]
    if (!rec?.expires?.startsWith('2030-01-15 14:30:00')) throw new Error(`expires on record: ${rec?.expires}`)
    // throwing an unsaved secret away asks first
    await p.getByTestId('new-credential').click()
    await p.getByLabel('Name').fill('throwaway')
    await p.getByRole('button', { name: 'Issue credential' }).click()
    await p.getByRole('button', { name: 'Dismiss without downloading' }).click()
    await p.getByRole('dialog').getByText('cannot be shown again').waitFor({ timeout: T })
    await p.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
    if (!(await p.getByTestId('issued').count())) throw new Error('Cancel threw the secret away')
    await p.getByRole('button', { name: 'Dismiss without downloading' }).click()
    await p.getByRole('dialog').getByRole('button', { name: 'Dismiss and lose the secret' }).click()
    await waitFor(async () => (await p.getByTestId('issued').count()) === 0, { what: 'the card gone after confirming' })
    await p.context().close()
  }, { needs: false })

  await step('web-pages: rotate in the project danger zone — clients on earlier credentials are closed, new credentials work, the list marks what is no longer valid, the page reconnects by itself (issue 11)', async () => {
    if (!wp.Exporter) throw new Error('no web-pages project')
    // clients on credentials issued before: the one copied on the credentials page (if that step ran) and one issued here
    const early = await wpIssue(wp.Exporter, 'before-rotation')
    const earlier = [await wpConnect(early.creds, 'wp-before-rotation'), ...(wp.phoneNc ? [wp.phoneNc] : []), ...(wp.nc && !wp.nc.isClosed() ? [wp.nc] : [])]
    // the app's own web-token connection, open on a data page in a second tab, must carry on
    const tab = await wpAuthed()
    await tab.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}/tail`)
    const tabStatus = tab.getByTestId('nats-status')
    await waitFor(async () => (await tabStatus.textContent()) === 'connected', { what: 'the second tab\'s NATS connection' })
    const renewals = Number(await tabStatus.getAttribute('data-renewals'))
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}`)
    await page.getByTestId('rotate').click()
    const dlg = page.getByRole('dialog')
    await dlg.getByText('Every credential and web token issued before now stops working; connections close within a second.').waitFor({ timeout: T })
    await shot('rotate-dialog-desktop')
    const t0 = Date.now()
    await dlg.getByRole('button', { name: 'Rotate credentials' }).click()
    const res = await Promise.all(earlier.map((nc) => closesWithin(nc, 3000)))
    if (res.some((r) => r !== 'closed')) throw new Error(`clients on earlier credentials: ${res.join(', ')} 3 s after rotating`)
    log(`      rotate: ${earlier.length} clients on earlier credentials closed within ${Date.now() - t0} ms of the click`)
    await page.getByTestId('rotated').waitFor({ timeout: T })
    if (await canConnect(wp.outsideCreds)) throw new Error('a credential issued before the rotation still connects')
    const fresh = await wpIssue(wp.Exporter, 'after-rotation')
    if (!(await canConnect(fresh.creds))) throw new Error('a credential issued after the rotation is refused')
    wp.freshCreds = fresh.creds
    await waitFor(async () => Number(await tabStatus.getAttribute('data-renewals')) > renewals && (await tabStatus.textContent()) === 'connected', { timeout: 20_000, what: 'the second tab\'s connection back with a fresh web token' })
    const tailOk = await tab.getByTestId('tail-status').getAttribute('data-live')
    if (tailOk !== 'true') throw new Error(`the second tab's tail after the rotation: live=${tailOk}`)
    await tab.context().close()
    const proj = (await rest(page, `/api/collections/projects/records/${wp.Exporter}`)).json
    if (!proj.revoked_before) throw new Error('no revoked_before on the project (REST)')
    await page.getByRole('link', { name: 'Credentials' }).first().click()
    await page.locator('li[data-cred="before-rotation"][data-state="rotated"]').getByText('No longer valid').waitFor({ timeout: T })
    await page.locator('li[data-cred="outside"][data-state="rotated"]').waitFor({ timeout: T })
    if (wp.phoneNc) await page.locator('li[data-cred="phone app"][data-state="rotated"]').waitFor({ timeout: T })
    await page.locator('li[data-cred="after-rotation"][data-state="active"]').getByText('Active', { exact: true }).waitFor({ timeout: T })
    await page.getByTestId('rotation-note').waitFor({ timeout: T })
    await shot('credentials-rotated-desktop')
  }, { needs: false })

  await step('web-pages: sharing between projects — the owner shares orders.> from Exporter with Importer in the UI, a client in Importer receives what is published in Exporter; refusals (reserved, catch-all, project gone) in plain words; stopping the share in the UI ends it (issue 11)', async () => {
    if (!wp.Importer) throw new Error('no web-pages projects')
    const exp = await wpConnect((await wpIssue(wp.Exporter, 'exporter-client')).creds, 'wp-exporter')
    const impCreds = (await wpIssue(wp.Importer, 'importer-client')).creds
    const inc = await wpConnect(impCreds, 'wp-importer')
    const got = []
    inc.subscribe('orders.>', { callback: (_e, m) => got.push(m.string()) })
    await inc.flush()
    const temp = (await rest(page, '/api/collections/projects/records', { method: 'POST', body: { name: 'Temp', group: wp.gid } })).json
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}`)
    await page.getByRole('button', { name: 'Share a subject' }).click()
    const form = page.getByRole('form', { name: 'New share' })
    const submit = () => form.getByRole('button', { name: 'Share', exact: true }).click()
    await form.getByLabel('Subject').fill('$SYS.ACCOUNT.x')
    await form.getByLabel('Share with').selectOption({ label: 'Importer' })
    await submit()
    await page.getByTestId('share-subject-error').getByText('The server refused this subject: subjects starting with $, _INBOX or _R_ belong to NATS and cannot be shared.').waitFor({ timeout: T })
    await form.getByLabel('Subject').fill('>')
    await submit()
    await page.getByTestId('share-subject-error').getByText('The server refused this subject: a shared subject starts with a literal token').waitFor({ timeout: T })
    await form.getByLabel('Subject').fill('orders.>')
    await form.getByLabel('Share with').selectOption({ label: 'Temp' })
    const del = await rest(page, `/api/collections/projects/records/${temp.id}`, { method: 'DELETE' })
    if (del.status !== 204) throw new Error(`delete Temp: ${del.status}`)
    await submit()
    await page.getByTestId('share-error').getByText('That project is not in this group any more').waitFor({ timeout: T })
    await form.getByLabel('Share with').selectOption({ label: 'Importer' })
    await submit()
    await page.locator('li[data-share="orders.>"][data-direction="out"]').getByText('→ “Importer”').waitFor({ timeout: T })
    const rows = (await rest(page, `/api/collections/exports/records?${q({ filter: `project = "${wp.Exporter}"` })}`)).json.items
    if (rows.length !== 1 || rows[0].to !== wp.Importer || rows[0].type !== 'stream' || rows[0].subject !== 'orders.>') throw new Error(`exports (REST): ${JSON.stringify(rows)}`)
    const t0 = Date.now()
    await waitFor(async () => {
      exp.publish('orders.1', 'shared order')
      await exp.flush()
      return got.includes('shared order')
    }, { timeout: 5000, interval: 100, what: 'the importer\'s client receiving orders.1 published in Exporter' })
    log(`      share: the importer's client received a message from Exporter ${Date.now() - t0} ms after the share was listed`)
    await shot('shares-desktop')
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Importer}`)
    const incoming = page.locator('li[data-share="orders.>"][data-direction="in"]')
    await incoming.getByText('← from “Exporter”').waitFor({ timeout: T })
    await incoming.getByRole('button', { name: 'Stop sharing' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Stop sharing' }).click()
    await page.getByText('Nothing is shared with or by this project.').waitFor({ timeout: T })
    await sleep(1500)
    got.length = 0
    for (let i = 0; i < 5; i++) {
      exp.publish('orders.2', 'after the share ended')
      await exp.flush()
      await sleep(200)
    }
    await sleep(500)
    if (got.length) throw new Error(`the importer still received ${got.length} messages after the share was stopped`)
    await inc.close()
    await exp.close()
  }, { needs: false })

  await step('web-pages: disable and enable under an open tail — it never looks live while not connected, says why, and resumes by itself with a gap line', async () => {
    if (!wp.Exporter) throw new Error('no web-pages project')
    const creds = (await wpIssue(wp.Exporter, 'tail-check')).creds
    await page.goto(`${base}/g/${wp.gid}/p/${wp.Exporter}/tail`)
    const status = page.getByTestId('tail-status')
    // (a shell that closes the connection of a disabled project unmounts the tail meanwhile: not live)
    const live = async () => ((await status.count()) ? status.getAttribute('data-live', { timeout: T }) : 'false')
    await waitFor(async () => (await live()) === 'true', { what: 'the tail live' })
    await page.getByText('Waiting for messages…').waitFor({ timeout: T })
    const setDisabled = async (disabled) => {
      const r = await rest(page, `/api/collections/projects/records/${wp.Exporter}`, { method: 'PATCH', body: { disabled } })
      if (r.status !== 200) throw new Error(`disabled=${disabled}: ${r.status} ${r.text}`)
    }
    let lie = ''
    const check = async () => {
      const [l, f, waiting] = await Promise.all([live(), wpFooter(), page.getByText('Waiting for messages…').count()])
      if ((l === 'true' || waiting) && f !== 'connected' && !lie) lie = `the tail said live=${l}, "Waiting for messages…"=${waiting} while the connection was ${f}`
      return l
    }
    await setDisabled(true)
    await waitFor(async () => (await wpFooter()) !== 'connected', { what: 'the page\'s connection closed by the disable' })
    await waitFor(async () => (await check()) === 'false', { what: 'the tail not live' })
    await page.getByTestId('project-disabled').getByText('This project is disabled').waitFor({ timeout: T })
    for (let i = 0; i < 10; i++) { await check(); await sleep(100) }
    const t0 = Date.now()
    await setDisabled(false)
    await waitFor(async () => (await check()) === 'true', { timeout: 30_000, interval: 100, what: 'the tail live again after enabling' })
    if (lie) throw new Error(lie)
    log(`      enable → tail live again in ${Date.now() - t0} ms, by itself`)
    const nc = await waitFor(() => natsConnect({ authenticator: credsAuth(creds), name: 'wp-after-enable' }), { what: 'a client connecting after the enable' })
    cleanup.push(() => nc.close().catch(() => {}))
    nc.publish('after.enable', 'back again')
    await nc.flush()
    await page.getByTestId('tail').locator('[data-subject="after.enable"]').getByText('back again').waitFor({ timeout: T })
    await page.getByTestId('tail-gap').getByText('messages published in between were not received').waitFor({ timeout: T })
    await shot('tail-gap-desktop')
    await nc.close()
  }, { needs: false })
  // ---------------------------------------------------------- end web-pages

  await step('no console errors in the signed-in session', async () => {
    const errs = consoleErrors.filter((e) => !/Failed to load resource/.test(e))
    if (errs.length) throw new Error(errs.join('\n'))
  }, { needs: false })

  // ================================================================ web-truth:
  // The web app stays truthful (issue 10, the shell's part): NATS only where
  // it is used, the batched group stats, names, the group switcher, an
  // outage under open pages, disable/enable under an open tail, password
  // recovery and email links inside the app, the account page, activity
  // and accessibility. Its own users (Dora, Eve), contexts and console logs.
  const wt = {}
  await page.goto('about:blank') // the main flow's page is done: keep it out of the outage
  const signUpIn = async (ctx, u) => {
    const p = await ctx.newPage()
    await p.goto(`${base}/signup`)
    await p.getByLabel('Name').fill(u.name)
    await p.getByLabel('Email address').fill(u.email)
    await p.getByLabel('Password', { exact: true }).fill(u.password)
    await p.getByLabel('Confirm password').fill(u.password)
    await p.getByRole('button', { name: 'Create account' }).click()
    await p.getByTestId('group-name').waitFor({ timeout: T })
    return p
  }
  // what a page does on the network and in its console, from now on
  const watchPage = (p) => {
    const w = { requests: [], sockets: [], errors: [] }
    p.on('request', (r) => w.requests.push({ at: Date.now(), method: r.method(), url: r.url() }))
    p.on('websocket', (ws) => w.sockets.push({ at: Date.now(), url: ws.url() }))
    p.on('console', (m) => m.type() === 'error' && w.errors.push({ at: Date.now(), text: m.text() }))
    p.on('pageerror', (e) => w.errors.push({ at: Date.now(), text: `pageerror: ${e.message}` }))
    if (process.env.E2E_DEBUG) p.on('response', (r) => r.status() >= 400 && log(`      DEBUG ${r.status()} ${r.request().method()} ${r.url()}`))
    if (process.env.E2E_DEBUG) p.on('framenavigated', (f) => f === p.mainFrame() && log(`      DEBUG nav ${f.url()}`))
    if (process.env.E2E_DEBUG) p.on('console', (m) => /^AUTH /.test(m.text()) && log(`      DEBUG ${m.text()}`))
    w.since = (t) => ({ requests: w.requests.filter((x) => x.at >= t), sockets: w.sockets.filter((x) => x.at >= t), errors: w.errors.filter((x) => x.at >= t) })
    return w
  }
  const footer = (p) => p.getByTestId('nats-status').textContent()
  const userD = { name: 'Dora Data', email: `dora-${stamp}@example.com`, password: 'dora password 4' }
  const userE = { name: 'Eve Extra', email: `eve-${stamp}@example.com`, password: 'eve password 55' }

  await step('web-truth: the first screen names the person once: the personal group reads "Personal" (header, breadcrumbs, heading, title, activity)', async () => {
    wt.ctxD = await browser.newContext({ viewport: DESKTOP, acceptDownloads: true })
    if (process.env.E2E_DEBUG) {
      await wt.ctxD.addInitScript(() => {
        const rm = Storage.prototype.removeItem
        const set = Storage.prototype.setItem
        Storage.prototype.removeItem = function (k) {
          if (k === 'pocketbase_auth') console.warn('AUTH removed at ' + location.pathname + ' ' + new Error().stack.replace(/\n/g, ' | '))
          return rm.call(this, k)
        }
        Storage.prototype.setItem = function (k, v) {
          if (k === 'pocketbase_auth' && !JSON.parse(v || '{}').token) console.warn('AUTH saved without a token at ' + location.pathname + ' ' + new Error().stack.replace(/\n/g, ' | '))
          return set.call(this, k, v)
        }
      })
    }
    wt.d = await signUpIn(wt.ctxD, userD)
    wt.watchD = watchPage(wt.d)
    page = wt.d // failure screenshots show Dora's tab from here on
    const p = wt.d
    wt.authD = await authOf(p)
    await p.getByTestId('activity').getByText('Personal group created').waitFor({ timeout: T })
    if ((await p.getByTestId('group-name').textContent()) !== 'Personal') throw new Error(`heading ${await p.getByTestId('group-name').textContent()}`)
    if ((await p.locator('#group-switcher .switcher-label').textContent()) !== 'Personal') throw new Error('switcher label')
    if ((await p.locator('.crumbs a').first().textContent()) !== 'Personal') throw new Error('breadcrumb')
    if ((await p.title()) !== 'Personal · Pocketbus') throw new Error(`title ${await p.title()}`)
    const seen = await p.evaluate((n) => document.body.innerText.split(n).length - 1, userD.name)
    if (seen !== 1) throw new Error(`"${userD.name}" appears ${seen} times on the first screen (want once: the user menu)`)
    await p.getByText('Only you. A personal group cannot be shared').waitFor({ timeout: T })
    await shot('personal-first-screen-desktop', p)
  }, { needs: false })

  await step('web-truth: sign-up with a taken email says so, with sign-in and reset links (not "Value must be unique.")', async () => {
    const ctx = await browser.newContext({ viewport: DESKTOP })
    const p = await ctx.newPage()
    await p.goto(`${base}/signup`)
    await p.getByLabel('Name').fill('Someone Else')
    await p.getByLabel('Email address').fill(userD.email)
    await p.getByLabel('Password', { exact: true }).fill('another password 1')
    await p.getByLabel('Confirm password').fill('another password 1')
    await p.getByRole('button', { name: 'Create account' }).click()
    const err = p.locator('.field-error', { hasText: 'An account with this email address already exists.' })
    await err.waitFor({ timeout: T })
    await err.getByRole('link', { name: 'Sign in' }).waitFor({ timeout: T })
    await err.getByRole('link', { name: 'reset your password' }).waitFor({ timeout: T })
    if (await p.getByText('Value must be unique').count()) throw new Error('raw PocketBase message shown')
    await shot('signup-taken-desktop', p)
    await ctx.close()
  }, { needs: false })

  await step('web-truth: the group page asks for usage once (batched stats route), polls gently, and neither it nor the project overview opens NATS; the tail does', async () => {
    const p = wt.d
    // a shared group with three projects, and a second member (Eve) who joins by invite
    const g = await rest(p, '/api/collections/groups/records', { method: 'POST', body: { name: 'Dora Team' } })
    if (g.status !== 200) throw new Error(`group: ${g.status} ${g.text}`)
    wt.gid = g.json.id
    wt.pids = []
    for (const n of ['alpha', 'beta', 'gamma']) {
      const r = await rest(p, '/api/collections/projects/records', { method: 'POST', body: { name: n, group: wt.gid } })
      if (r.status !== 200) throw new Error(`project ${n}: ${r.status} ${r.text}`)
      wt.pids.push(r.json.id)
    }
    wt.pid = wt.pids[0]
    const t0 = Date.now()
    await p.goto(`${base}/g/${wt.gid}`)
    await p.getByTestId('project-list').locator('li').nth(2).waitFor({ timeout: T })
    await waitFor(async () => (await p.getByText(/conn ·/).count()) === 3, { what: 'usage of the three projects' })
    await sleep(2000)
    const r = wt.watchD.since(t0)
    const batched = r.requests.filter((x) => x.url.includes(`/api/pocketbus/groups/${wt.gid}/stats`)).length
    const single = r.requests.filter((x) => /\/api\/pocketbus\/projects\/[^/]+\/stats/.test(x.url)).length
    const tokens = r.requests.filter((x) => x.url.endsWith('/token')).length
    log(`      group page, 3 projects: ${batched} batched stats request(s), ${single} per-project stats requests, ${tokens} token requests, ${r.sockets.length} WebSockets in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
    if (batched !== 1 || single !== 0) throw new Error(`stats requests: ${batched} batched, ${single} per project`)
    if (tokens || r.sockets.length) throw new Error(`the group page opened NATS: ${tokens} token requests, ${r.sockets.length} sockets`)
    if ((await footer(p)) !== 'not in use on this page') throw new Error(`footer ${await footer(p)}`)
    // the project overview: no token, no socket either
    const t1 = Date.now()
    await p.getByTestId('project-list').getByRole('link', { name: 'alpha' }).click()
    await p.getByTestId('account-key').waitFor({ timeout: T })
    await sleep(1500)
    const o = wt.watchD.since(t1)
    if (o.requests.some((x) => x.url.endsWith('/token')) || o.sockets.length) throw new Error('the project overview opened NATS')
    // the live tail does
    const t2 = Date.now()
    await p.getByRole('link', { name: 'Live tail' }).first().click()
    await waitFor(async () => (await footer(p)) === 'connected', { what: 'tail NATS connection' })
    const t = wt.watchD.since(t2)
    if (!t.requests.some((x) => x.url.endsWith(`/projects/${wt.pid}/token`)) || !t.sockets.some((x) => x.url.endsWith('/nats'))) throw new Error('the tail did not open NATS')
    // and leaving the data pages closes it
    await p.getByRole('link', { name: 'Overview' }).nth(1).click()
    await waitFor(async () => (await footer(p)) === 'not in use on this page', { what: 'NATS closed off the data pages' })
  }, { needs: false })

  await step('web-truth: group switcher: a button and a searchable menu; arrow keys only move, Enter goes, Escape closes; "New group" is outside the menu', async () => {
    const p = wt.d
    await p.goto(`${base}/g/${wt.authD.record.mygroup}`)
    await p.getByTestId('group-name').waitFor({ timeout: T })
    const start = new URL(p.url()).pathname
    await p.locator('#group-switcher').focus()
    await p.keyboard.press('Enter')
    await p.locator('#group-search').waitFor({ timeout: T })
    if ((await p.evaluate(() => document.activeElement?.id)) !== 'group-search') throw new Error('focus not in the search box')
    const opts = await p.locator('#group-options [role="option"]').allTextContents()
    if (!opts[0].includes('Personal') || !opts.some((t) => t.includes('Dora Team'))) throw new Error(`options ${JSON.stringify(opts)}`)
    if (await p.locator('#group-menu').getByText('New group').count()) throw new Error('"New group" is inside the menu')
    await p.keyboard.press('ArrowDown')
    await p.keyboard.press('ArrowDown')
    await p.keyboard.press('ArrowUp')
    await sleep(300)
    if (new URL(p.url()).pathname !== start) throw new Error('an arrow key navigated')
    await shot('group-switcher-desktop', p)
    await p.keyboard.type('dora')
    const filtered = await p.locator('#group-options [role="option"]').allTextContents()
    if (filtered.length !== 1 || !filtered[0].includes('Dora Team')) throw new Error(`search: ${JSON.stringify(filtered)}`)
    await p.keyboard.press('Enter')
    await waitFor(() => new URL(p.url()).pathname === `/g/${wt.gid}`, { what: 'Enter goes to the group' })
    if (await p.locator('#group-menu').count()) throw new Error('menu still open')
    await p.locator('#group-switcher').click()
    await p.keyboard.press('Escape')
    if (await p.locator('#group-menu').count()) throw new Error('Escape did not close')
    if ((await p.evaluate(() => document.activeElement?.id)) !== 'group-switcher') throw new Error('focus not back on the button')
    await p.getByRole('navigation', { name: 'Navigation' }).getByRole('link', { name: 'New group' }).waitFor({ timeout: T })
  }, { needs: false })

  await step('web-truth: accessibility: skip link, focus on the heading after a navigation, a title per page, member rows apart, no dashboard link for users, "Project not found" for a bad id (no retries)', async () => {
    const p = wt.d
    // Eve joins Dora Team by an invite link (REST), so the members list has two rows
    const inv = await rest(p, `/api/pocketbus/groups/${wt.gid}/invites`, { method: 'POST', body: { max_uses: 1 } })
    if (inv.status !== 200) throw new Error(`invite: ${inv.status}`)
    wt.ctxE = await browser.newContext({ viewport: DESKTOP })
    wt.e = await signUpIn(wt.ctxE, userE)
    const acc = await rest(wt.e, `/api/pocketbus/invites/${inv.json.token}/accept`, { method: 'POST', body: {} })
    if (acc.status !== 200) throw new Error(`accept: ${acc.status}`)
    wt.authE = await authOf(wt.e)
    await p.goto(`${base}/g/${wt.gid}`)
    await p.getByTestId('group-members').getByText(userE.name).waitFor({ timeout: T })
    // read as text (what a screen reader gets), the name and "(you)" stay apart
    const txt = await p.getByTestId('group-members').evaluate((el) => [...el.querySelectorAll('li .member')].map((x) => x.textContent))
    if (!txt.includes(`${userD.name} (you)`) || !txt.includes(userE.name)) throw new Error(`member rows read ${JSON.stringify(txt)}`)
    // skip link: first Tab stop, moves focus to the main heading
    await p.keyboard.press('Tab')
    const first = await p.evaluate(() => document.activeElement?.textContent)
    if (first !== 'Skip to content') throw new Error(`first Tab stop: ${first}`)
    await p.keyboard.press('Enter')
    if ((await p.evaluate(() => document.activeElement?.tagName)) !== 'H1') throw new Error('skip link did not reach the heading')
    // a navigation moves focus to the new page's heading; each page has its title
    const titles = [
      [`/g/${wt.gid}/settings`, 'Settings · Dora Team · Pocketbus', 'Group settings'],
      ['/account', 'Account · Pocketbus', 'Account'],
      [`/g/${wt.gid}/p/${wt.pid}/credentials`, 'Credentials · alpha · Dora Team · Pocketbus', null],
      [`/g/${wt.gid}/p/${wt.pid}/tail`, 'Live tail · alpha · Dora Team · Pocketbus', 'Live tail'],
      [`/g/${wt.gid}`, 'Dora Team · Pocketbus', 'Dora Team'],
    ]
    for (const [path, title, h1] of titles) {
      await p.evaluate((to) => { const a = document.createElement('a'); a.href = to; document.body.append(a); a.click(); a.remove() }, path)
      await waitFor(async () => (await p.title()) === title, { what: `title "${title}" (is "${await p.title()}")` })
      if (h1) await waitFor(async () => (await p.evaluate(() => document.activeElement?.tagName === 'H1' && document.activeElement.textContent)) === h1, { what: `focus on the "${h1}" heading` })
    }
    if (await p.getByRole('link', { name: 'Dashboard' }).count()) throw new Error('a user is offered the superuser dashboard')
    // a non-owner sees the members (not an empty body), with Leave for themself
    await wt.e.goto(`${base}/g/${wt.gid}/settings`)
    await wt.e.getByTestId('member-list').getByText(userD.name).waitFor({ timeout: T })
    await wt.e.getByTestId('member-list').locator('li', { hasText: userE.name }).getByRole('button', { name: 'Leave' }).waitFor({ timeout: T })
    // a bad project id: "Project not found", once
    const t0 = Date.now()
    await p.goto(`${base}/g/${wt.gid}/p/nosuchproject123/tail`)
    await p.getByTestId('project-missing').getByText('Project not found').waitFor({ timeout: T })
    await sleep(3000)
    const r = wt.watchD.since(t0)
    const asks = r.requests.filter((x) => x.url.includes('nosuchproject123')).length
    if (asks > 2 || r.sockets.length) throw new Error(`a bad project id: ${asks} requests for it, ${r.sockets.length} sockets`)
    if ((await p.title()) !== 'Project not found · Pocketbus') throw new Error(`title ${await p.title()}`)
    if (await p.getByText(/Retrying/).count()) throw new Error('still retrying')
  }, { needs: false })

  await step('web-truth: activity reads well and a transfer asks first: joined (invited by), ownership transferred, disabled/enabled', async () => {
    const p = wt.d
    await p.goto(`${base}/g/${wt.gid}/settings`)
    await p.getByLabel('New owner').selectOption({ label: userE.name })
    await p.getByRole('button', { name: 'Transfer', exact: true }).click()
    await p.getByRole('dialog').getByText(`Make ${userE.name} the owner?`).waitFor({ timeout: T })
    await p.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click()
    await sleep(500)
    const owner = async () => (await rest(p, `/api/collections/groups/records/${wt.gid}`)).json.owner
    if ((await owner()) !== wt.authD.record.id) throw new Error('cancelled transfer changed the owner')
    await p.getByRole('button', { name: 'Transfer', exact: true }).click()
    await p.getByRole('dialog').getByRole('button', { name: 'Transfer ownership' }).click()
    await waitFor(async () => (await owner()) === wt.authE.record.id, { what: 'Eve owns Dora Team' })
    const back = await rest(wt.e, `/api/pocketbus/groups/${wt.gid}/owner`, { method: 'POST', body: { user: wt.authD.record.id } })
    if (back.status !== 200) throw new Error(`transfer back: ${back.status}`)
    for (const disabled of [true, false]) {
      const r = await rest(p, `/api/collections/projects/records/${wt.pids[1]}`, { method: 'PATCH', body: { disabled } })
      if (r.status !== 200) throw new Error(`disable=${disabled}: ${r.status}`)
    }
    await p.goto(`${base}/g/${wt.gid}`)
    const act = p.getByTestId('activity')
    for (const t of [`${userE.name} joined (invited by ${userD.name})`, `${userD.name} transferred ownership to ${userE.name}`, `${userE.name} transferred ownership to ${userD.name}`, `${userD.name} disabled project “beta”`, `${userD.name} enabled project “beta”`]) {
      await act.getByText(t, { exact: true }).waitFor({ timeout: T })
    }
    await shot('group-activity-transfer-desktop', p)
  }, { needs: false })
  // ---------------------------------------------------------------- web-truth: outage
  await step('web-truth: outage: the server stops for 15 s under an open group page and an open live tail: offline banner with Retry, cached data stays, a page not loaded yet waits, no request storm; after a restart on the same ports everything comes back by itself', async () => {
    const p = wt.d
    // a credential for a Node client that publishes to the tail after the restart
    const cred = await rest(p, `/api/pocketbus/projects/${wt.pid}/credentials`, { method: 'POST', body: { name: 'outage-client' } })
    if (cred.status !== 200) throw new Error(`credential: ${cred.status}`)
    wt.creds = cred.json.creds
    // a group this tab has never shown (it must wait, not fail, during the outage)
    const lab = await rest(p, '/api/collections/groups/records', { method: 'POST', body: { name: 'Dora Lab' } })
    if (lab.status !== 200) throw new Error(`group: ${lab.status}`)
    await p.goto(`${base}/g/${wt.gid}`)
    await p.getByTestId('group-members').getByText(userE.name).waitFor({ timeout: T })
    await p.getByTestId('activity').locator('li').first().waitFor({ timeout: T })
    await waitFor(async () => (await p.getByText(/conn ·/).count()) === 3, { what: 'usage shown' })
    const before = { projects: await p.getByTestId('project-list').locator('li').count(), activity: await p.getByTestId('activity').locator('li').count() }
    wt.tail = await wt.ctxD.newPage()
    wt.watchT = watchPage(wt.tail)
    await wt.tail.goto(`${base}/g/${wt.gid}/p/${wt.pid}/tail`)
    await waitFor(async () => (await footer(wt.tail)) === 'connected', { what: 'tail connected' })
    await wt.tail.getByText('Waiting for messages…').waitFor({ timeout: T })

    await serverCtl.stop()
    const tStop = Date.now()
    let up = false
    try {
      // measured first (the same on any version of the app), judged after
      const noticedP = p.getByTestId('offline-banner').waitFor({ timeout: 15_000 }).then(() => Date.now() - tStop, () => null)
      const shotP = noticedP.then((n) => n !== null && sleep(500).then(() => shot('group-offline-desktop', p)))
      await sleep(Math.max(0, tStop + 15_000 - Date.now()))
      const noticed = await noticedP
      await shotP
      const win = (w) => { const x = w.since(tStop); const f = (a) => a.filter((e) => e.at < tStop + 15_000); return { requests: f(x.requests), sockets: f(x.sockets), errors: f(x.errors) } }
      const a = win(wt.watchD)
      const b = win(wt.watchT)
      const reqs = [...a.requests, ...b.requests]
      const kind = (re) => reqs.filter((x) => re.test(new URL(x.url).pathname)).length
      const counts = { requests: reqs.length, health: kind(/^\/api\/health$/), realtime: kind(/^\/api\/realtime/), other: 0, sockets: a.sockets.length + b.sockets.length, errors: a.errors.length + b.errors.length }
      counts.other = counts.requests - counts.health - counts.realtime
      wt.outage = counts
      log(`      OUTAGE (server stopped 15 s, 2 tabs: group page + live tail): banner ${noticed === null ? 'never shown' : `after ${noticed} ms`}; ${counts.requests} requests (${counts.health} /api/health probes, ${counts.realtime} /api/realtime, ${counts.other} other), ${counts.sockets} WebSocket attempts, ${counts.errors} console errors`)
      if (noticed === null) throw new Error('no offline banner')
      await wt.tail.getByTestId('offline-banner').waitFor({ timeout: 1000 })
      await waitFor(async () => (await footer(wt.tail)) === 'offline — waiting for the server', { timeout: 1000, what: 'tail footer offline' })
      await wt.tail.getByTestId('nats-gate').getByText('Offline: the server cannot be reached').waitFor({ timeout: 1000 })
      // still showing what it had (the "offline" banner says it is not fresh)
      if ((await p.getByTestId('project-list').locator('li').count()) !== before.projects) throw new Error('cached projects gone')
      if ((await p.getByTestId('activity').locator('li').count()) !== before.activity) throw new Error('cached activity gone')
      await p.getByTestId('group-members').getByText(userE.name).waitFor({ timeout: 1000 })
      if (await p.locator('[data-state="error"]').count()) throw new Error('a failed load is shown as an error instead of the cached data')
      if (await p.getByText('No projects yet').count()) throw new Error('a failed load is shown as an empty list')
      if (counts.requests > 16 || counts.sockets > 2 || counts.errors > 16) throw new Error(`request storm: ${JSON.stringify(counts)}`)
      // Retry now: one more probe, still offline
      await p.getByTestId('offline-banner').getByRole('button', { name: 'Retry now' }).click()
      await sleep(500)
      await p.getByTestId('offline-banner').waitFor({ timeout: 1000 })
      // a page this tab never loaded waits for the server (not an error, not empty)
      await p.locator('#group-switcher').click()
      await p.locator('#group-options [role="option"]', { hasText: 'Dora Lab' }).click()
      await p.getByText('Waiting for the server to load the group…').waitFor({ timeout: T })
    } finally {
      if (!up) await serverCtl.start()
      up = true
    }
    const tUp = Date.now()
    await p.getByTestId('offline-banner').waitFor({ state: 'detached', timeout: 15_000 })
    const backAfter = Date.now() - tUp
    await p.getByTestId('group-name').getByText('Dora Lab').waitFor({ timeout: T })
    const lab2 = Date.now() - tUp
    await waitFor(async () => (await footer(wt.tail)) === 'connected', { timeout: 20_000, what: 'tail NATS connection back' })
    const natsBack = Date.now() - tUp
    log(`      back: banner gone ${backAfter} ms after the server answered again, the waiting page loaded at ${lab2} ms, the tail's NATS connected at ${natsBack} ms`)
    const nc = await natsConnect({ authenticator: credsAuth(wt.creds), name: 'outage-client' })
    cleanup.push(() => nc.close().catch(() => {}))
    await sleep(300)
    nc.publish('outage.back', new TextEncoder().encode('after the outage'))
    await nc.flush()
    await wt.tail.locator('[data-subject="outage.back"]').getByText('after the outage').waitFor({ timeout: T })
    await nc.close()
    // realtime is back too: a project made elsewhere appears without a reload
    await p.locator('#group-switcher').click()
    await p.locator('#group-options [role="option"]', { hasText: 'Dora Team' }).click()
    await p.getByTestId('project-list').getByRole('link', { name: 'gamma' }).waitFor({ timeout: T })
    await sleep(500)
    const d = await rest(p, '/api/collections/projects/records', { method: 'POST', body: { name: 'delta', group: wt.gid } })
    if (d.status !== 200) throw new Error(`project delta: ${d.status}`)
    await p.getByTestId('project-list').getByRole('link', { name: 'delta' }).waitFor({ timeout: 5000 })
  }, { needs: false })

  await step('web-truth: disable and enable under an open live tail: the footer says "project disabled" (never the raw refusal), the page says it is not live, and it is back within ~1 s of enabling', async () => {
    const tail = wt.tail
    await waitFor(async () => (await footer(tail)) === 'connected', { what: 'tail connected' })
    await tail.evaluate(() => {
      const el = document.querySelector('[data-testid="nats-status"]')
      window.__footerTexts = [el.textContent]
      new MutationObserver(() => window.__footerTexts.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true })
    })
    const p = wt.d
    const set = async (disabled) => {
      const r = await rest(p, `/api/collections/projects/records/${wt.pid}`, { method: 'PATCH', body: { disabled } })
      if (r.status !== 200) throw new Error(`disabled=${disabled}: ${r.status} ${r.text}`)
    }
    // measured first (the same on any version of the app), judged after
    const t0 = Date.now()
    await set(true)
    const off = await waitFor(async () => (await footer(tail)) === 'project disabled' && Date.now() - t0, { timeout: 5000, interval: 25, what: 'footer "project disabled"' }).catch(() => null)
    const t1 = Date.now()
    await sleep(3000)
    const during = wt.watchT.since(t1)
    const gate = off === null ? '' : await tail.getByTestId('nats-gate').textContent().catch(() => '')
    if (off !== null) await shot('tail-disabled-desktop', tail)
    const t2 = Date.now()
    await set(false)
    const on = await waitFor(async () => (await footer(tail)) === 'connected' && Date.now() - t2, { timeout: 30_000, interval: 25, what: 'footer "connected" after enabling' }).catch(() => null)
    const texts = await tail.evaluate(() => window.__footerTexts)
    log(`      DISABLE/ENABLE under an open tail: footer "project disabled" ${off === null ? 'never' : `after ${off} ms`}; while disabled ${during.sockets.length} WebSocket attempts and ${during.requests.length} requests in 3 s; after enabling "connected" ${on === null ? 'not within 30 s' : `after ${on} ms`}; the footer said ${JSON.stringify([...new Set(texts)])}`)
    if (off === null) throw new Error('the footer never said "project disabled"')
    if (!gate.includes('This project is disabled')) throw new Error(`while disabled the tail said: ${gate}`)
    if (texts.some((t) => /maximum account|connections exceeded/i.test(t))) throw new Error(`the footer showed the raw refusal: ${JSON.stringify(texts)}`)
    if (on === null || on > 2500) throw new Error(`back ${on} ms after enabling`)
    if (during.sockets.length > 1) throw new Error(`${during.sockets.length} WebSocket attempts while disabled`)
    // live again (the tail keeps its rows and marks the gap across the new connection)
    await tail.locator('[data-testid="tail-status"][data-live="true"]').waitFor({ timeout: T })
    const nc = await natsConnect({ authenticator: credsAuth(wt.creds), name: 'after-enable' })
    cleanup.push(() => nc.close().catch(() => {}))
    await sleep(200)
    nc.publish('enabled.again', new TextEncoder().encode('live again'))
    await nc.flush()
    await tail.locator('[data-subject="enabled.again"]').getByText('live again').waitFor({ timeout: T })
    await nc.close()
    await tail.close()
  }, { needs: false })

  // A mail server for the e2e: accepts everything, keeps the messages.
  const fakeSmtp = async () => {
    const mails = []
    const srv = createServer((sock) => {
      let buf = ''
      let data = false
      let cur = ''
      sock.write('220 e2e ESMTP\r\n')
      sock.on('data', (d) => {
        buf += d.toString('latin1')
        let i
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i)
          buf = buf.slice(i + 2)
          if (data) {
            if (line === '.') {
              data = false
              mails.push(decodeMail(cur))
              cur = ''
              sock.write('250 OK\r\n')
            } else cur += (line.startsWith('..') ? line.slice(1) : line) + '\n'
            continue
          }
          const cmd = line.slice(0, 4).toUpperCase()
          if (cmd === 'EHLO') sock.write('250-e2e\r\n250 8BITMIME\r\n')
          else if (cmd === 'DATA') {
            data = true
            sock.write('354 go on\r\n')
          } else if (cmd === 'QUIT') {
            sock.write('221 bye\r\n')
            sock.end()
          } else sock.write('250 OK\r\n')
        }
      })
      sock.on('error', () => {})
    })
    await new Promise((r) => srv.listen(0, '127.0.0.1', r))
    cleanup.push(() => srv.close())
    const next = async (re, what) => waitFor(() => mails.find((m) => re.test(m)), { what })
    return { port: srv.address().port, mails, next }
  }
  // the message text with its quoted-printable and base64 parts decoded
  const decodeMail = (raw) => {
    const qp = raw.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)))
    const b64 = [...raw.matchAll(/Content-Transfer-Encoding: base64\n(?:[^\n]+\n)*\n([A-Za-z0-9+/=\n]+)/gi)].map((m) => Buffer.from(m[1].replace(/\n/g, ''), 'base64').toString('utf8'))
    return [qp, ...b64].join('\n')
  }
  const linkIn = (mail, kind) => {
    const m = new RegExp(`https?://[^\\s"'<>]+/${kind}/confirm/[A-Za-z0-9._-]+`).exec(mail)
    if (!m) throw new Error(`no /${kind}/confirm/ link in:\n${mail.slice(0, 2000)}`)
    return m[0].replace(/&amp;/g, '&')
  }
  const tokenOfUser = async (email, password) => {
    const r = await fetch(`${base}/api/collections/users/auth-with-password`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ identity: email, password }) })
    return r.ok ? (await r.json()).token : null
  }
  const tokenWorks = async (token) => (await fetch(`${base}/api/collections/users/auth-refresh`, { method: 'POST', headers: { Authorization: token } })).status === 200
  const signInOn = async (p, email, password, to = '/') => {
    await p.goto(`${base}/signin?next=${encodeURIComponent(to)}`)
    await p.getByLabel('Email address').fill(email)
    await p.getByLabel('Password').fill(password)
    await p.getByRole('button', { name: 'Sign in' }).click()
    await waitFor(() => !new URL(p.url()).pathname.startsWith('/signin'), { what: 'signed in' })
  }

  await step('web-truth: without a mail server, password reset and email change say plainly that this server cannot send email (never "we sent it a link")', async () => {
    const inf = await (await fetch(`${base}/api/pocketbus/info`)).json()
    if (inf.mailer?.configured !== false) throw new Error(`info.mailer ${JSON.stringify(inf.mailer)}`)
    const ctx = await browser.newContext({ viewport: DESKTOP })
    const p = await ctx.newPage()
    await p.goto(`${base}/reset`)
    await p.getByTestId('no-mailer').getByText('This server cannot send email.').waitFor({ timeout: T })
    if (await p.getByRole('button', { name: 'Send reset link' }).count()) throw new Error('offers to send a link')
    if (await p.getByText(/we sent|on its way/i).count()) throw new Error('claims a link was sent')
    await shot('reset-no-mailer-desktop', p)
    await ctx.close()
    await wt.d.goto(`${base}/account`)
    await wt.d.getByTestId('no-mailer').getByText('This server cannot send email').waitFor({ timeout: T })
  }, { needs: false })

  await step('web-truth: with a mail server, the reset link ends inside the app (/reset/confirm/{token}): a new password there signs in, and the old sessions are signed out; a bad link says so', async () => {
    wt.smtp = await fakeSmtp()
    const su = { email: `root-${stamp}@example.com`, password: 'superuser pass 1' }
    execFileSync(serverCtl.bin, ['superuser', 'upsert', su.email, su.password, '--dir', serverCtl.dir], { stdio: 'ignore' })
    const sa = await fetch(`${base}/api/collections/_superusers/auth-with-password`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ identity: su.email, password: su.password }) })
    if (!sa.ok) throw new Error(`superuser auth: ${sa.status}`)
    const suToken = (await sa.json()).token
    const st = await fetch(`${base}/api/settings`, { method: 'PATCH', headers: { Authorization: suToken, 'Content-Type': 'application/json' }, body: JSON.stringify({ meta: { appURL: base, senderName: 'Pocketbus', senderAddress: 'noreply@example.com' }, smtp: { enabled: true, host: '127.0.0.1', port: wt.smtp.port, tls: false } }) })
    if (!st.ok) throw new Error(`settings: ${st.status} ${await st.text()}`)
    const oldToken = wt.authD.token
    const ctx = await browser.newContext({ viewport: DESKTOP })
    const p = await ctx.newPage()
    await p.goto(`${base}/reset`)
    await p.getByLabel('Email address').fill(userD.email)
    await p.getByRole('button', { name: 'Send reset link' }).click()
    await p.getByText('a link to choose a new password is on its way').waitFor({ timeout: T })
    const mail = await wt.smtp.next(new RegExp(`To:.*${userD.email.replace(/[.+]/g, '\\$&')}[\\s\\S]*reset/confirm/`, 'i'), 'the reset email')
    const link = linkIn(mail, 'reset')
    if (!link.startsWith(`${base}/reset/confirm/`) || link.includes('/_/')) throw new Error(`reset link ${link}`)
    await p.goto(link)
    await p.getByRole('heading', { name: 'Choose a new password' }).waitFor({ timeout: T })
    if ((await p.title()) !== 'Choose a new password · Pocketbus') throw new Error(`title ${await p.title()}`)
    await shot('reset-confirm-desktop', p)
    userD.password = 'a brand new pass 7'
    await p.getByLabel('New password', { exact: true }).fill(userD.password)
    await p.getByLabel('Confirm new password').fill(userD.password)
    await p.getByRole('button', { name: 'Set new password' }).click()
    await p.getByTestId('reset-done').getByText('Your password is changed.').waitFor({ timeout: T })
    await p.getByRole('link', { name: 'Sign in' }).first().click()
    await signInOn(p, userD.email, userD.password, '/account')
    await p.getByRole('heading', { name: 'Account', exact: true }).waitFor({ timeout: T })
    if (await tokenWorks(oldToken)) throw new Error('the session from before the reset still works')
    // a used link (and any made-up one) is refused plainly
    await p.goto(link)
    await p.getByLabel('New password', { exact: true }).fill('whatever pass 9')
    await p.getByLabel('Confirm new password').fill('whatever pass 9')
    await p.getByRole('button', { name: 'Set new password' }).click()
    await p.getByText('This reset link is invalid or has expired.').waitFor({ timeout: T })
    await ctx.close()
    // Dora's main tab signs in again
    await signInOn(wt.d, userD.email, userD.password, '/account')
    wt.authD = await authOf(wt.d)
  }, { needs: false })

  await step('web-truth: account page: name, email change by a link to the new address (confirmed in the app), verification link, password change and "sign out everywhere" end the other sessions', async () => {
    const p = wt.d
    await p.goto(`${base}/account`)
    await p.getByRole('heading', { name: 'Account', exact: true }).waitFor({ timeout: T })
    if (await p.getByTestId('no-mailer').count()) throw new Error('still says no mailer')
    // name
    await p.getByLabel('Your name').fill('Dora D. Data')
    await p.getByRole('button', { name: 'Save name' }).click()
    await p.getByText('Saved.').waitFor({ timeout: T })
    await waitFor(async () => (await p.locator('.user-chip').textContent()) === 'Dora D. Data', { what: 'the header shows the new name' })
    await p.getByLabel('Your name').fill(userD.name)
    await p.getByRole('button', { name: 'Save name' }).click()
    await waitFor(async () => (await p.locator('.user-chip').textContent()) === userD.name, { what: 'name back' })
    // verification (Eve's: Dora's reset link verified her address already)
    const e = wt.e
    await e.goto(`${base}/account`)
    await e.getByText('Not verified', { exact: true }).waitFor({ timeout: T })
    await e.getByRole('button', { name: 'Send a verification email' }).click()
    await e.getByRole('button', { name: 'Verification email sent' }).waitFor({ timeout: T })
    const vlink = linkIn(await wt.smtp.next(/verify\/confirm\//, 'the verification email'), 'verify')
    if (!vlink.startsWith(`${base}/verify/confirm/`)) throw new Error(`verification link ${vlink}`)
    await e.goto(vlink)
    await e.getByTestId('verify-done').waitFor({ timeout: T })
    await e.goto(`${base}/account`)
    await e.getByText('Verified', { exact: true }).waitFor({ timeout: T })
    await p.goto(`${base}/account`)
    await p.getByText('Verified', { exact: true }).waitFor({ timeout: T })
    await shot('account-desktop', p)
    // email change: a link to the new address, confirmed with the password
    const newEmail = `dora-new-${stamp}@example.com`
    await p.getByLabel('New email address').fill(newEmail)
    await p.getByRole('button', { name: 'Change email' }).click()
    await p.getByText('A confirmation link is on its way to').waitFor({ timeout: T })
    const elink = linkIn(await wt.smtp.next(/email\/confirm\//, 'the email-change email'), 'email')
    if (!elink.startsWith(`${base}/email/confirm/`)) throw new Error(`email link ${elink}`)
    await p.goto(elink)
    await p.getByText(`Change your account’s email address to ${newEmail}?`).waitFor({ timeout: T })
    await p.getByLabel('Password').fill(userD.password)
    await p.getByRole('button', { name: 'Confirm new email' }).click()
    await p.getByTestId('email-done').getByText(`Your email address is now ${newEmail}.`).waitFor({ timeout: T })
    userD.email = newEmail
    await signInOn(p, userD.email, userD.password, '/account')
    await p.getByTestId('account-email').getByText(newEmail).waitFor({ timeout: T })
    // password change: another session ends, this one goes on
    const other = await tokenOfUser(userD.email, userD.password)
    if (!(await tokenWorks(other))) throw new Error('other session token does not work to begin with')
    const pw2 = 'password number 3'
    await p.getByLabel('Current password').fill(userD.password)
    await p.getByLabel('New password', { exact: true }).fill(pw2)
    await p.getByLabel('Confirm new password').fill(pw2)
    await p.getByRole('button', { name: 'Change password' }).click()
    await p.getByText('Password changed. Every other session is signed out').waitFor({ timeout: T })
    userD.password = pw2
    if (await tokenWorks(other)) throw new Error('another session survived the password change')
    if (!(await tokenWorks((await authOf(p)).token))) throw new Error('this session was signed out by its own password change')
    // sign out everywhere: same password, other sessions end
    const other2 = await tokenOfUser(userD.email, userD.password)
    await p.getByLabel('Your password').fill(userD.password)
    await p.getByRole('button', { name: 'Sign out everywhere' }).click()
    await p.getByRole('dialog').getByRole('button', { name: 'Sign out everywhere' }).click()
    await p.getByText('Signed out everywhere else.').waitFor({ timeout: T })
    if (await tokenWorks(other2)) throw new Error('another session survived "sign out everywhere"')
    if (!(await tokenWorks((await authOf(p)).token))) throw new Error('"sign out everywhere" signed this session out')
    if (!(await tokenOfUser(userD.email, userD.password))) throw new Error('the password changed')
    await p.reload()
    await p.getByRole('heading', { name: 'Account', exact: true }).waitFor({ timeout: T })
    wt.authD = await authOf(p)
  }, { needs: false })

  await step('web-truth: delete account: refused while the person owns a shared group (the message names it, with a link), done once it is not shared', async () => {
    const p = wt.d
    await p.goto(`${base}/account`)
    await p.getByRole('button', { name: 'Delete account' }).click()
    await p.getByRole('dialog').getByLabel(/Type/).fill(userD.email)
    await p.getByRole('dialog').getByRole('button', { name: 'Delete my account' }).click()
    const refusal = p.getByTestId('delete-refused')
    await refusal.getByText('You own the shared group “Dora Team”.').waitFor({ timeout: T })
    await refusal.getByRole('link', { name: 'Open the settings of Dora Team' }).waitFor({ timeout: T })
    if (!(await tokenOfUser(userD.email, userD.password))) throw new Error('the account is gone although refused')
    const rm = await rest(p, `/api/pocketbus/groups/${wt.gid}/members/${wt.authE.record.id}`, { method: 'DELETE' })
    if (rm.status !== 204) throw new Error(`remove Eve: ${rm.status}`)
    await p.getByRole('button', { name: 'Delete account' }).click()
    await p.getByRole('dialog').getByLabel(/Type/).fill(userD.email)
    await p.getByRole('dialog').getByRole('button', { name: 'Delete my account' }).click()
    await p.getByText('Your account was deleted.').waitFor({ timeout: T })
    if (await tokenOfUser(userD.email, userD.password)) throw new Error('the deleted account still signs in')
    await wt.ctxD.close()
    await wt.ctxE.close()
  }, { needs: false })
  // ================================================================ web-truth: end
}

// ---------------------------------------------------------------- run
let code = 0
try {
  await main()
} catch (e) {
  log(`E2E setup failed: ${e?.stack || e}`)
  results.push({ name: 'setup', status: 'failed', error: e })
} finally {
  for (const f of cleanup.reverse()) {
    try { await f() } catch { /* ignore */ }
  }
  if (tmp && !process.env.E2E_KEEP) rmSync(tmp, { recursive: true, force: true })
}
const passed = results.filter((r) => r.status === 'passed').length
const failed = results.filter((r) => r.status === 'failed').length
const skipped = results.filter((r) => r.status === 'skipped').length
if (failed || skipped) code = 1
mkdirSync(join(WEB, 'test-results'), { recursive: true })
writeFileSync(join(WEB, 'test-results', 'e2e.json'), JSON.stringify({ passed, failed, skipped }))
log(`\nE2E: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(code)
