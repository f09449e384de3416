// The hand-written declarations compile, and the README's usage type-checks
// against them (test/types/check.ts, strict).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

test('types: tsc --strict on test/types/check.ts', { timeout: 120_000 }, () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const r = spawnSync(process.execPath, [tsc, '-p', fileURLToPath(new URL('../types/tsconfig.json', import.meta.url))], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stdout + r.stderr)
})
