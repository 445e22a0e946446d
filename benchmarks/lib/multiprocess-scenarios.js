'use strict'

// Many processes, one backend. A backend with SLOTS slots at SERVICE_MS (its own process,
// ../multiprocess/backend.js) behind the same Fastify app on node:cluster with N workers, each
// running its own protection (../multiprocess/cluster-server.js). The reference is one process
// with a static limit at the backend's capacity, in the same run.
//
// Scenarios (group `procs`): procs-50, procs-80 (Poisson arrivals), procs-2x, procs-5x (fixed
// arrivals), each against the reference and the plugin's default algorithm at N = 1, 2, 4, 8
// (`gradient2@N`, local control) and at N = 2, 4, 8 with `coordination` through a Redis the
// cluster starts for the run (`gradient2+redis@N`); procs-rolling: 2x with one of 4 processes
// replaced every 5 s, both ways.
// Besides the usual table, each writes per-process limits (time-averaged after warm-up, from
// `fastify.concurrency`), the backend's mean queue, and the targets of the multi-process case.

const fs = require('node:fs')
const path = require('node:path')
const { runTrial } = require('./trial')
const { writeScenarioResults } = require('./report')
const { median } = require('./targets')
const { protectionConfig, isCommonProtection } = require('./scenarios')

const SERVER = path.join(__dirname, '..', 'multiprocess', 'cluster-server.js')
const SLOTS = 16
const SERVICE_MS = 25
const CAPACITY = SLOTS * 1000 / SERVICE_MS // 640 req/s
const COUNTS = [1, 2, 4, 8]
const REPLACE_EVERY_MS = 5000
// The plugin's `coordination` settings of the `+redis` variants (the client is made per worker).
// A 250 ms timeout: on 2 shared cores, with up to 8 workers starting, a round trip can take
// longer than the default 100 ms, and three late ones in a row mean local control.
const COORDINATION = { interval: 500, timeout: 250 }

function variants (counts, options = { algorithm: 'gradient2' }) {
  return Object.fromEntries(counts.map((n) => [`gradient2@${n}`, { options, processes: n }]))
}

function scenario (name, load, extra = {}) {
  const overloaded = load > 1
  return {
    name,
    groups: ['procs'],
    title: `${extra.titlePrefix || 'Many processes, one backend'}: C = ${SLOTS}, S = ${SERVICE_MS} ms in its own process, offered ${overloaded ? `${load}x` : `${load * 100} % of`} capacity`,
    server: { kind: 'multiprocess', slots: SLOTS, serviceMs: SERVICE_MS, jitter: 0.2 },
    routes: [{ path: '/work', weight: 1 }],
    capacity: CAPACITY,
    oracleLimit: SLOTS,
    serviceMs: SERVICE_MS,
    rate: CAPACITY * load,
    arrival: { mode: overloaded ? 'fixed' : 'poisson' },
    // Every process is offered the same traffic, as behind a round-robin balancer (see
    // connection-pool.js); otherwise the generator favours the processes that answer fastest.
    rotateConnections: true,
    // N processes start at once and learn together; the steady state is measured after 8 s
    // (--warmup overrides it). The start-up itself is what the rolling deploy measures.
    durationMs: 20000,
    warmupMs: 8000,
    targets: null,
    procsTargets: overloaded ? 'overload' : 'under',
    protections: ['oracle', ...COUNTS.map((n) => `gradient2@${n}`), ...COUNTS.filter((n) => n > 1).map((n) => `gradient2+redis@${n}`), ...COUNTS.filter((n) => n > 1).map((n) => `oracle/${n}`)],
    variants: variants(COUNTS),
    // 'gradient2:headroom=0.05@4': any protection every scenario knows, on N processes;
    // 'gradient2+redis@4': with `coordination` through a Redis the cluster starts for the run.
    variantOf (name) {
      // 'oracle/4': the backend's capacity split evenly, a static limit of C / N in each of N
      // processes: what the cluster itself allows with a perfect split.
      const split = /^oracle\/(\d+)$/.exec(name)
      if (split) return { name, kind: 'static', limit: Math.max(1, Math.floor(SLOTS / Number(split[1]))), processes: Number(split[1]) }
      const m = /^(.+?)(\+redis)?@(\d+)$/.exec(name)
      if (!m || !isCommonProtection(m[1])) return null
      const base = protectionConfig(m[1], this)
      if (m[2] && base.kind !== 'plugin') return null
      return { ...base, name, processes: Number(m[3]), ...(m[2] ? { coordination: COORDINATION } : {}) }
    },
    run,
    ...extra
  }
}

