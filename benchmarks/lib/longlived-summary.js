'use strict'

// One page for the long-lived scenarios (group `longlived`) and the hung downstream (group
// `hung`): per kind, each load x protection with the four figures the targets are about
// (ordinary refused, goodput and admitted p99 vs the reference, the long-lived requests' own
// refusals) and the targets as judged when the scenario ran (results/<name>.json). Scenarios
// not run yet are listed as such. run.js rewrites results/long-lived.md after any of them.

const fs = require('node:fs')
const path = require('node:path')
const { readScenarioResults } = require('./output')
const { median } = require('./targets')

const pct = (v, digits = 1) => v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)} %`
const times = (v) => v === null || v === undefined ? '–' : `${v.toFixed(2)}x`
const mark = (pass) => pass === null ? '' : pass ? ' ✓' : ' ✗'

// The long-lived refusals of one protection: median over its runs (the trials keep `sidecar`).
function longLivedRefused (doc, protection) {
  return median(doc.trials.filter((t) => t.protection === protection).map((t) => t.sidecar?.refusedFraction ?? null))
}

function targetsText (doc, protection) {
  const judged = doc.targets?.find((t) => t.protection === protection)
  return judged ? judged.checks.map((c) => `${c.label}: ${c.text}${mark(c.pass)}`).join('<br>') : '–'
}

// docs: { [scenarioName]: results JSON or undefined }.
function longLivedSummary (scenarios, docs) {
  const present = scenarios.map((s) => docs[s.name]).filter(Boolean)
  const lines = [
    '# Long-lived requests next to ordinary traffic: results at a glance',
    '',
    'Each scenario\'s full table and chart are in its own file. The ordinary route waits on a downstream of 24',
    'slots x 25 ms (960 req/s); ~40 long-lived clients of one kind stay open beside it. The reference (`oracle`) is',
    'a static limit of 24 that leaves the long-lived route out. `gradient2` is the plugin at its defaults;',
    '`gradient2+declared` adds `config: { adaptiveConcurrency: { longLived: true } }` on the long-lived route.',
    'Targets: at 50 % and 80 %, ≤ 0.1 % of ordinary requests refused and the long-lived ones ≤ 1 %; at 2x and 5x,',
    'ordinary goodput ≥ 95 % of the reference and admitted p99 ≤ 1.5x the reference\'s; a hung downstream shed',
    'within 1 s. Figures are medians over the runs; ratios are per run against the same run\'s reference.',
    '',
    ...[...new Set(present.map((d) => `- ${d.meta.date}, ${d.meta.machine}; ${d.meta.flags}`))],
    ''
  ]
  // The long-lived kinds first, the hung downstream last.
  const groups = [...new Set(scenarios.map((s) => s.groups.find((g) => g !== 'longlived')))]
    .sort((a, b) => (a === 'hung') - (b === 'hung'))
  for (const group of groups) {
    const ofGroup = scenarios.filter((s) => s.groups.includes(group))
    lines.push(`## ${group}`, '', ofGroup[0].title.replace(/, offered [^;]*/, ''), '')
    lines.push('| scenario | protection | ordinary refused | goodput vs reference | admitted p99 vs reference | long-lived refused | targets |',
      '|---|---|---|---|---|---|---|')
    for (const s of ofGroup) {
      const doc = docs[s.name]
      if (!doc) { lines.push(`| \`${s.name}\` (not run) | | | | | | |`); continue }
      const runs = Math.max(...doc.rows.map((r) => r.runs))
      for (const row of doc.rows) {
        lines.push(`| [\`${s.name}\`](./${s.name}.md) (${runs} run${runs > 1 ? 's' : ''}) | ${row.protection} | ${pct(row.rejectedFraction, 2)} | ` +
          `${pct(row.goodputVsOracle)} | ${times(row.p99VsOracle)} | ${pct(longLivedRefused(doc, row.protection), 2)} | ${targetsText(doc, row.protection)} |`)
      }
    }
    lines.push('')
  }
  return lines.join('\n')
}

// Reads the long-lived and hung scenarios' results/<name>.json present in `dir`, writes dir/long-lived.md.
function writeLongLivedSummary (scenarios, dir) {
  const ours = scenarios.filter((s) => s.groups?.includes('longlived') || s.groups?.includes('hung'))
  const docs = readScenarioResults(ours, dir)
  const out = path.join(dir, 'long-lived.md')
  fs.writeFileSync(out, longLivedSummary(ours, docs))
  return out
}

module.exports = { longLivedSummary, writeLongLivedSummary }
