'use strict'

// Soak (issue 8, part 2; NOT run in CI): the plugin (defaults: gradient2, event-loop gate) in
// front of the async-downstream scenario (16 slots, 10 ms: 1,600 req/s capacity), offered
// `--load` x capacity open-loop for `--duration` seconds. Reuses the benchmark harness: the
// scenario server in its own process, the open-loop generator, the recorder.
//
// Checks, printed at the end (exit code 1 if one fails):
// - no permit leaked: once the load stops and the last requests finished, in-flight is 0 and
//   admitted = succeeded + dropped + ignored (+ in-flight);
// - RSS growth after warm-up <= 20 MB (server process, sampled every 100 ms);
// - the status route answers with p99 <= 50 ms throughout (polled every 100 ms from a worker
//   thread on its own connection, so the generator's busy loop does not skew it).
// The generator reports the rate it actually achieved. On a 2-core box it cannot offer 10x of
// a 1,600 req/s downstream (16,000 req/s); `--service-ms 50` makes the same 16-slot downstream
// a 320 req/s one, so 10x overload is 3,200 req/s, which this box can offer. The overload
// ratio (what the limiter faces: 90 % of requests must be refused) is the same.
//
// Usage: npm run build && node benchmarks/soak/run.js [--duration 120] [--warmup 20] [--load 10]
//        [--service-ms 10] [--connections 256] [--save]
// The report goes to benchmarks/results/latest/soak.json (git-ignored); --save (or BENCH_SAVE=1)
// writes the published benchmarks/soak/last-run.json instead; BENCH_RESULTS_DIR=dir: dir/soak.json.
const { fork } = require('node:child_process')
const path = require('node:path')
const { mkdirSync, writeFileSync } = require('node:fs')
const { Worker } = require('node:worker_threads')
const { parseArgs } = require('node:util')
const { request } = require('undici')
const { createArrivalSchedule } = require('../lib/arrivals')
const { createRecorder } = require('../lib/metrics')
const { runOpenLoop, trafficClasses } = require('../lib/load-generator')
const { memoryGrowth } = require('../lib/trial')
const { SCENARIOS } = require('../lib/scenarios')
const { resultsDir } = require('../lib/output')

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '120' },
    warmup: { type: 'string', default: '20' },
    load: { type: 'string', default: '10' },
    connections: { type: 'string', default: '256' },
    'service-ms': { type: 'string', default: '10' },
    seed: { type: 'string', default: '7' },
    save: { type: 'boolean', default: false }
  }
})
const durationMs = Number(args.duration) * 1000
const warmupMs = Number(args.warmup) * 1000
const SERVER = path.join(__dirname, '..', 'scenario-server.js')
const LIMITS = { rssGrowthMb: 20, statusP99Ms: 50 }

function percentile (sorted, p) {
  if (sorted.length === 0) return null
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

function once (child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type}' from the server within ${timeoutMs} ms`)), timeoutMs)
    child.on('message', function onMessage (msg) {
      if (msg.type === 'failed') { clearTimeout(timer); reject(new Error(msg.message)) }
      if (msg.type !== type) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(msg)
    })
  })
}

async function statusSnapshot (origin) {
  const res = await request(`${origin}/status`)
  return res.body.json()
}