function multiprocessScenarios () {
  return [
    scenario('procs-50', 0.5),
    scenario('procs-80', 0.8),
    scenario('procs-2x', 2),
    scenario('procs-5x', 5),
    scenario('procs-rolling', 2, {
      titlePrefix: `Rolling deploy (one of 4 processes replaced every ${REPLACE_EVERY_MS / 1000} s)`,
      server: { kind: 'multiprocess', slots: SLOTS, serviceMs: SERVICE_MS, jitter: 0.2, replaceEveryMs: REPLACE_EVERY_MS },
      durationMs: 20000,
      warmupMs: 3000,
      procsTargets: 'rolling',
      protections: ['oracle', 'gradient2@4', 'gradient2+redis@4']
    })
  ]
}

// The oracle runs as one process without replacements: the reference is the undisturbed setup.
function serverFor (scenario, protection) {
  if (protection.name !== 'oracle' || !scenario.server.replaceEveryMs) return scenario.server
  const { replaceEveryMs, ...steady } = scenario.server
  return steady
}

async function run ({ scenario, protections, runs, durationMs, warmupMs, sloMs, timeoutMs, connections, meta, log, resultsDir }) {
  const trials = []
  for (let r = 1; r <= runs; r++) {
    for (const protection of protections) {
      const trial = await runTrial({
        scenario: { ...scenario, server: serverFor(scenario, protection) },
        protection,
        durationMs,
        warmupMs,
        sloMs,
        timeoutMs,
        connections,
        seed: r,
        server: SERVER,
        // Up to 8 Fastify processes and the backend start on 2 shared cores.
        readyTimeoutMs: 60000
      })
      trial.run = r
      trial.processes = processesOf(trial)
      trials.push(trial)
      const t = trial.total
      log(`${scenario.name} x ${protection.name} run ${r}: goodput ${Math.round(t.goodput)}/s, 503 ${(t.rejectedFraction * 100).toFixed(2)} %, ` +
        `errors+timeouts ${t.errors + t.timeouts}, p50 ${fmt(t.admittedP50)} ms, p99 ${fmt(t.admittedP99)} ms, backend queue ${fmt(trial.processes.backendQueue)}, ` +
        `limits ${trial.processes.limits.map((l) => fmt(l.mean)).join('/')}`)
    }
  }
  const md = writeScenarioResults(scenario, trials, { ...meta, durationMs }, resultsDir)
  const extra = processSection(scenario, trials, warmupMs)
  fs.appendFileSync(path.join(resultsDir, `${scenario.name}.md`), '\n' + extra)
  const jsonPath = path.join(resultsDir, `${scenario.name}.json`)
  const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'))
  json.processes = trials.map((t) => ({ protection: t.protection, run: t.run, ...t.processes }))
  json.procsTargets = evaluate(scenario, trials)
  fs.writeFileSync(jsonPath, JSON.stringify(json, null, 2) + '\n')
  return md + '\n' + extra
}

const fmt = (v, d = 1) => v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d)

