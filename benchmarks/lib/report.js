'use strict'

const fs = require('node:fs')
const path = require('node:path')
const { renderChart } = require('./svg-chart')
const { evaluateTargets, median } = require('./targets')

// Fixed colours, so a protection looks the same in every chart.
const COLORS = {
  none: '#d62728',
  'under-pressure': '#bcbd22',
  oracle: '#000000',
  'static-4x': '#999999',
  gradient2: '#1f77b4',
  vegas: '#2ca02c',
  aimd: '#ff7f0e'
}

const fmt = (v, digits = 1) => (v === null || v === undefined || !Number.isFinite(v)) ? '–' : v.toFixed(digits)
const fmtInt = (v) => (v === null || !Number.isFinite(v)) ? '–' : Math.round(v).toLocaleString('en-US')
const fmtPct = (v) => (v === null || !Number.isFinite(v)) ? '–' : `${(v * 100).toFixed(1)} %`
const fmtRatio = (v) => (v === null || !Number.isFinite(v)) ? '–' : `${v.toFixed(2)}x`
const ratio = (a, b) => (a === null || b === null || !b) ? null : a / b

// trials: every trial of one scenario. Groups them by protection, each run paired with the
// oracle trial of the same run so ratios compare like with like.
function groupByProtection (trials) {
  const names = [...new Set(trials.map((t) => t.protection))]
  return names.map((name) => ({
    name,
    runs: trials.filter((t) => t.protection === name).map((trial) => ({
      trial,
      oracle: trials.find((o) => o.protection === 'oracle' && o.run === trial.run) || null
    }))
  }))
}

function summaryRow ({ name, runs }) {
  const m = (f) => median(runs.map(f))
  const t = (r) => r.trial.total
  return {
    protection: name,
    runs: runs.length,
    offeredRate: m((r) => t(r).offeredRate),
    achievedRate: m((r) => r.trial.achievedRate),
    sendLagP99: m((r) => t(r).sendLagP99),
    okRate: m((r) => t(r).okRate),
    goodput: m((r) => t(r).goodput),
    goodputVsOracle: m((r) => ratio(t(r).goodput, r.oracle?.total.goodput)),
    rejectedFraction: m((r) => t(r).rejectedFraction),
    failures: m((r) => t(r).errors + t(r).timeouts + t(r).otherStatus),
    admittedP50: m((r) => t(r).admittedP50),
    admittedP99: m((r) => t(r).admittedP99),
    admittedP999: m((r) => t(r).admittedP999),
    p99VsOracle: m((r) => ratio(t(r).admittedP99, r.oracle?.total.admittedP99)),
    rejectionP50: m((r) => t(r).rejectionP50),
    rejectionP99: m((r) => t(r).rejectionP99),
    rssGrowthMb: m((r) => r.trial.memory?.growthMb ?? null)
  }
}

function markdownTable (rows) {
  const header = '| protection | offered/s | achieved/s | send lag p99 | 2xx/s | goodput/s | goodput vs oracle | 503 | errors + timeouts | admitted p50 | p99 | p99.9 | p99 vs oracle | rejection p50 | rejection p99 | RSS growth |'
  const lines = [header, '|' + header.split('|').slice(2).map(() => '---|').join('')]
  for (const r of rows) {
    lines.push(`| ${r.protection} | ${fmtInt(r.offeredRate)} | ${fmtInt(r.achievedRate)} | ${fmt(r.sendLagP99)} ms | ${fmtInt(r.okRate)} | ${fmtInt(r.goodput)} | ${fmtPct(r.goodputVsOracle)} | ${fmtPct(r.rejectedFraction)} | ${fmtInt(r.failures)} | ${fmt(r.admittedP50)} ms | ${fmt(r.admittedP99)} ms | ${fmt(r.admittedP999)} ms | ${fmtRatio(r.p99VsOracle)} | ${fmt(r.rejectionP50)} ms | ${fmt(r.rejectionP99)} ms | ${fmt(r.rssGrowthMb)} MB |`)
  }
  return lines.join('\n')
}

