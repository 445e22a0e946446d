'use strict'

// Overhead: the server's CPU time per request, at a fixed rate far below saturation.
//
// Throughput on a 2-core box shared with the load generator is mostly a measure of who gets
// the cores; CPU time per request is what the plugin actually costs, whatever the load. So:
// - each variant is a hello-world server in its own process (server.js), all started at once;
// - this process offers each one the same fixed rate, open loop (evenly spaced sends that do
//   not wait for earlier answers), over a few keep-alive connections;
// - the server reports process.cpuUsage() (user + system) and the number of requests it
//   received at the start and end of the measured window; CPU µs per request = the CPU delta /
//   the request delta, both taken in the server at the same instants;
// - rounds rotate the order of the variants, so a drift of a shared machine hits each alike;
//   each ratio is computed within a round, then the median over rounds is reported.
//
// Variants (server.js): bare, naive (two hooks and a counter, never rejecting), plugin
// (defaults, never rejecting at this rate: the refused counts below prove it), bare-503 (an
// empty 503 from onRequest), plugin-reject (every request refused by the plugin's default
// answer), and opt-in (--variants): error-503 (Fastify's error path for a 503, as the plugin's
// default answer takes it, without the plugin), under-pressure.
//
// Results: benchmarks/results/latest/overhead.{md,json} (git-ignored), or with --save (or
// BENCH_SAVE=1) benchmarks/results/; BENCH_RESULTS_DIR=dir writes to dir.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { parseArgs } = require('node:util')
const { positiveNumber } = require('../lib/flags')
const { performance } = require('node:perf_hooks')
const { createConnectionPool } = require('../lib/connection-pool')
const { loadPlugin } = require('../lib/plugin-loader')
const { median } = require('../lib/targets')
const { resultsDir } = require('../lib/output')

const DEFAULT_VARIANTS = ['bare', 'naive', 'plugin', 'bare-503', 'plugin-reject']
const PLUGIN_VARIANTS = new Set(['plugin', 'plugin-reject'])
const RATIOS = [
  { label: 'admitted: plugin / naive', of: 'plugin', to: 'naive', target: 1.0 },
  { label: 'rejected: plugin-reject / bare-503', of: 'plugin-reject', to: 'bare-503', target: 1.1 },
  { label: 'plugin / bare', of: 'plugin', to: 'bare', target: null },
  // With the opt-in error-503 variant: the plugin's own share of a refusal, Fastify's error path aside.
  { label: 'plugin-reject / error-503', of: 'plugin-reject', to: 'error-503', target: null }
]
const DESCRIPTIONS = {
  bare: 'Fastify alone',
  naive: 'an `onRequest` hook (`if (inflight >= limit) reply.code(503).send(); else inflight++`) and an `onResponse` hook (`inflight--`), with a limit never reached',
  plugin: 'the plugin at its defaults',
  'bare-503': 'an `onRequest` hook answering every request `reply.code(503).send()`',
  'plugin-reject': 'the plugin with `algorithm: { name: \'fixed\', options: { limit: 1 } }` (every other option at its default), its one permit ' +
    'held for the whole run by a request to a route that never answers, so every measured request is refused by the plugin\'s default ' +
    'answer (an `FST_CONCURRENCY_LIMIT_EXCEEDED` error through Fastify\'s error handler: JSON body, `Retry-After`)',
  'error-503': 'an `onRequest` hook handing one shared `Error` with `statusCode` 503 to `done`, with `Retry-After`: Fastify\'s error path, ' +
    'as the plugin\'s default answer takes it, without the plugin',
  'under-pressure': '`@fastify/under-pressure` (`maxEventLoopDelay` 200 ms)'
}
// Waiting for the last answers of a window; a hello world answers in well under a millisecond.
const DRAIN_TIMEOUT_MS = 5000

