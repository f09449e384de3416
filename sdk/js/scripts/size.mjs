#!/usr/bin/env node
// npm run size: the SDK's size for a browser, minified and gzipped (esbuild,
// browser entry, ES2022). Prints the SDK's own code alone, and with its
// dependencies split as a page loads them: the first chunk (PocketBase SDK +
// the client) and what the first connect() / kv() pull in.
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const SDK = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
const gz = (b) => gzipSync(b, { level: 9 }).length

async function measure(opts) {
  const out = mkdtempSync(join(tmpdir(), 'pocketbus-size-'))
  try {
    await build({ entryPoints: [join(SDK, 'src/index.js')], bundle: true, minify: true, format: 'esm', platform: 'browser', target: 'es2022', outdir: out, logLevel: 'silent', ...opts })
    return readdirSync(out).map((f) => ({ f, raw: readFileSync(join(out, f)).length, gz: gz(readFileSync(join(out, f))) }))
  } finally {
    rmSync(out, { recursive: true, force: true })
  }
}

const own = await measure({ external: ['pocketbase', '@nats-io/*'], splitting: true })
const all = await measure({ splitting: true })
const sum = (xs, k) => xs.reduce((a, x) => a + x[k], 0)
console.log(`@pocketbus/client, minified + gzipped (browser build):`)
const ownEntry = own.find((x) => x.f === 'index.js')
console.log(`  its own code (dependencies external): ${kib(sum(own, 'gz'))} (${kib(sum(own, 'raw'))} minified); on import ${kib(ownEntry.gz)}, the rest with the first connect()`)
const entry = all.find((x) => x.f === 'index.js')
console.log(`  with dependencies: first load (client + PocketBase SDK) ${kib(entry.gz)}; everything incl. the lazily loaded NATS client and KV ${kib(sum(all, 'gz'))}`)
for (const x of all) console.log(`    ${x.f.padEnd(24)} ${kib(x.raw).padStart(10)} min  ${kib(x.gz).padStart(9)} gz`)
