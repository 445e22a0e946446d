'use strict'

// Scenario `new-connections`: bursts of new TCP connections during a CPU-bound overload.
//
// A CPU-bound route (3 ms of synchronous work per request) is offered 2x its capacity,
// open loop, over 50 warm keep-alive connections. Midway through, `BURST` new connections
// open at once, each sending one GET; we record each one's time to the first response byte
// (measured from before connect). libuv accepts one connection per loop iteration, so this
// time is set by how long the loop's iterations are (docs/new-connections.md).
//
// Runs from benchmarks/run.js (`--scenario new-connections`), each trial in a fresh server
// process (benchmarks/scenario-server.js); results go to <results dir>/new-connections.{md,json} (run.js picks the folder).

const { message } = require('../lib/child-message')
const { writeScenarioResults } = require('../lib/output')
const path = require('node:path')
const { fork } = require('node:child_process')
const { createArrivalSchedule } = require('../lib/arrivals')
const { createRecorder } = require('../lib/metrics')
const { runOpenLoop } = require('../lib/load-generator')
const { connectionBurst } = require('./burst')

const SERVER = path.join(__dirname, '..', 'scenario-server.js')
const BURN_MS = 3
const CAPACITY = Math.round(1000 / BURN_MS) // 333 req/s on one core
const KEEP_ALIVE_CONNECTIONS = 50
const BURST = 200
const BURST_AT_MS = 4000
const BURST_TIMEOUT_MS = 30000
const TARGET_P99_MS = 500

const scenario = {
  name: 'new-connections',
  title: `New connections: ${BURST} open at once ${BURST_AT_MS / 1000} s into a 2x CPU-bound overload (K = ${BURN_MS} ms, ${KEEP_ALIVE_CONNECTIONS} keep-alive connections)`,
  server: { kind: 'cpu', burnMs: BURN_MS },
  routes: [{ path: '/work', weight: 1 }],
  capacity: CAPACITY,
  oracleLimit: 1,
  serviceMs: BURN_MS,
  rate: 2 * CAPACITY,
  arrival: { mode: 'fixed' },
  durationMs: 8000,
  protections: ['none', 'under-pressure', 'gradient2'],
  run
}