function parseFlags (argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string', default: '3000' },
      rounds: { type: 'string' },
      measure: { type: 'string' },
      settle: { type: 'string', default: '0.5' },
      connections: { type: 'string', default: '16' },
      variants: { type: 'string' },
      quick: { type: 'boolean', default: false },
      save: { type: 'boolean', default: false }
    }
  })
  const positive = positiveNumber
  const known = (v) => {
    if (!DESCRIPTIONS[v]) throw new Error(`unknown variant "${v}"; known: ${Object.keys(DESCRIPTIONS).join(', ')}`)
    return v
  }
  const rounds = Math.round(positive('rounds', values.rounds ?? (values.quick ? 3 : 5)))
  if (rounds < 3) throw new Error('--rounds must be at least 3 (the result is a median over rounds)')
  return {
    rate: positive('rate', values.rate),
    rounds,
    measureMs: positive('measure', values.measure ?? (values.quick ? 2 : 4)) * 1000,
    settleMs: Number(values.settle) * 1000,
    connections: Math.round(positive('connections', values.connections)),
    variants: values.variants ? values.variants.split(',').map(known) : DEFAULT_VARIANTS,
    dir: resultsDir({ save: values.save }),
    argv: argv.join(' ')
  }
}

function startServer (variant) {
  const child = fork(path.join(__dirname, 'server.js'), [variant], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let nextId = 0
  const waiting = new Map()
  return new Promise((resolve, reject) => {
    child.on('message', (msg) => {
      if (msg.type === 'ready') resolve(server(msg.port))
      else if (msg.type === 'failed') reject(new Error(`${variant} server failed: ${msg.message}`))
      else if (msg.type === 'stats') { waiting.get(msg.id)(msg); waiting.delete(msg.id) }
    })
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)))
  })
  function server (port) {
    return {
      variant,
      child,
      origin: `http://127.0.0.1:${port}`,
      // CPU time and requests received, read by the server at the same instant.
      stats: () => new Promise((resolve) => {
        const id = nextId++
        waiting.set(id, resolve)
        child.send({ type: 'stats', id })
      })
    }
  }
}

/**
 * One measurement: `rate` requests per second, evenly spaced, for settleMs + measureMs. The
 * window starts after settleMs (the server was idle while the others were measured). Counts
 * the answers by status that arrive within the window.
 */
async function measure (server, pool, { rate, settleMs, measureMs }) {
  const counts = { ok: 0, rejected: 0, other: 0, errors: 0 }
  let counting = false
  let outstanding = 0
  let sent = 0
  let sending = true
  let maxQueued = 0
  let onIdle = null
  const spec = { path: '/' }
  function onDone (exchange, err) {
    outstanding--
    if (counting) {
      if (err) counts.errors++
      else if (exchange.statusCode >= 200 && exchange.statusCode < 300) counts.ok++
      else if (exchange.statusCode === 503) counts.rejected++
      else counts.other++
    }
    if (outstanding === 0 && onIdle) onIdle()
  }
  const start = performance.now()
  const intervalMs = 1000 / rate
  function tick () {
    if (!sending) return
    const due = Math.floor((performance.now() - start) / intervalMs) + 1
    for (; sent < due; sent++) {
      outstanding++
      pool.request(spec, sent * intervalMs, onDone)
    }
    if (pool.queued > maxQueued) maxQueued = pool.queued
    setTimeout(tick, 1)
  }
  tick()
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
  await sleep(settleMs)
  const before = await server.stats()
  const t0 = performance.now()
  counting = true
  await sleep(measureMs)
  const after = await server.stats()
  const windowMs = performance.now() - t0
  counting = false
  sending = false
  if (outstanding > 0) {
    await Promise.race([new Promise((resolve) => { onIdle = resolve }), sleep(DRAIN_TIMEOUT_MS)])
  }
  const requests = after.received - before.received
  const userUs = after.userUs - before.userUs
  const cpuUs = userUs + after.systemUs - before.systemUs
  const plugin = after.plugin && before.plugin
    ? { admitted: after.plugin.admitted - before.plugin.admitted, rejected: after.plugin.rejected - before.plugin.rejected, limit: after.plugin.limit }
    : null
  return {
    cpuUsPerRequest: cpuUs / requests,
    // User time alone: the JavaScript (Fastify, the hooks, the plugin) without the kernel's
    // share (socket reads and writes, epoll), which is the same work in every variant.
    userUsPerRequest: userUs / requests,
    requests,
    servedRate: requests * 1000 / windowMs,
    // Share of one core the server used: far below 1 means the rate was far below saturation.
    cpuShare: cpuUs / (windowMs * 1000),
    counts,
    plugin,
    maxQueued,
    unanswered: outstanding
  }
}

