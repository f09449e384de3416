#!/usr/bin/env node
// Runs the web app's unit tests (Vitest) and the browser E2E suite, then
// prints one closing line: "web: N passed, N failed".
import { spawnSync } from 'node:child_process'
import { readFileSync, mkdirSync, rmSync } from 'node:fs'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const OUT = join(WEB, 'test-results')
mkdirSync(OUT, { recursive: true })
const read = (f) => { try { return JSON.parse(readFileSync(join(OUT, f), 'utf8')) } catch { return null } }

rmSync(join(OUT, 'vitest.json'), { force: true })
rmSync(join(OUT, 'e2e.json'), { force: true })

console.log('== unit tests (vitest)')
const unit = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${join(OUT, 'vitest.json')}`], { cwd: WEB, stdio: 'inherit' })
const v = read('vitest.json')
const unitPassed = v?.numPassedTests ?? 0
const unitFailed = v ? v.numFailedTests + (unit.status !== 0 && !v.numFailedTests ? 1 : 0) : 1

console.log('\n== browser end-to-end tests')
const e2e = spawnSync('node', ['scripts/e2e.mjs'], { cwd: WEB, stdio: 'inherit' })
const e = read('e2e.json') ?? { passed: 0, failed: 1, skipped: 0 }
const e2eFailed = e.failed + e.skipped + (e2e.status !== 0 && !(e.failed + e.skipped) ? 1 : 0)

const passed = unitPassed + e.passed
const failed = unitFailed + e2eFailed
console.log(`\nweb unit: ${unitPassed} passed, ${unitFailed} failed; web e2e: ${e.passed} passed, ${e2eFailed} failed`)
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed ? 1 : 0)
