'use strict'

// Scenario `sessions-recovery`: do new users get in once an overload of active sessions is over?
//
// A fixed limit of 20, a route that takes 25 ms (a downstream with room to spare, so the limit
// is the only constraint), `sessions: { idleTimeout: 1000 }`, no queue. Users are closed loop:
// each sends a request, waits for the answer and sends the next at once; a refused user waits
// RETRY_MS and tries again. Three cases, each in a fresh server process:
//
// - `after-expiry`: 40 session users overload the server for 2 s (2x the limit), everything is
//   idle for 1.5 s (longer than idleTimeout, so every old session has expired), then 10 new
//   users (half the limit) send for 3 s. Target: <= 0.1 % of their requests refused.
// - `before-expiry`: the same with 0.3 s of idle, so the old sessions are still active (no
//   target: shows whether a quiet server keeps refusing while they could still come back).
// - `idle-server`: the 10 new users alone, on a fresh server. Target: 0 refused.
//
// Runs from benchmarks/run.js (`--scenario sessions-recovery`); results go to
// <results dir>/sessions-recovery.{md,json}.

const { message } = require('../lib/child-message')
const { writeScenarioResults } = require('../lib/output')
const path = require('node:path')
const { fork } = require('node:child_process')
const { setTimeout: sleep } = require('node:timers/promises')
const { performance } = require('node:perf_hooks')
const { Pool } = require('undici')

const SERVER = path.join(__dirname, '..', 'scenario-server.js')
const LIMIT = 20
const SERVICE_MS = 25
const IDLE_TIMEOUT_MS = 1000
const OLD_USERS = 40
const NEW_USERS = 10
const OVERLOAD_MS = 2000
const NEW_USERS_MS = 3000
const RETRY_MS = 10
const HEADER = 'x-session-id'
const TARGET_AFTER_EXPIRY = 0.001

const CASES = [
  { name: 'after-expiry', overload: true, idleMs: 1500 },
  { name: 'before-expiry', overload: true, idleMs: 300 },
  { name: 'idle-server', overload: false, idleMs: 0 }
]

const scenario = {
  name: 'sessions-recovery',
  title: `Sessions: new users after an overload of active sessions (fixed limit ${LIMIT}, ${SERVICE_MS} ms route, idleTimeout ${IDLE_TIMEOUT_MS} ms)`,
  server: { kind: 'downstream', slots: 1000, jitter: 0.2, routes: [{ path: '/work', serviceMs: SERVICE_MS }] },
  routes: [{ path: '/work', weight: 1 }],
  capacity: LIMIT * 1000 / SERVICE_MS,
  oracleLimit: LIMIT,
  serviceMs: SERVICE_MS,
  rate: LIMIT * 1000 / SERVICE_MS,
  durationMs: OVERLOAD_MS + 1500 + NEW_USERS_MS,
  protections: ['fixed+sessions'],
  variants: {
    'fixed+sessions': {
      // The event-loop gate is off and the queue explicitly off: only the limit and the
      // sessions rule decide, whatever the defaults.
      options: { algorithm: { name: 'fixed', options: { limit: LIMIT } }, eventLoop: false, queue: false, sessions: { idleTimeout: IDLE_TIMEOUT_MS } },
      sessionKeyHeader: HEADER
    }
  },
  run
}

/**
 * `count` closed-loop users with keys `${prefix}${i}` until `untilMs` (on `clock`). Each user
 * records its outcomes into `tally`: per request, the time it was sent and whether it was refused.
 */
async function users (pool, prefix, count, untilMs, clock, tally) {
  async function user (i) {
    const headers = { [HEADER]: `${prefix}${i}` }
    while (clock() < untilMs) {
      const sent = clock()
      const res = await pool.request({ path: '/work', method: 'GET', headers })
      await res.body.dump()
      const refused = res.statusCode === 503
      if (res.statusCode !== 200 && !refused) tally.errors++
      tally.requests.push({ t: sent, refused })
      if (refused) await sleep(RETRY_MS)
    }
  }
  await Promise.all(Array.from({ length: count }, (_, i) => user(i)))
}

function share (requests, fromMs, toMs) {
  const inside = requests.filter((r) => r.t >= fromMs && r.t < toMs)
  const refused = inside.filter((r) => r.refused).length
  return { requests: inside.length, refused, fraction: inside.length === 0 ? null : refused / inside.length }
}

