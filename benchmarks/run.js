'use strict'

// `npm run bench` entry point: every selected scenario against every selected protection,
// each trial in a fresh server process. Results go to benchmarks/results/latest/ (git-ignored),
// or with --save to the committed benchmarks/results/ (lib/output.js).
// Flags: see usage() or benchmarks/README.md.

const os = require('node:os')
const { parseArgs } = require('node:util')
const { positiveNumber } = require('./lib/flags')
const { SCENARIOS: LISTED, BASELINES, ALGORITHMS, protectionConfig, isCommonProtection } = require('./lib/scenarios')
// Scenarios with their own runner (`run`) instead of runTrial's open-loop trial.
const SCENARIOS = [...LISTED, require('./connections/scenario').scenario, require('./sessions-recovery/scenario').scenario, ...require('./lib/multiprocess-scenarios').multiprocessScenarios()]
const { runTrial } = require('./lib/trial')
const path = require('node:path')
const { writeScenarioResults } = require('./lib/report')
const { resultsDir } = require('./lib/output')
const { loadPlugin } = require('./lib/plugin-loader')
const { writeTrafficSummary } = require('./lib/traffic-summary')
const { writeLongLivedSummary } = require('./lib/longlived-summary')

// --quick must finish in under 2 minutes with the build, on 2 shared cores: 16 trials of
// 3 s (1 s warm-up) plus process start, connection warm-up and up to one client timeout.
const QUICK = { scenarios: ['downstream-5x', 'cpu-bound'], durationS: 3, warmupS: 1, timeoutS: 2 }
const FULL = { warmupS: 2, timeoutS: 10 }

function usage () {
  return `usage: node benchmarks/run.js [--quick] [--scenario a,b|all] [--protection a,b] [--duration s]
                               [--runs n] [--warmup s] [--slo ms] [--timeout s] [--connections n] [--load x] [--save] [--list]
results: benchmarks/results/latest/ (git-ignored); --save or BENCH_SAVE=1: benchmarks/results/ (committed);
         BENCH_RESULTS_DIR=dir: dir
scenarios: ${SCENARIOS.map((s) => s.name + (s.optIn ? ' (opt-in)' : '')).join(', ')}
groups: ${[...new Set(SCENARIOS.flatMap((s) => s.groups || []))].join(', ')}
protections: ${[...BASELINES, ...ALGORITHMS].join(', ')}
  (and per scenario: ${SCENARIOS.filter((s) => s.variants).map((s) => `${s.name}: ${Object.keys(s.variants).join(', ')}`).join('; ')})`
}

function parseFlags (argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      scenario: { type: 'string' },
      protection: { type: 'string' },
      duration: { type: 'string' },
      runs: { type: 'string', default: '1' },
      warmup: { type: 'string' },
      slo: { type: 'string', default: '1000' },
      timeout: { type: 'string' },
      connections: { type: 'string', default: '1000' },
      load: { type: 'string' },
      save: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false }
    }
  })
  const number = positiveNumber
  const preset = values.quick ? QUICK : FULL
  // A group name (`traffic`, `health`, ...: a scenario's `groups`) stands for its scenarios.
  const expand = (name) => SCENARIOS.some((s) => s.groups?.includes(name))
    ? SCENARIOS.filter((s) => s.groups?.includes(name) && !s.optIn).map((s) => s.name)
    : [name]
  const scenarioNames = values.scenario === 'all'
    ? SCENARIOS.map((s) => s.name)
    : values.scenario ? values.scenario.split(',').flatMap(expand) : (preset.scenarios || SCENARIOS.filter((s) => !s.optIn).map((s) => s.name))
  const scenarios = scenarioNames.map((name) => {
    const s = SCENARIOS.find((x) => x.name === name)
    if (!s) throw new Error(`unknown scenario "${name}"\n${usage()}`)
    return s
  })
  return {
    help: values.help,
    list: values.list,
    quick: values.quick,
    scenarios,
    protections: values.protection ? values.protection.split(',') : null,
    durationMs: values.duration ? number('duration', values.duration) * 1000 : (preset.durationS ? preset.durationS * 1000 : null),
    runs: Math.round(number('runs', values.runs)),
    warmupMs: number('warmup', values.warmup ?? preset.warmupS) * 1000,
    // A scenario may name its own warm-up (scenario.warmupMs), used unless --warmup is given.
    warmupExplicit: values.warmup !== undefined,
    sloMs: number('slo', values.slo),
    timeoutMs: number('timeout', values.timeout ?? preset.timeoutS) * 1000,
    connections: Math.round(number('connections', values.connections)),
    loadMultiple: values.load ? number('load', values.load) : null,
    resultsDir: resultsDir({ save: values.save }),
    argv: argv.join(' ')
  }
}

// A shorter run keeps the capacity schedule and a mix's phases at the same fractions of the
// run (10 s and 20 s of 30 s become 1/3 and 2/3).
function withDuration (scenario, durationMs) {
  if (!durationMs || durationMs === scenario.durationMs) return scenario
  const scale = (ms) => Math.round(ms * durationMs / scenario.durationMs)
  const out = { ...scenario, durationMs }
  if (scenario.shift) {
    out.shift = { dropAtMs: scale(scenario.shift.dropAtMs), restoreAtMs: scale(scenario.shift.restoreAtMs) }
    out.server = { ...scenario.server, capacitySchedule: scenario.server.capacitySchedule.map((c) => ({ ...c, atMs: scale(c.atMs) })) }
  }
  if (scenario.phases) out.phases = scenario.phases.map((p) => ({ ...p, atMs: scale(p.atMs) }))
  return out
}