const fmt = (v, digits = 1) => (v === null || !Number.isFinite(v)) ? '–' : v.toFixed(digits)
const loadavg = () => os.loadavg().map((x) => x.toFixed(2)).join(' ')

function summarize (variants, rounds) {
  const rows = variants.map((v) => {
    const ms = rounds.map((r) => r.measurements[v])
    const sum = (f) => ms.reduce((n, m) => n + f(m), 0)
    return {
      variant: v,
      cpuUsPerRequest: median(ms.map((m) => m.cpuUsPerRequest)),
      minUs: Math.min(...ms.map((m) => m.cpuUsPerRequest)),
      maxUs: Math.max(...ms.map((m) => m.cpuUsPerRequest)),
      userUsPerRequest: median(ms.map((m) => m.userUsPerRequest)),
      servedRate: median(ms.map((m) => m.servedRate)),
      cpuShare: median(ms.map((m) => m.cpuShare)),
      ok: sum((m) => m.counts.ok),
      rejected: sum((m) => m.counts.rejected),
      otherOrErrors: sum((m) => m.counts.other + m.counts.errors + m.unanswered),
      pluginAdmitted: ms[0].plugin ? sum((m) => m.plugin.admitted) : null,
      pluginRejected: ms[0].plugin ? sum((m) => m.plugin.rejected) : null
    }
  })
  const ratios = RATIOS.filter((r) => variants.includes(r.of) && variants.includes(r.to)).map((r) => {
    const perRound = rounds.map((round) => round.measurements[r.of].cpuUsPerRequest / round.measurements[r.to].cpuUsPerRequest)
    const value = median(perRound)
    return { ...r, value, perRound, met: r.target === null ? null : value <= r.target }
  })
  return { rows, ratios }
}

function markdown ({ flags, rows, ratios, meta, skipped }) {
  const lines = [
    '# Overhead: server CPU time per request',
    '',
    `Each variant is a hello-world Fastify server in its own process, offered ${flags.rate.toLocaleString('en-US')} req/s ` +
      `(fixed spacing, open loop, ${flags.connections} keep-alive connections; far below saturation: see the CPU share column). ` +
      'The server reads `process.cpuUsage()` (user + system) and its count of received requests at the start and end of each ' +
      `${flags.measureMs / 1000} s window (after ${flags.settleMs / 1000} s of settling); CPU per request = CPU delta / request delta. ` +
      `${flags.rounds} rounds after one unmeasured warm-up pass, the order of the variants rotating every round; ` +
      'each ratio is computed within a round, the table gives the median over rounds.',
    '',
    `Measured ${meta.date} on ${meta.machine}; load average (1, 5, 15 min) ${meta.loadStart} at the start, ${meta.loadEnd} at the end; ` +
      `\`${meta.command}\`.`,
    skipped ? `\nSkipped: ${skipped}.\n` : '',
    '| ratio | median | per round | target | met |',
    '|---|---|---|---|---|',
    ...ratios.map((r) => `| ${r.label} | ${fmt(r.value, 3)}x | ${r.perRound.map((x) => fmt(x, 2)).join(' / ')} | ` +
      `${r.target === null ? '–' : `≤ ${r.target.toFixed(1)}x`} | ${r.met === null ? '' : r.met ? 'yes' : 'no'} |`),
    '',
    '| variant | CPU µs / request (median) | min – max over rounds | of which user | served/s | server CPU (share of a core) | 2xx | 503 | other + errors | plugin admitted / refused (its own counters) |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.variant} | ${fmt(r.cpuUsPerRequest)} | ${fmt(r.minUs)} – ${fmt(r.maxUs)} | ${fmt(r.userUsPerRequest)} | ${Math.round(r.servedRate).toLocaleString('en-US')} | ` +
      `${fmt(r.cpuShare * 100)} % | ${r.ok} | ${r.rejected} | ${r.otherOrErrors} | ${r.pluginAdmitted === null ? '–' : `${r.pluginAdmitted} / ${r.pluginRejected}`} |`),
    '',
    'Variants: ' + rows.map((r) => `\`${r.variant}\` ${DESCRIPTIONS[r.variant]}`).join('; ') + '. Counts are over the measured windows of all rounds.',
    ''
  ]
  return lines.join('\n')
}

