#!/usr/bin/env node
// npm test: builds the Go binary once, makes sure the nats CLI is there for
// the CLI snippet (builds natscli with the Go toolchain when it is not on
// PATH), then runs every unit and real-server test with node's test runner
// and ends with "sdk: N passed, N failed".
import { spawn, spawnSync, execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ROOT = resolve(SDK, '../..')
const NATSCLI = 'github.com/nats-io/natscli/nats@v0.5.0'
const env = { ...process.env }

const tmp = mkdtempSync(join(tmpdir(), 'pocketbus-sdk-bin-'))
let t0 = Date.now()
if (!env.POCKETBUS_BIN) {
  console.log('building pocketbus (go build ./cmd/pocketbus)…')
  env.POCKETBUS_BIN = join(tmp, 'pocketbus')
  execFileSync('go', ['build', '-o', env.POCKETBUS_BIN, './cmd/pocketbus'], { cwd: ROOT, stdio: 'inherit' })
  console.log(`  built in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}

// The nats CLI for the `nats context save` snippet: kept between runs.
if (spawnSync('nats', ['--version'], { stdio: 'ignore' }).status !== 0 && env.POCKETBUS_SKIP_NATSCLI !== '1') {
  const bin = join(tmpdir(), 'pocketbus-tools')
  if (!existsSync(join(bin, 'nats'))) {
    t0 = Date.now()
    console.log(`building the nats CLI (go install ${NATSCLI}) for the CLI snippet test…`)
    mkdirSync(bin, { recursive: true })
    const r = spawnSync('go', ['install', NATSCLI], { env: { ...env, GOBIN: bin, GOFLAGS: '-mod=mod' }, stdio: 'inherit' })
    if (r.status !== 0) console.log('  could not build it: the CLI snippet test is skipped')
    else console.log(`  built in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  }
  if (existsSync(join(bin, 'nats'))) env.PATH = `${bin}:${env.PATH}`
}

const files = process.argv.slice(2).length ? process.argv.slice(2) : ['test/unit/', 'test/server/']
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${join(tmp, 'tap.txt')}`, ...files], { cwd: SDK, env, stdio: 'inherit' })
const code = await new Promise((r) => child.on('exit', (c) => r(c ?? 1)))
let passed = 0
let failed = 0
let skipped = 0
try {
  const tap = (await import('node:fs')).readFileSync(join(tmp, 'tap.txt'), 'utf8')
  passed = Number(/^# pass (\d+)/m.exec(tap)?.[1] ?? 0)
  failed = Number(/^# fail (\d+)/m.exec(tap)?.[1] ?? 0) + Number(/^# cancelled (\d+)/m.exec(tap)?.[1] ?? 0)
  skipped = Number(/^# skipped (\d+)/m.exec(tap)?.[1] ?? 0)
} catch {
  failed = 1
}
if (code !== 0 && failed === 0) failed = 1
rmSync(tmp, { recursive: true, force: true })
console.log(`\nsdk: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed ? 1 : 0)
