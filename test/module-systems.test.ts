// The published package, as each module system sees it. `npm pack` builds it (prepare) and packs
// exactly what would be published; the tarball is unpacked into a consumer package with
// "type": "module", which then loads it from an ES module, a CommonJS file, and TypeScript with
// `module: nodenext` (an ES module and a CommonJS file). Nothing touches the registry.
//
// The consumer lives under test-artifacts/ so that fastify, typescript and the package's own
// dependencies resolve from this repository's node_modules; its package.json has another name, so
// Node and TypeScript do not resolve the package name to this repository itself.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

interface Exit { code: number, stdout: string, stderr: string }

/** Runs to completion; a non-zero exit is a result to assert on, with its output, not a throw. */
async function exec (file: string, args: string[], cwd: string): Promise<Exit> {
  try {
    return { code: 0, ...await run(file, args, { cwd, env }) }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string, message: string }
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message }
  }
}
const ROOT = join(__dirname, '..')
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
const NAME = 'fastify-adaptive-concurrency'
// Plain node for the consumers: no tsx or coverage loaders from the test runner.
const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' }

// Every runtime export of each entry point, read with require(): the ES module must see all of
// them as named exports (Node detects them statically, or they are missing).
const ENTRIES = ['', '/limiter', '/algorithms', '/sessions']

// A build, a pack and eight type checks: about a minute alone, several times that on a loaded
// 2-core box.
t.setTimeout(900_000)

const ESM = `
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import Fastify from 'fastify'
import adaptiveConcurrency, { fastifyAdaptiveConcurrency, errors } from '${NAME}'
import { Limiter, Permit, WaitQueue, Waiter, PartitionSet, DEFAULT_PARTITION, ServiceTimeEwma } from '${NAME}/limiter'
import { Gradient2Limit, FixedLimit, WindowedLimit, createAlgorithm, ALGORITHM_NAMES, isLimitAlgorithm } from '${NAME}/algorithms'
import { MemoryStore, RedisStore, SessionTracker, SessionOverloadPolicy, StoreTimeoutError } from '${NAME}/sessions'

assert.equal(typeof adaptiveConcurrency, 'function', 'the default import is the plugin')
assert.equal(fastifyAdaptiveConcurrency, adaptiveConcurrency)
assert.equal(typeof errors.FST_CONCURRENCY_LIMIT_EXCEEDED, 'function')
for (const value of [Limiter, Permit, WaitQueue, Waiter, PartitionSet, ServiceTimeEwma, Gradient2Limit, FixedLimit,
  WindowedLimit, createAlgorithm, isLimitAlgorithm, MemoryStore, RedisStore, SessionTracker, SessionOverloadPolicy, StoreTimeoutError]) {
  assert.equal(typeof value, 'function')
}
assert.equal(DEFAULT_PARTITION, 'default')
assert.ok(ALGORITHM_NAMES.includes('gradient2'))
assert.equal(new Gradient2Limit({ initialLimit: 7 }).limit, 7)

const require = createRequire(import.meta.url)
for (const entry of ${JSON.stringify(ENTRIES)}) {
  const names = Object.keys(require('${NAME}' + entry)).filter(n => n !== '__esModule')
  const namespace = await import('${NAME}' + entry)
  const missing = names.filter(n => !(n in namespace))
  assert.deepEqual(missing, [], '${NAME}' + entry + ': exports an ES module cannot import by name')
}

const app = Fastify()
await app.register(adaptiveConcurrency, { algorithm: { name: 'fixed', options: { limit: 3 } } })
assert.equal(app.concurrency.limit, 3)
await app.close()
console.log('esm ok')
`