const median = (xs) => {
  const v = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

// Unanswered connections count as the burst timeout: a lower bound of their real time.
function percentile (ttfb, p) {
  const v = ttfb.map((x) => x === null ? BURST_TIMEOUT_MS : x).sort((a, b) => a - b)
  return v[Math.min(v.length - 1, Math.ceil(p / 100 * v.length) - 1)]
}

async function trial ({ rate, protection, durationMs, warmupMs, sloMs, timeoutMs, seed }) {
  const child = fork(SERVER, [JSON.stringify({ scenario: scenario.server, protection, sampleMs: 100 })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  // The server's own samples (limit, in-flight, loop delay every 100 ms), kept in the JSON.
  const samples = []
  child.on('message', (msg) => { if (msg.type === 'sample') samples.push(msg) })
  try {
    const { port } = await message(child, 'ready')
    const burstAtMs = Math.min(BURST_AT_MS, durationMs / 2)
    const recorder = createRecorder({ durationMs, warmupMs, sloMs })
    let burst = null
    const load = await runOpenLoop({
      origin: `http://127.0.0.1:${port}`,
      schedule: createArrivalSchedule({ ...scenario.arrival, rate, durationMs, seed }),
      durationMs,
      routes: scenario.routes,
      recorder,
      timeoutMs,
      connections: KEEP_ALIVE_CONNECTIONS,
      seed,
      onStart: () => {
        child.send({ type: 'start' })
        setTimeout(() => {
          burst = connectionBurst({ port, path: '/work', count: BURST, timeoutMs: BURST_TIMEOUT_MS })
        }, burstAtMs)
      }
    })
    const { ttfb, statuses } = await burst
    const total = recorder.summarize().total
    return {
      protection: protection.name,
      burst: {
        p50: percentile(ttfb, 50),
        p99: percentile(ttfb, 99),
        max: percentile(ttfb, 100),
        unanswered: ttfb.filter((x) => x === null).length,
        statuses
      },
      load: {
        goodputFraction: total.goodput / CAPACITY,
        admittedP99: total.admittedP99,
        rejectionP99: total.rejectionP99,
        errors: total.errors + total.timeouts,
        errorCodes: load.errorCodes
      },
      perSecond: recorder.summarize().perSecond.map((b) => ({ goodput: b.goodput, rejected: b.rejectedRate, admittedP99: b.admittedP99, rejectionP99: b.rejectionP99, sendLagP99: b.sendLagP99 })),
      samples
    }
  } finally {
    child.kill('SIGKILL')
  }
}

function summarize (trials, names) {
  return names.map((name) => {
    const runs = trials.filter((t) => t.protection === name)
    const m = (f) => median(runs.map(f))
    return {
      name,
      runs: runs.length,
      burstP50: m((t) => t.burst.p50),
      burstP99: m((t) => t.burst.p99),
      burstMax: m((t) => t.burst.max),
      unanswered: m((t) => t.burst.unanswered),
      goodputFraction: m((t) => t.load.goodputFraction),
      admittedP99: m((t) => t.load.admittedP99),
      rejectionP99: m((t) => t.load.rejectionP99)
    }
  })
}

function markdown (rows, meta, durationMs, rate) {
  const ms = (v) => v === null ? '–' : v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`
  const pct = (v) => v === null ? '–' : `${(v * 100).toFixed(1)} %`
  const lines = [
    `# ${scenario.title}`,
    '',
    `${meta.date}; ${meta.machine}; ${meta.flags}. Offered ${rate} req/s (${(rate / CAPACITY).toFixed(1)}x the ${CAPACITY} req/s capacity) for ${durationMs / 1000} s; ` +
      `the burst opens ${BURST} connections at ${Math.min(BURST_AT_MS, durationMs / 2) / 1000} s. Medians of ${rows[0]?.runs ?? 0} runs. ` +
      `Time to first byte is measured client-side from before connect; a connection unanswered after ${BURST_TIMEOUT_MS / 1000} s counts as ${BURST_TIMEOUT_MS / 1000} s. ` +
      'The keep-alive load columns cover the whole run after warm-up (goodput: 2xx within the SLO, as a share of capacity).',
    '',
    '| protection | new conn. TTFB p50 | p99 | max | unanswered | load goodput | admitted p99 | rejection p99 | target p99 <= 500 ms |',
    '|---|---|---|---|---|---|---|---|---|'
  ]
  for (const r of rows) {
    const target = r.name === 'none' || r.name === 'under-pressure' ? '' : (r.burstP99 !== null && r.burstP99 <= TARGET_P99_MS ? 'pass' : 'FAIL')
    lines.push(`| ${r.name} | ${ms(r.burstP50)} | ${ms(r.burstP99)} | ${ms(r.burstMax)} | ${r.unanswered ?? '–'} | ${pct(r.goodputFraction)} | ${ms(r.admittedP99)} | ${ms(r.rejectionP99)} | ${target} |`)
  }
  return lines.join('\n') + '\n'
}

/**
 * Called by benchmarks/run.js. `protections`: configs from its protectionConfig().
 * Logs one line per trial to stderr and returns the results' markdown.
 */
async function run ({ scenario: planned, protections, runs, durationMs, warmupMs, sloMs, timeoutMs, meta, log, resultsDir }) {
  const trials = []
  for (let r = 1; r <= runs; r++) {
    for (const protection of protections) {
      const t = await trial({ rate: planned.rate, protection, durationMs, warmupMs, sloMs, timeoutMs, seed: r })
      t.run = r
      trials.push(t)
      log(`${scenario.name} x ${protection.name} run ${r}: new connections TTFB p50 ${Math.round(t.burst.p50)} ms, p99 ${Math.round(t.burst.p99)} ms, ` +
        `unanswered ${t.burst.unanswered}, statuses ${JSON.stringify(t.burst.statuses)}; load goodput ${(t.load.goodputFraction * 100).toFixed(1)} %, ` +
        `admitted p99 ${t.load.admittedP99?.toFixed(1)} ms, rejection p99 ${t.load.rejectionP99?.toFixed(1)} ms`)
    }
  }
  const rows = summarize(trials, protections.map((p) => p.name))
  const md = markdown(rows, meta, durationMs, planned.rate)
  writeScenarioResults(resultsDir, scenario.name, { meta, rows, trials }, md)
  return md
}

module.exports = { scenario, TARGET_P99_MS }
