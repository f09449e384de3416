// A real Pocketbus server for the SDK's tests: builds the Go binary (or uses
// $POCKETBUS_BIN), runs `serve` on free ports with a temporary data dir and
// rate limits off, and signs users up over REST.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SDK = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const ROOT = resolve(SDK, '../..')
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

export function freePort() {
  return new Promise((res, rej) => {
    const s = createServer()
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => res(port))
    })
    s.on('error', rej)
  })
}

export async function waitFor(fn, { timeout = 15_000, interval = 50, what = 'condition' } = {}) {
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

/** Builds the binary once per process (or takes $POCKETBUS_BIN). */
export function binary(dir) {
  if (process.env.POCKETBUS_BIN) return process.env.POCKETBUS_BIN
  const bin = join(dir, 'pocketbus')
  execFileSync('go', ['build', '-o', bin, './cmd/pocketbus'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] })
  return bin
}

export async function startServer() {
  const tmp = mkdtempSync(join(tmpdir(), 'pocketbus-sdk-'))
  const bin = binary(tmp)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const log = []
  const proc = spawn(bin, ['serve', '--dir', join(tmp, 'pb_data'), '--http', `127.0.0.1:${port}`, '--nats-listen', '127.0.0.1:0', '--nats-ws-listen', '127.0.0.1:0', '--rate-limits=false'], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] })
  proc.stdout.on('data', (d) => log.push(String(d)))
  proc.stderr.on('data', (d) => log.push(String(d)))
  const info = await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`server exited: ${log.join('')}`)
    const r = await fetch(`${url}/api/pocketbus/info`)
    return r.ok ? r.json() : null
  }, { timeout: 60_000, what: 'pocketbus serve' })
  let n = 0
  return {
    url,
    info,
    tmp,
    log,
    /** Signs a new user up over REST and returns {email, password, id, token, record}. */
    async user(name = 'user') {
      const email = `${name}-${Date.now().toString(36)}-${n++}@example.com`
      const password = 'correct horse 1'
      const post = (path, body, token) => fetch(`${url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: token } : {}) }, body: JSON.stringify(body) })
      let r = await post('/api/collections/users/records', { email, password, passwordConfirm: password, name })
      if (!r.ok) throw new Error(`sign-up: ${r.status} ${await r.text()}`)
      r = await post('/api/collections/users/auth-with-password', { identity: email, password })
      if (!r.ok) throw new Error(`sign-in: ${r.status} ${await r.text()}`)
      const { token, record } = await r.json()
      return { email, password, token, record, id: record.id }
    },
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM')
        await new Promise((r) => proc.once('exit', r))
      }
      if (!process.env.KEEP_TMP) rmSync(tmp, { recursive: true, force: true })
    },
  }
}

/** Resolves on a ProjectConnection's next event of this type ({type, status, error}). */
export function event(c, type, timeout = 15_000) {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { off(); reject(new Error(`no ${type} event within ${timeout} ms`)) }, timeout)
    const off = c.on((_c, e) => {
      if (e.type === type) {
        clearTimeout(t)
        off()
        resolve(e)
      }
    })
  })
}