// Per process (worker incarnation): its limit averaged over the samples after warm-up, and
// what it admitted and refused over its whole life; the backend's mean queue after warm-up.
function processesOf (trial) {
  const after = trial.samples.filter((s) => s.t >= trial.warmupMs && s.t <= trial.durationMs && s.workers)
  const byId = new Map()
  for (const s of after) {
    for (const w of s.workers) {
      if (typeof w.limit !== 'number') continue
      const e = byId.get(w.id) || { id: w.id, sum: 0, n: 0 }
      e.sum += w.limit
      e.n++
      byId.set(w.id, e)
    }
  }
  const limits = [...byId.values()].map((e) => ({ id: e.id, mean: e.sum / e.n }))
  const finals = (trial.final.snapshot?.workers || []).map((w) => ({
    id: w.id,
    startedAtMs: Math.round(w.startedAt),
    stoppedAtMs: w.stoppedAt === null ? null : Math.round(w.stoppedAt),
    admitted: w.final?.admitted ?? null,
    rejected: w.final?.rejected ?? null
  }))
  const queues = after.map((s) => s.backendQueued).filter((q) => typeof q === 'number')
  const steady = limits.filter((l) => byId.get(l.id).n >= after.length * 0.9)
  // The cluster hands out connections, and the generator sends on whichever is free: processes do
  // not get equal traffic. Limit per request offered (admitted + refused, over the process's
  // life) compares processes whatever their traffic; with equal traffic it is the plain spread.
  const offered = new Map(finals.filter((w) => w.admitted !== null).map((w) => [w.id, w.admitted + w.rejected]))
  const perTraffic = steady.filter((l) => offered.get(l.id) > 0).map((l) => l.mean / offered.get(l.id))
  return {
    limits,
    workers: finals,
    backendQueue: queues.length ? queues.reduce((a, b) => a + b, 0) / queues.length : null,
    // max / min of the time-averaged limits of processes alive for the whole window.
    fairness: spread(steady.map((l) => l.mean)),
    // the same, of each one's limit per request it was offered.
    fairnessPerTraffic: perTraffic.length === steady.length ? spread(perTraffic) : null,
    // max / min of the requests offered to them.
    trafficSpread: spread(steady.filter((l) => offered.get(l.id) > 0).map((l) => offered.get(l.id)))
  }
}

function spread (means) {
  if (means.length < 2) return null
  const min = Math.min(...means)
  return min > 0 ? Math.max(...means) / min : Infinity
}

// { name: [checks] } per protection; each check { label, value, pass, text }.
function evaluate (scenario, trials) {
  const names = [...new Set(trials.map((t) => t.protection))]
  const out = {}
  for (const name of names) {
    const runs = trials.filter((t) => t.protection === name).map((trial) => ({
      trial, ref: trials.find((o) => o.protection === 'oracle' && o.run === trial.run)
    }))
    const m = (f) => median(runs.map(f))
    const vs = (f) => m((r) => r.ref && f(r.ref) ? f(r.trial) / f(r.ref) : null)
    const check = (label, value, ok, text) => ({ label, value, pass: value === null ? null : ok(value), text: value === null ? 'n/a' : text(value) })
    const pct = (v) => `${(v * 100).toFixed(1)} %`
    const x = (v) => `${v.toFixed(2)}x`
    const checks = []
    if (scenario.procsTargets === 'under') {
      checks.push(check('≤ 0.1 % refused', m((r) => r.trial.total.rejectedFraction), (v) => v <= 0.001, (v) => `${(v * 100).toFixed(3)} %`))
    } else if (scenario.procsTargets === 'overload') {
      checks.push(
        check('goodput ≥ 95 % of reference', vs((t) => t.total.goodput), (v) => v >= 0.95, pct),
        check('p99 ≤ 1.5x reference', vs((t) => t.total.admittedP99), (v) => v <= 1.5, x),
        check('p50 ≤ 1.3x reference', vs((t) => t.total.admittedP50), (v) => v <= 1.3, x))
    } else {
      checks.push(
        check('every second\'s goodput ≥ 90 % of reference', m((r) => minSecondRatio(r.trial, r.ref)), (v) => v >= 0.9, pct),
        check('no process refuses everything (most refused by one process)', m((r) => maxRefused(r.trial)), (v) => v < 1, pct))
    }
    if (scenario.procsTargets !== 'rolling') {
      checks.push(check('limits within 25 % (max / min)', m((r) => r.trial.processes.fairness), (v) => v <= 1.25, x))
      checks.push(check('limits per request offered within 25 %', m((r) => r.trial.processes.fairnessPerTraffic), (v) => v <= 1.25, x))
    }
    out[name] = checks
  }
  return out
}