// Per traffic class (critical / batch, session / sessionless, a mix's routes): success = 2xx
// (or the class's expected status, e.g. a 400 for an invalid request) within the SLO / offered. Medians over runs, as in the main table.
function classTable (groups) {
  const classNames = Object.keys(groups[0]?.runs[0]?.trial.classes || {})
  if (classNames.length === 0) return ''
  const lines = [
    '| protection | class | offered/s | success (answered ≤ SLO) | 503 | errors + timeouts | admitted p50 | p99 | rejection p50 | rejection p99 |',
    '|---|---|---|---|---|---|---|---|---|---|'
  ]
  for (const { name, runs } of groups) {
    for (const cls of classNames) {
      const m = (f) => median(runs.map((r) => f(r.trial.classes[cls])))
      lines.push(`| ${name} | ${cls} | ${fmtInt(m((c) => c.offeredRate))} | ${fmtPct(m((c) => c.goodFraction))} | ${fmtPct(m((c) => c.rejectedFraction))} | ` +
        `${fmtInt(m((c) => c.errors + c.timeouts + c.otherStatus))} | ${fmt(m((c) => c.admittedP50))} ms | ${fmt(m((c) => c.admittedP99))} ms | ` +
        `${fmt(m((c) => c.rejectionP50))} ms | ${fmt(m((c) => c.rejectionP99))} ms |`)
    }
  }
  return lines.join('\n')
}

function targetsTable (scenario, groups) {
  const evaluated = groups.map((g) => ({ name: g.name, checks: evaluateTargets(scenario, g.runs) }))
  if (evaluated.every((e) => e.checks.length === 0)) return ''
  const labels = evaluated[0].checks.map((c) => c.label)
  const lines = [`| protection | ${labels.join(' | ')} |`, `|---|${labels.map(() => '---|').join('')}`]
  for (const e of evaluated) {
    const cells = e.checks.map((c) => c.value === null ? 'n/a' : `${c.format(c.value)} ${c.pass ? '✓' : '✗'}`)
    lines.push(`| ${e.name} | ${cells.join(' | ')} |`)
  }
  return lines.join('\n')
}

// A server whose event loop is stalled sends no samples; break the line over such a gap
// (more than 3 sample periods) instead of drawing a straight line through time it did not see.
function withGaps (points, maxGapS = 0.3) {
  const out = []
  for (let i = 0; i < points.length; i++) {
    if (i > 0 && points[i][0] - points[i - 1][0] > maxGapS) out.push([points[i - 1][0], null])
    out.push(points[i])
  }
  return out
}

// Time series of the first run of each protection (medians of time series would blur
// exactly the transitions the charts are for).
function chartFor (scenario, groups) {
  const firstRuns = groups.map((g) => ({ name: g.name, trial: g.runs[0].trial }))
  // Samples keep coming while the last requests drain; the charts stop at the run's end.
  const samplesOf = (trial) => trial.samples.filter((s) => s.t <= trial.durationMs)
  const sampleSeries = (field) => firstRuns.map(({ name, trial }) => ({
    name, points: withGaps(samplesOf(trial).map((s) => [s.t / 1000, s[field]]))
  }))
  const secondSeries = (field) => firstRuns.map(({ name, trial }) => ({
    name, points: trial.perSecond.map((s) => [s.second + 0.5, s[field]])
  }))
  const inflightSeries = () => firstRuns.map(({ name, trial }) => ({
    name, points: withGaps(samplesOf(trial).map((s) => [s.t / 1000, s.protectionInflight ?? s.handlerInflight]))
  }))
  return renderChart({
    title: scenario.title,
    names: firstRuns.map((r) => r.name),
    colors: COLORS,
    xMax: scenario.durationMs / 1000,
    panels: [
      { title: 'limit (protection\'s own; none for no protection / under-pressure)', series: sampleSeries('limit').filter((s) => s.points.some((p) => p[1] !== null)) },
      { title: 'in flight (the protection\'s count if it keeps one, else requests in the handler; every 100 ms)', series: inflightSeries() },
      { title: 'admitted (2xx) p99 per second of schedule, ms (log)', log: true, series: secondSeries('admittedP99') },
      { title: 'goodput per second (2xx, or a route\'s expected status, within the SLO)', series: secondSeries('goodput') },
      { title: 'server event-loop delay p99 per 100 ms, ms (log)', log: true, logFloor: 1, series: sampleSeries('eventLoopDelayP99') },
      // Scenarios with a long-lived route: how many of its requests the server holds open.
      ...(firstRuns.some(({ trial }) => trial.samples.some((s) => typeof s.longLivedOpen === 'number'))
        ? [{ title: 'long-lived requests open on the server (every 100 ms)', series: sampleSeries('longLivedOpen') }]
        : [])
    ]
  })
}