async function trial (testCase, protection) {
  const child = fork(SERVER, [JSON.stringify({ scenario: scenario.server, protection, sampleMs: 100 })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const samples = []
  child.on('message', (msg) => { if (msg.type === 'sample') samples.push(msg) })
  let pool
  try {
    const { port } = await message(child, 'ready')
    pool = new Pool(`http://127.0.0.1:${port}`, { connections: OLD_USERS + NEW_USERS + 10, pipelining: 1 })
    // The server answers 'warm' before 'start', without Fastify: connections open, nothing learned.
    await Promise.all(Array.from({ length: OLD_USERS + NEW_USERS }, () => pool.request({ path: '/__warmup', method: 'GET' }).then((r) => r.body.dump())))
    const started = message(child, 'started')
    child.send({ type: 'start' })
    await started
    const t0 = performance.now()
    const clock = () => performance.now() - t0
    const old = { requests: [], errors: 0 }
    const fresh = { requests: [], errors: 0 }
    let newStart = 0
    if (testCase.overload) {
      await users(pool, 'old-', OLD_USERS, OVERLOAD_MS, clock, old)
      // Every old request has been answered: the idle time counts from the last answer.
      newStart = clock() + testCase.idleMs
      await sleep(newStart - clock())
    }
    const newEnd = newStart + NEW_USERS_MS
    await users(pool, 'new-', NEW_USERS, newEnd, clock, fresh)
    const firstOfEach = fresh.requests.length === 0 ? 0 : NEW_USERS
    return {
      case: testCase.name,
      protection: protection.name,
      newStartMs: newStart,
      overload: share(old.requests, 0, Infinity),
      newUsers: share(fresh.requests, newStart, Infinity),
      newUsersFirstSecond: share(fresh.requests, newStart, newStart + 1000),
      firstOfEach,
      errors: old.errors + fresh.errors,
      inflightPeakAfter: Math.max(0, ...samples.filter((s) => s.t >= newStart).map((s) => s.protectionInflight ?? 0)),
      samples
    }
  } finally {
    await pool?.destroy()
    child.kill('SIGKILL')
  }
}

const median = (xs) => {
  const v = xs.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

function summarize (trials) {
  return CASES.map((c) => {
    const runs = trials.filter((t) => t.case === c.name)
    const m = (f) => median(runs.map(f))
    return {
      case: c.name,
      runs: runs.length,
      overloadRefused: c.overload ? m((t) => t.overload.fraction) : null,
      newRequests: m((t) => t.newUsers.requests),
      newRefused: m((t) => t.newUsers.refused),
      newRefusedFraction: m((t) => t.newUsers.fraction),
      firstSecondRefusedFraction: m((t) => t.newUsersFirstSecond.fraction),
      worstRunRefused: Math.max(...runs.map((t) => t.newUsers.refused)),
      errors: Math.max(...runs.map((t) => t.errors))
    }
  })
}

function target (row) {
  if (row.case === 'after-expiry') return row.newRefusedFraction !== null && row.newRefusedFraction <= TARGET_AFTER_EXPIRY ? '≤ 0.1 % ✓' : '≤ 0.1 % ✗'
  if (row.case === 'idle-server') return row.worstRunRefused === 0 ? '0 refused ✓' : '0 refused ✗'
  return '–'
}

function markdown (rows, meta) {
  const pct = (v) => v === null ? '–' : `${(v * 100).toFixed(2)} %`
  const lines = [
    `# ${scenario.title}`,
    '',
    `${meta.date}; ${meta.machine}; ${meta.flags}. Medians of ${rows[0]?.runs ?? 0} runs, each case in a fresh server process.`,
    '',
    `Closed-loop users (a refused user retries after ${RETRY_MS} ms). \`after-expiry\`: ${OLD_USERS} session users for ${OVERLOAD_MS / 1000} s ` +
      `(2x the limit), 1.5 s idle (> idleTimeout), then ${NEW_USERS} new users (half the limit) for ${NEW_USERS_MS / 1000} s. ` +
      '`before-expiry`: the same with 0.3 s idle (the old sessions are still active). `idle-server`: the new users alone on a fresh server. ' +
      'Plugin: `' + JSON.stringify(scenario.variants['fixed+sessions'].options) + '` (session key from a header: benchmark only).',
    '',
    '| case | overload: refused | new users: requests | refused | refused share | first second | worst run refused | errors | target |',
    '|---|---|---|---|---|---|---|---|---|'
  ]
  for (const r of rows) {
    lines.push(`| ${r.case} | ${pct(r.overloadRefused)} | ${r.newRequests ?? '–'} | ${r.newRefused ?? '–'} | ${pct(r.newRefusedFraction)} | ${pct(r.firstSecondRefusedFraction)} | ${r.worstRunRefused} | ${r.errors} | ${target(r)} |`)
  }
  return lines.join('\n') + '\n'
}

/**
 * Called by benchmarks/run.js. Logs one line per trial to stderr and returns the markdown.
 * --duration does not apply: the phases are the scenario.
 */
async function run ({ protections, runs, meta, log, resultsDir }) {
  const trials = []
  for (let r = 1; r <= runs; r++) {
    for (const protection of protections) {
      for (const testCase of CASES) {
        const t = await trial(testCase, protection)
        t.run = r
        trials.push(t)
        const f = (s) => s.fraction === null ? '–' : `${(s.fraction * 100).toFixed(2)} %`
        log(`${scenario.name} ${testCase.name} x ${protection.name} run ${r}: overload refused ${f(t.overload)}; new users ${t.newUsers.requests} requests, ` +
          `${t.newUsers.refused} refused (${f(t.newUsers)}, first second ${f(t.newUsersFirstSecond)}), errors ${t.errors}`)
      }
    }
  }
  const rows = summarize(trials)
  const md = markdown(rows, meta)
  writeScenarioResults(resultsDir, scenario.name, { meta, rows, trials }, md)
  return md
}

module.exports = { scenario, CASES, TARGET_AFTER_EXPIRY }