// Lowest per-second goodput after warm-up, as a share of the reference's mean goodput.
function minSecondRatio (trial, ref) {
  if (!ref || !ref.total.goodput) return null
  const seconds = trial.perSecond.filter((s) => s.second * 1000 >= trial.warmupMs && (s.second + 1) * 1000 <= trial.durationMs)
  return Math.min(...seconds.map((s) => s.goodput)) / ref.total.goodput
}

function maxRefused (trial) {
  const shares = trial.processes.workers.filter((w) => w.admitted !== null && w.admitted + w.rejected > 0)
    .map((w) => w.rejected / (w.admitted + w.rejected))
  return shares.length ? Math.max(...shares) : null
}

function processSection (scenario, trials, warmupMs) {
  const names = [...new Set(trials.map((t) => t.protection))]
  const targets = evaluate(scenario, trials)
  const lines = [
    '### Processes',
    '',
    `Medians of ${Math.max(...names.map((n) => trials.filter((t) => t.protection === n).length))} runs. Backend queue: requests waiting for a slot, time-averaged after the ${warmupMs / 1000} s warm-up (0 = no standing queue). ` +
      'Limits: each process\'s limit (`fastify.concurrency.limit`, every 100 ms) averaged after warm-up, first run; fairness: max / min of those averages. ' +
      'Processes do not get equal traffic (the cluster hands out connections, the generator sends on whichever is free): traffic spread is max / min of the requests offered to each, fairness per traffic the max / min of limit / requests offered.',
    '',
    '| protection | processes | goodput/s | vs reference | admitted p50 | p50 vs reference | p99 | p99 vs reference | 503 | backend queue | sum of limits | limits per process (run 1) | fairness | traffic spread | fairness per traffic |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const name of names) {
    const runs = trials.filter((t) => t.protection === name)
    const refOf = (t) => trials.find((o) => o.protection === 'oracle' && o.run === t.run)
    const m = (f) => median(runs.map(f))
    const vs = (f) => m((t) => refOf(t) && f(refOf(t)) ? f(t) / f(refOf(t)) : null)
    const first = runs[0].processes
    lines.push(`| ${name} | ${runs[0].final.snapshot?.processes ?? '–'} | ${fmt(m((t) => t.total.goodput), 0)} | ${fmt(vs((t) => t.total.goodput) * 100)} % | ` +
      `${fmt(m((t) => t.total.admittedP50))} ms | ${fmt(vs((t) => t.total.admittedP50), 2)}x | ${fmt(m((t) => t.total.admittedP99))} ms | ${fmt(vs((t) => t.total.admittedP99), 2)}x | ` +
      `${fmt(m((t) => t.total.rejectedFraction * 100), 2)} % | ${fmt(m((t) => t.processes.backendQueue))} | ${fmt(m((t) => t.processes.limits.reduce((n, l) => n + l.mean, 0)))} | ` +
      `${first.limits.map((l) => fmt(l.mean)).join(', ')} | ${fmt(m((t) => t.processes.fairness), 2)}x | ` +
      `${fmt(m((t) => t.processes.trafficSpread), 2)}x | ${fmt(m((t) => t.processes.fairnessPerTraffic), 2)}x |`)
  }
  const labels = targets[names.find((n) => n !== 'oracle') || names[0]].map((c) => c.label)
  lines.push('', '### Targets (multi-process)', '', `| protection | ${labels.join(' | ')} |`, `|---|${labels.map(() => '---|').join('')}`)
  for (const name of names.filter((n) => n !== 'oracle')) {
    lines.push(`| ${name} | ${targets[name].map((c) => c.value === null ? 'n/a' : `${c.text} ${c.pass ? '✓' : '✗'}`).join(' | ')} |`)
  }
  if (scenario.procsTargets === 'rolling') {
    lines.push('', 'Process incarnations (run 1): id, alive from–to (ms), admitted, refused:', '')
    for (const w of trials.find((t) => t.protection !== 'oracle')?.processes.workers || []) {
      lines.push(`- ${w.id}: ${w.startedAtMs}–${w.stoppedAtMs ?? 'end'}, ${w.admitted}, ${w.rejected}`)
    }
  }
  return lines.join('\n') + '\n'
}

module.exports = { multiprocessScenarios, processesOf, spread, CAPACITY }