const CJS = `
'use strict'
const assert = require('node:assert/strict')
const Fastify = require('fastify')
const adaptiveConcurrency = require('${NAME}')
const { Limiter, PartitionSet } = require('${NAME}/limiter')
const { Gradient2Limit, createAlgorithm } = require('${NAME}/algorithms')
const { MemoryStore, RedisStore } = require('${NAME}/sessions')

assert.equal(typeof adaptiveConcurrency, 'function', 'require() returns the plugin')
assert.equal(adaptiveConcurrency.default, adaptiveConcurrency)
assert.equal(adaptiveConcurrency.fastifyAdaptiveConcurrency, adaptiveConcurrency)
assert.equal(typeof adaptiveConcurrency.errors.FST_CONCURRENCY_INVALID_OPTION, 'function')
assert.equal(adaptiveConcurrency[Symbol.for('fastify.display-name')], '${NAME}')
for (const value of [Limiter, PartitionSet, Gradient2Limit, createAlgorithm, MemoryStore, RedisStore]) assert.equal(typeof value, 'function')

async function main () {
  const app = Fastify()
  await app.register(adaptiveConcurrency, { algorithm: { name: 'fixed', options: { limit: 4 } } })
  assert.equal(app.concurrency.limit, 4)
  await app.close()
  console.log('cjs ok')
}
main().catch(err => { console.error(err); process.exit(1) })
`

// Type-checked only. The @ts-expect-error lines fail the check if the plugin's options were
// typed loosely (any), so passing means the real types arrived.
const TS_ESM = `
import Fastify from 'fastify'
import adaptiveConcurrency, { fastifyAdaptiveConcurrency, errors } from '${NAME}'
import type { ConcurrencySnapshot, FastifyAdaptiveConcurrencyOptions, SessionsOptions } from '${NAME}'
import { Limiter, PartitionSet, type LimiterOptions } from '${NAME}/limiter'
import { Gradient2Limit, createAlgorithm, ALGORITHM_NAMES, type LimitAlgorithm } from '${NAME}/algorithms'
import { MemoryStore, RedisStore, type SessionStore } from '${NAME}/sessions'

const app = Fastify()
const options: FastifyAdaptiveConcurrencyOptions = { algorithm: { name: 'aimd', options: { backoffRatio: 0.8 } } }
app.register(adaptiveConcurrency, options)
app.register(adaptiveConcurrency, { algorithm: new Gradient2Limit({ initialLimit: 5 }), statusRoute: true })
app.register(fastifyAdaptiveConcurrency, { queue: { size: 10 }, partitions: { shares: { live: 0.8 } } })
// @ts-expect-error not an algorithm name
app.register(adaptiveConcurrency, { algorithm: 'nope' })
const snapshot: ConcurrencySnapshot = app.concurrency.snapshot()
const limit: number = app.concurrency.limit
const store: SessionStore = new MemoryStore()
const sessions: SessionsOptions = { key: () => undefined, idleTimeout: 1000, store }
const algorithm: LimitAlgorithm = createAlgorithm(ALGORITHM_NAMES[0])
const limiterOptions: LimiterOptions = { algorithm }
export const used = [snapshot, limit, sessions, new Limiter(limiterOptions), PartitionSet, RedisStore, errors.FST_CONCURRENCY_LIMIT_EXCEEDED]
`

const TS_CJS = `
import Fastify = require('fastify')
import adaptiveConcurrency = require('${NAME}')
import defaultImport from '${NAME}'
import { Gradient2Limit } from '${NAME}/algorithms'

const app = Fastify()
app.register(adaptiveConcurrency, { algorithm: new Gradient2Limit({ initialLimit: 5 }) })
app.register(adaptiveConcurrency.default, { algorithm: { name: 'fixed', options: { limit: 2 } } })
app.register(defaultImport, { queue: false })
// @ts-expect-error not an algorithm name
app.register(adaptiveConcurrency, { algorithm: 'nope' })
const options: adaptiveConcurrency.FastifyAdaptiveConcurrencyOptions = { signal: { timeout: 100 } }
export const used = [options, adaptiveConcurrency.errors, app.concurrency.limit]
`