// A requested name that is only a variant of other scenarios is skipped for this one, so
// `--protection oracle,gradient2+queue` works across scenarios; a name no scenario knows fails.

function protectionsFor (scenario, requested, pluginReason) {
  const known = (n) => isCommonProtection(n) || Boolean(scenario.variants?.[n]) || Boolean(scenario.variantOf?.(n))
  const names = requested ? requested.filter(known) : (scenario.protections || [...BASELINES, ...ALGORITHMS])
  return names.map((name) => protectionConfig(name, scenario)).filter((p) => !(p.kind === 'plugin' && pluginReason))
}

function checkRequested (requested, scenarios) {
  for (const name of requested || []) {
    const anywhere = isCommonProtection(name) || scenarios.some((s) => s.variants?.[name] || s.variantOf?.(name))
    if (!anywhere) throw new Error(`unknown protection "${name}"\n${usage()}`)
  }
}

function describe (trial) {
  const t = trial.total
  const f = (v) => v === null ? '–' : v.toFixed(1)
  return `offered ${Math.round(t.offeredRate)}/s (achieved ${Math.round(trial.achievedRate)}/s, send lag p99 ${f(t.sendLagP99)} ms), ` +
    `goodput ${Math.round(t.goodput)}/s, 503 ${(t.rejectedFraction * 100).toFixed(1)} %, errors+timeouts ${t.errors + t.timeouts}, ` +
    `admitted p99 ${f(t.admittedP99)} ms, rejection p99 ${f(t.rejectionP99)} ms`
}

async function main () {
  const flags = parseFlags(process.argv.slice(2))
  if (flags.help || flags.list) { console.log(usage()); return }
  const { reason: pluginReason } = loadPlugin()
  if (pluginReason) console.error(`NOTE: plugin protections (${ALGORITHMS.join(', ')}) skipped: ${pluginReason}`)
  const cpus = os.cpus()
  const meta = {
    date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC',
    machine: `${cpus.length} x ${cpus[0]?.model.trim()}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} at start`,
    flags: `\`node benchmarks/run.js ${flags.argv}\``.replace(' `', '`'),
    warmupMs: flags.warmupMs,
    sloMs: flags.sloMs,
    timeoutMs: flags.timeoutMs,
    connections: flags.connections
  }
  // --load x: offer x times each scenario's capacity instead of its own rate (when this box
  // cannot offer the nominal rate; the results then state the rate actually used).
  const plan = flags.scenarios.map((s) => withDuration(s, flags.durationMs))
    .map((s) => flags.loadMultiple ? { ...s, rate: s.capacity * flags.loadMultiple } : s)
  checkRequested(flags.protections, plan)
  const total = plan.reduce((n, s) => n + protectionsFor(s, flags.protections, pluginReason).length * flags.runs, 0)
  let done = 0
  const started = Date.now()
  for (const scenario of plan) {
    const warmupMs = flags.warmupExplicit || scenario.warmupMs === undefined ? flags.warmupMs : Math.min(scenario.warmupMs, scenario.durationMs / 2)
    if (warmupMs >= scenario.durationMs) throw new Error(`--warmup must be shorter than the run (${scenario.durationMs / 1000} s)`)
    const trials = []
    const protections = protectionsFor(scenario, flags.protections, pluginReason)
    if (scenario.run) {
      const log = (line) => console.error(`[${++done}/${total}] ${line}`)
      console.log(await scenario.run({ ...flags, warmupMs, durationMs: scenario.durationMs, scenario, protections, meta: { ...meta, warmupMs }, log }))
      continue
    }
    // Runs are the outer loop so that slow drifts of a shared machine hit every protection.
    for (let run = 1; run <= flags.runs; run++) {
      for (const protection of protections) {
        const trial = await runTrial({
          scenario,
          protection,
          durationMs: scenario.durationMs,
          warmupMs,
          sloMs: flags.sloMs,
          timeoutMs: flags.timeoutMs,
          connections: flags.connections,
          seed: run
        })
        trial.run = run
        trials.push(trial)
        done++
        console.error(`[${done}/${total}] ${scenario.name} x ${protection.name} run ${run}: ${describe(trial)}`)
      }
    }
    const md = writeScenarioResults(scenario, trials, { ...meta, warmupMs, durationMs: scenario.durationMs }, flags.resultsDir)
    console.log(md)
  }
  if (plan.some((s) => s.groups?.includes('traffic'))) writeTrafficSummary(SCENARIOS, flags.resultsDir)
  if (plan.some((s) => s.groups?.includes('longlived') || s.groups?.includes('hung'))) writeLongLivedSummary(SCENARIOS, flags.resultsDir)
  console.error(`finished in ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${path.relative(process.cwd(), flags.resultsDir) || '.'}/`)
}

main().catch((err) => {
  console.error(err.stack || err.message)
  process.exitCode = 1
})
