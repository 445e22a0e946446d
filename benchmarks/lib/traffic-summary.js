'use strict'

// One page for the 20 traffic-mix scenarios: for each mix, its four loads x the protections,
// every target with its figure and ✓ / ✗, from the targets each scenario's results/<name>.json
// recorded when it was run (report.js). Scenarios not run yet are listed as missing, so runs
// of one mix at a time add up. run.js rewrites results/traffic.md after any traffic scenario.

const fs = require('node:fs')
const path = require('node:path')
const { readScenarioResults } = require('./output')

const SHORT = [
  [/rejected/, 'rejected'],
  [/^goodput/, 'goodput'],
  [/^admitted p99/, 'p99'],
  [/^rejection p99/, 'rejection p99'],
  [/^limit/, 'limit']
]
const short = (label) => SHORT.find(([re]) => re.test(label))?.[1] ?? label
const mark = (pass) => pass === null ? '' : pass ? ' ✓' : ' ✗'

// docs: { [scenarioName]: results JSON or undefined }; scenarios: the traffic scenarios in order.
function trafficSummary (scenarios, docs) {
  const mixes = [...new Set(scenarios.map((s) => s.groups.find((g) => g !== 'traffic')))]
  const protections = [...new Set(scenarios.flatMap((s) => s.protections))]
  const present = scenarios.map((s) => docs[s.name]).filter(Boolean)
  const lines = [
    '# Traffic mixes: targets at a glance',
    '',
    'Every target of each traffic-mix scenario (see `benchmarks/README.md`, *Traffic mixes*), as judged when the',
    'scenario was run; the full table and chart of each are in its own file. Below capacity: ≤ 0.1 % rejected;',
    'at 2x and 5x: goodput ≥ 95 % and admitted p99 ≤ 1.5x of the oracle\'s, rejection p99 ≤ 10 ms (or ≤ 1.5x the',
    'oracle\'s); `shift-*`: the limit after the shift within 20 % of before (limits before → after).',
    '',
    ...[...new Set(present.map((d) => `- ${d.meta.date}, ${d.meta.machine}; ${d.meta.flags}`))],
    ''
  ]
  for (const mix of mixes) {
    const ofMix = scenarios.filter((s) => s.groups.includes(mix))
    lines.push(`## ${mix}`, '', ofMix[0].title.replace(/, offered [^,;]*$/, ''), '')
    lines.push(`| scenario | ${protections.join(' | ')} |`, `|---|${protections.map(() => '---|').join('')}`)
    for (const s of ofMix) {
      const doc = docs[s.name]
      if (!doc) {
        lines.push(`| \`${s.name}\` (not run) | ${protections.map(() => '').join(' | ')} |`)
        continue
      }
      const cells = protections.map((p) => {
        const judged = doc.targets?.find((t) => t.protection === p)
        if (!judged) return '–'
        return judged.checks.map((c) => `${short(c.label)} ${c.text}${mark(c.pass)}`).join('<br>')
      })
      const runs = Math.max(...doc.rows.map((r) => r.runs))
      lines.push(`| [\`${s.name}\`](./${s.name}.md) (${runs} run${runs > 1 ? 's' : ''}) | ${cells.join(' | ')} |`)
    }
    lines.push('')
  }
  return lines.join('\n')
}

// Reads the traffic scenarios' results/<name>.json present in `dir` and writes dir/traffic.md.
function writeTrafficSummary (scenarios, dir) {
  const traffic = scenarios.filter((s) => s.groups?.includes('traffic'))
  const docs = readScenarioResults(traffic, dir)
  const out = path.join(dir, 'traffic.md')
  fs.writeFileSync(out, trafficSummary(traffic, docs))
  return out
}

module.exports = { trafficSummary, writeTrafficSummary }