async function main () {
  const flags = parseFlags(process.argv.slice(2))
  const { reason } = loadPlugin()
  const variants = reason ? flags.variants.filter((v) => !PLUGIN_VARIANTS.has(v)) : flags.variants
  const skipped = reason && variants.length < flags.variants.length ? `the plugin variants (${reason})` : null
  if (skipped) console.error(`NOTE: ${skipped}`)
  const cpus = os.cpus()
  const meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: `${cpus.length} x ${cpus[0]?.model.trim()}, Node ${process.version}`,
    loadStart: loadavg(),
    command: `node benchmarks/overhead/run.js ${flags.argv}`.trim()
  }
  const started = Date.now()
  const servers = await Promise.all(variants.map(startServer))
  const pools = new Map()
  const rounds = []
  try {
    for (const s of servers) {
      const pool = createConnectionPool(s.origin, { connections: flags.connections, connectTimeoutMs: 5000 })
      await pool.warmUp('/')
      pools.set(s.variant, pool)
    }
    // One unmeasured pass: JIT warm-up of every server (and of this generator).
    for (const s of servers) await measure(s, pools.get(s.variant), { ...flags, settleMs: 0, measureMs: 2000 })
    for (let round = 0; round < flags.rounds; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length])
      const measurements = {}
      for (const s of order) measurements[s.variant] = await measure(s, pools.get(s.variant), flags)
      rounds.push({ order: order.map((s) => s.variant), measurements })
      console.error(`round ${round + 1}/${flags.rounds}: ` + variants.map((v) => {
        const m = measurements[v]
        return `${v} ${fmt(m.cpuUsPerRequest)} µs/req (${Math.round(m.servedRate)}/s, 503 ${m.counts.rejected})`
      }).join(', '))
    }
  } finally {
    await Promise.all([...pools.values()].map((p) => p.destroy()))
    for (const s of servers) s.child.kill()
  }
  meta.loadEnd = loadavg()
  meta.seconds = Math.round((Date.now() - started) / 1000)
  const { rows, ratios } = summarize(variants, rounds)
  const md = markdown({ flags, rows, ratios, meta, skipped })
  fs.mkdirSync(flags.dir, { recursive: true })
  fs.writeFileSync(path.join(flags.dir, 'overhead.md'), md)
  const { dir, ...config } = flags
  fs.writeFileSync(path.join(flags.dir, 'overhead.json'), JSON.stringify({ meta, config, ratios, rows, rounds }, null, 2) + '\n')
  console.log(md)
  console.error(`finished in ${meta.seconds} s; results in ${path.relative(process.cwd(), flags.dir) || '.'}/overhead.md`)
}

main().catch((err) => {
  console.error(err.stack || err.message)
  process.exitCode = 1
})