async function main () {
  const serviceMs = Number(args['service-ms'])
  const downstream = SCENARIOS.find((s) => s.name === 'downstream-10x')
  const base = {
    ...downstream,
    server: { ...downstream.server, routes: downstream.server.routes.map((r) => ({ ...r, serviceMs })) },
    capacity: downstream.capacity * downstream.serviceMs / serviceMs
  }
  const rate = base.capacity * Number(args.load)
  const protection = { name: 'plugin', kind: 'plugin', options: { statusRoute: true } }
  const child = fork(SERVER, [JSON.stringify({ scenario: base.server, protection, sampleMs: 100 })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const samples = []
  child.on('message', (msg) => { if (msg.type === 'sample') samples.push(msg) })
  const { port } = await once(child, 'ready', 15_000)
  const origin = `http://127.0.0.1:${port}`

  const polls = []
  let poller = null
  const recorder = createRecorder({ durationMs, warmupMs, sloMs: 100, classes: trafficClasses(base.routes) })
  const cpuBefore = process.cpuUsage()
  console.log(`soak: ${args.duration} s at ${args.load}x capacity (${base.capacity} req/s: 16 slots x ${serviceMs} ms; ${rate} req/s offered), warm-up ${args.warmup} s, ${args.connections} connections`)
  const load = await runOpenLoop({
    origin,
    schedule: createArrivalSchedule({ mode: 'fixed', rate, durationMs, seed: Number(args.seed) }),
    durationMs,
    routes: base.routes,
    recorder,
    timeoutMs: 2000,
    connections: Number(args.connections),
    seed: Number(args.seed),
    onStart: () => {
      child.send({ type: 'start' })
      poller = new Worker(path.join(__dirname, 'status-poller.js'), { workerData: { url: `${origin}/status`, everyMs: 100 } })
      poller.on('message', (msg) => { if (msg.type === 'poll') polls.push(msg) })
    }
  })
  const cpu = process.cpuUsage(cpuBefore)

  // The last requests (and client timeouts) may still be finishing: wait for quiet, then read.
  let snap = await statusSnapshot(origin)
  for (let i = 0; i < 100 && snap.inflight !== 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    snap = await statusSnapshot(origin)
  }
  const stopped = new Promise((resolve) => poller.on('message', (msg) => { if (msg.type === 'stopped') resolve() }))
  poller.postMessage({ type: 'stop' })
  await stopped
  await poller.terminate()
  const final = once(child, 'final', 5000)
  child.send({ type: 'stop' })
  await final

  const summary = recorder.summarize()
  const memory = memoryGrowth(samples, warmupMs)
  const pollMs = polls.filter((p) => p.status === 200).map((p) => p.ms).sort((a, b) => a - b)
  // p99 per 10 s window too: "throughout" means no window is allowed to hide behind the total.
  const windows = []
  for (let from = 0; from < durationMs; from += 10_000) {
    const w = polls.filter((p) => p.t >= from && p.t < from + 10_000 && p.status === 200).map((p) => p.ms).sort((a, b) => a - b)
    windows.push({ fromS: from / 1000, polls: w.length, p99Ms: percentile(w, 99) })
  }
  const worstWindowP99 = Math.max(...windows.map((w) => w.p99Ms ?? Infinity))
  const report = {
    command: `node benchmarks/soak/run.js --duration ${args.duration} --warmup ${args.warmup} --load ${args.load} --service-ms ${serviceMs} --connections ${args.connections}`,
    capacity: base.capacity,
    offeredRate: rate,
    achievedRate: Math.round(load.writtenInRun * 1000 / durationMs),
    generatorCpuS: (cpu.user + cpu.system) / 1e6,
    totals: summary.total,
    perSecond: summary.perSecond.map((s) => ({ second: s.second, sent: s.sent, ok: s.ok, rejected: s.rejected, timeouts: s.timeouts, errors: s.errors })),
    clientErrors: load.errorCodes,
    permits: {
      inflight: snap.inflight,
      admitted: snap.admitted,
      succeeded: snap.succeeded,
      dropped: snap.dropped,
      ignored: snap.ignored,
      rejected: snap.rejected,
      limit: snap.limit,
      addsUp: snap.admitted === snap.succeeded + snap.dropped + snap.ignored + snap.inflight
    },
    rss: memory,
    rssMaxAfterWarmupMb: Math.max(...samples.filter((s) => s.t >= warmupMs).map((s) => s.rss)) / (1024 * 1024),
    statusRoute: {
      polls: polls.length,
      failed: polls.filter((p) => p.status !== 200).length,
      p50Ms: percentile(pollMs, 50),
      p99Ms: percentile(pollMs, 99),
      maxMs: pollMs[pollMs.length - 1],
      worstWindowP99Ms: worstWindowP99,
      // Every poll over the limit, with its time since the start (ms): when, not just how many.
      slowPolls: polls.filter((p) => p.ms > LIMITS.statusP99Ms).map((p) => ({ t: Math.round(p.t), ms: Math.round(p.ms) })),
      windows
    }
  }
  const checks = {
    noPermitLeaked: report.permits.inflight === 0 && report.permits.addsUp,
    rssGrowthWithin20Mb: memory !== null && memory.growthMb <= LIMITS.rssGrowthMb,
    statusP99Within50MsThroughout: report.statusRoute.failed === 0 && worstWindowP99 <= LIMITS.statusP99Ms
  }
  report.checks = checks
  const dir = resultsDir({ save: args.save, committed: __dirname })
  const file = path.join(dir, dir === __dirname ? 'last-run.json' : 'soak.json')
  mkdirSync(dir, { recursive: true })
  writeFileSync(file, JSON.stringify(report, null, 2) + '\n')
  console.log(JSON.stringify({ ...report, statusRoute: { ...report.statusRoute, windows: undefined } }, null, 2))
  console.log('status p99 per 10 s window (ms):', windows.map((w) => w.p99Ms === null ? '-' : w.p99Ms.toFixed(1)).join(' '))
  console.log(Object.entries(checks).map(([k, ok]) => `${ok ? 'PASS' : 'FAIL'} ${k}`).join('\n'))
  console.log(`report: ${path.relative(process.cwd(), file)}`)
  process.exitCode = Object.values(checks).every(Boolean) ? 0 : 1
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