// A TypeScript app as a new user has it: tsc's default skipLibCheck (false), so every declaration
// file of the package is checked, and neither optional peer installed, or one, or both. Each entry
// point, the default import, register() and fastify.concurrency; with a peer, its real registry or
// client passed where the options take one.
const TS_PEERLESS = `
import Fastify from 'fastify'
import adaptiveConcurrency from '${NAME}'
import type { ConcurrencySnapshot, FastifyAdaptiveConcurrencyOptions } from '${NAME}'
import { Limiter } from '${NAME}/limiter'
import { Gradient2Limit, createAlgorithm, type LimitAlgorithm } from '${NAME}/algorithms'
import { MemoryStore, RedisStore, type RedisClient } from '${NAME}/sessions'

export const app = Fastify()
const options: FastifyAdaptiveConcurrencyOptions = { algorithm: 'vegas', observability: { metrics: true } }
app.register(adaptiveConcurrency, options)
app.register(adaptiveConcurrency, { algorithm: new Gradient2Limit({ initialLimit: 5 }), sessions: { key: () => undefined, idleTimeout: 1000, store: new MemoryStore() } })
// @ts-expect-error not an algorithm name
app.register(adaptiveConcurrency, { algorithm: 'gradient' })
const limit: number = app.concurrency.limit
const snapshot: ConcurrencySnapshot = app.concurrency.snapshot()
const algorithm: LimitAlgorithm = createAlgorithm('aimd')
declare const client: RedisClient
export const used = [limit, snapshot, new Limiter({ algorithm }), new RedisStore({ client })]
`

const TS_PROM_CLIENT = `
import { Registry } from 'prom-client'
import adaptiveConcurrency from '${NAME}'
import { app } from './consumer.js'
app.register(adaptiveConcurrency, { observability: { metrics: { registry: new Registry() } } })
`

const TS_IOREDIS = `
import { Redis } from 'ioredis'
import { RedisStore } from '${NAME}/sessions'
export const store = new RedisStore({ client: new Redis({ lazyConnect: true }) })
`

// commonjs as `tsc --init` sets it up, with esModuleInterop: fastify's own logger types (pino)
// need it under skipLibCheck false.
const MODULE_SETTINGS: Record<string, { module: string, moduleResolution: string, esModuleInterop?: boolean }> = {
  commonjs: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true },
  node16: { module: 'node16', moduleResolution: 'node16' },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  bundler: { module: 'esnext', moduleResolution: 'bundler' }
}

const TSCONFIG = {
  compilerOptions: {
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    lib: ['es2022'],
    types: ['node'],
    strict: true,
    noEmit: true,
    // The consumer's own code is what is checked here; attw checks how the package's declaration
    // files resolve under each module system.
    skipLibCheck: true
  },
  files: ['consumer.ts', 'consumer.cts']
}