// dir: where to write (lib/output.js decides: the git-ignored latest/ unless the run is saved).
function writeScenarioResults (scenario, trials, meta, dir) {
  fs.mkdirSync(path.join(dir, 'raw'), { recursive: true })
  const groups = groupByProtection(trials)
  const rows = groups.map(summaryRow)
  const runs = Math.max(...groups.map((g) => g.runs.length))
  const targets = targetsTable(scenario, groups)
  const classes = classTable(groups)
  const variants = Object.entries(scenario.variants || {})
    .map(([name, v]) => `- \`${name}\`: \`${JSON.stringify(v.options)}\`${v.sessionKeyHeader ? ` (session key read from the \`${v.sessionKeyHeader}\` header: benchmark only)` : ''}`)
  const md = [
    `# ${scenario.title}`,
    '',
    `Scenario \`${scenario.name}\`: capacity ${fmtInt(scenario.capacity)} req/s, oracle limit ${scenario.oracleLimit}, ` +
      `offered ${fmtInt(scenario.rate)} req/s (${scenario.arrival.mode} arrivals), ${meta.durationMs / 1000} s per run ` +
      `(first ${meta.warmupMs / 1000} s are warm-up, excluded from totals), SLO ${meta.sloMs} ms, client timeout ${meta.timeoutMs} ms, ` +
      `${meta.connections} connections. ${runs > 1 ? `Median of ${runs} runs; ratios are per run against the same run's oracle, then the median.` : 'One run: treat as indicative only.'}`,
    '',
    `Measured ${meta.date} on ${meta.machine}; ${meta.flags}.`,
    '',
    variants.length ? 'Plugin configurations:\n\n' + variants.join('\n') + '\n' : '',
    markdownTable(rows),
    '',
    classes ? '### Per traffic class\n\n' + classes + '\n' : '',
    scenario.report ? scenario.report(groups) : '',
    targets ? '### Targets\n\n' + targets + '\n' : '',
    `![${scenario.name}](./${scenario.name}.svg)`,
    ''
  ].join('\n')
  fs.writeFileSync(path.join(dir, `${scenario.name}.md`), md)
  fs.writeFileSync(path.join(dir, `${scenario.name}.svg`), chartFor(scenario, groups))
  // <name>.json: totals and per-second numbers (committed when saved). raw/ (never committed) adds the 100 ms samples.
  const totals = trials.map(({ samples, ...rest }) => rest)
  // The targets as judged here (the mix-shift check needs the samples, which only raw/ keeps).
  const judged = groups.map((g) => ({
    protection: g.name,
    checks: evaluateTargets(scenario, g.runs).map((c) => ({ label: c.label, value: c.value, pass: c.pass, text: c.value === null ? 'n/a' : c.format(c.value) }))
  }))
  fs.writeFileSync(path.join(dir, `${scenario.name}.json`), JSON.stringify({ scenario, meta, rows, targets: judged, trials: totals }, null, 2) + '\n')
  fs.writeFileSync(path.join(dir, 'raw', `${scenario.name}.json`), JSON.stringify({ scenario, meta, trials }) + '\n')
  return md
}

module.exports = { writeScenarioResults, groupByProtection, summaryRow, markdownTable, classTable }