t.test('the packed package loads from ESM, CommonJS and TypeScript nodenext', async t => {
  const parent = join(ROOT, 'test-artifacts')
  mkdirSync(parent, { recursive: true })
  const dir = mkdtempSync(join(parent, 'module-systems-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const pack = await exec('npm', ['pack', '--json', '--pack-destination', dir], ROOT)
  t.equal(pack.code, 0, `npm pack: ${pack.stderr}`)
  const [{ filename }] = JSON.parse(pack.stdout) as Array<{ filename: string }>
  const installed = join(dir, 'node_modules', NAME)
  mkdirSync(installed, { recursive: true })
  const untar = await exec('tar', ['-xzf', join(dir, filename), '-C', installed, '--strip-components=1'], dir)
  t.equal(untar.code, 0, `tar: ${untar.stderr}`)

  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'module-systems-consumer', private: true, type: 'module' }))
  writeFileSync(join(dir, 'esm.js'), ESM)
  writeFileSync(join(dir, 'cjs.cjs'), CJS)
  writeFileSync(join(dir, 'consumer.ts'), TS_ESM)
  writeFileSync(join(dir, 'consumer.cts'), TS_CJS)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG))

  await t.test('an ES module: default and named imports, every export by name', async t => {
    const { code, stdout, stderr } = await exec(process.execPath, ['esm.js'], dir)
    t.equal(code, 0, stderr)
    t.match(stdout, /esm ok/)
  })

  await t.test('CommonJS: require() returns the plugin', async t => {
    const { code, stdout, stderr } = await exec(process.execPath, ['cjs.cjs'], dir)
    t.equal(code, 0, stderr)
    t.match(stdout, /cjs ok/)
  })

  await t.test('TypeScript, module nodenext: default, named and subpath imports type-check', async t => {
    const { code, stdout, stderr } = await exec(process.execPath, [TSC, '-p', 'tsconfig.json'], dir)
    t.equal(stdout, '', 'no type errors')
    t.equal(code, 0, stderr)
  })

  // Outside the repository, so that no import can resolve from its node_modules: each consumer
  // has its own, with the unpacked package, links to what it needs from the repository (fastify,
  // @types/node, the package's own dependencies) and the peers of its case. Symlinked packages
  // resolve their own imports from where they really are, so only the package itself (unpacked
  // here) could reach for a peer that is not installed.
  await t.test('TypeScript with skipLibCheck false, with none, one or both optional peers, under commonjs, node16, nodenext and bundler', async t => {
    const { dependencies } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
    const base = ['fastify', '@types/node', ...Object.keys(dependencies)]
    // Every module setting without the peers (the case that broke); each peer set under some of
    // them. The declaration files name no peer, so the peers only matter to the consumer's own
    // files; a full matrix would only repeat these checks at 20 s or more each.
    const cases: Array<[string, string[], string[]]> = [
      ['no peers', [], Object.keys(MODULE_SETTINGS)],
      ['prom-client', ['prom-client'], ['node16']],
      ['ioredis', ['ioredis'], ['bundler']],
      ['both peers', ['prom-client', 'ioredis'], ['commonjs']]
    ]
    const outside = mkdtempSync(join(tmpdir(), 'fastify-adaptive-concurrency-peers-'))
    t.teardown(() => rmSync(outside, { recursive: true, force: true }))
    const checks: Array<{ name: string, dir: string, config: string }> = []
    for (const [name, peers, settings] of cases) {
      const consumer = join(outside, name.replace(/ /g, '-'))
      const modules = join(consumer, 'node_modules')
      mkdirSync(join(modules, NAME), { recursive: true })
      const untarred = await exec('tar', ['-xzf', join(dir, filename), '-C', join(modules, NAME), '--strip-components=1'], consumer)
      t.equal(untarred.code, 0, `tar: ${untarred.stderr}`)
      for (const pkg of [...base, ...peers]) {
        mkdirSync(dirname(join(modules, pkg)), { recursive: true })
        symlinkSync(join(ROOT, 'node_modules', pkg), join(modules, pkg), 'dir')
      }
      const files = ['consumer.ts', ...(peers.includes('prom-client') ? ['prom-client.ts'] : []), ...(peers.includes('ioredis') ? ['ioredis.ts'] : [])]
      writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'peers-consumer', private: true, type: 'module' }))
      writeFileSync(join(consumer, 'consumer.ts'), TS_PEERLESS)
      writeFileSync(join(consumer, 'prom-client.ts'), TS_PROM_CLIENT)
      writeFileSync(join(consumer, 'ioredis.ts'), TS_IOREDIS)
      for (const setting of settings) {
        const resolution = MODULE_SETTINGS[setting]
        const config = `tsconfig.${setting}.json`
        writeFileSync(join(consumer, config), JSON.stringify({
          compilerOptions: { ...resolution, target: 'es2022', lib: ['es2022'], types: ['node'], strict: true, noEmit: true, skipLibCheck: false },
          files
        }))
        checks.push({ name: `${name}, ${setting}`, dir: consumer, config })
      }
    }
    // Two at a time: the box has two cores.
    const results = new Map<string, Exit>()
    const queue = checks.slice()
    await Promise.all([0, 1].map(async () => {
      for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
        results.set(c.name, await exec(process.execPath, [TSC, '-p', c.config], c.dir))
      }
    }))
    for (const { name } of checks) {
      const { code, stdout, stderr } = results.get(name) as Exit
      t.equal(stdout, '', `${name}: no type errors`)
      t.equal(code, 0, `${name}: ${stderr}`)
    }
  })
})
