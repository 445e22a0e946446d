'use strict'

const fs = require('node:fs')
const path = require('node:path')

// Where a benchmark run writes its results. A plain run must leave the git tree clean (a
// quick check, a tuning run or a run on a busy box must not overwrite the published figures),
// so by default results go to benchmarks/results/latest/, which is git-ignored. `--save` (or
// BENCH_SAVE=1) writes the committed folder, for a run meant to be published.
// BENCH_RESULTS_DIR, when set, wins over both (say, to keep several tuning runs side by side).
const COMMITTED = path.join(__dirname, '..', 'results')
const LATEST = path.join(COMMITTED, 'latest')

function saveFromEnv (env = process.env) {
  return env.BENCH_SAVE === '1' || env.BENCH_SAVE === 'true'
}

// committed: the folder a saved run writes (benchmarks/results/ unless a runner publishes
// elsewhere, as the soak does).
function resultsDir ({ save = false, committed = COMMITTED, env = process.env } = {}) {
  if (env.BENCH_RESULTS_DIR) return path.resolve(env.BENCH_RESULTS_DIR)
  return save || saveFromEnv(env) ? committed : LATEST
}

// One scenario's results: <name>.json and <name>.md, committed when saved; the server's 100 ms
// samples only in raw/<name>.json, which is git-ignored (they are large).
function writeScenarioResults (dir, name, { meta, rows, trials }, md) {
  fs.mkdirSync(path.join(dir, 'raw'), { recursive: true })
  const committed = trials.map(({ samples, ...rest }) => rest)
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ meta, rows, trials: committed }, null, 2) + '\n')
  fs.writeFileSync(path.join(dir, 'raw', `${name}.json`), JSON.stringify({ meta, rows, trials }) + '\n')
  fs.writeFileSync(path.join(dir, `${name}.md`), md)
}

// The results/<name>.json present in `dir` for these scenarios, by name (for one-page summaries).
function readScenarioResults (scenarios, dir) {
  const docs = {}
  for (const s of scenarios) {
    const file = path.join(dir, `${s.name}.json`)
    if (fs.existsSync(file)) docs[s.name] = JSON.parse(fs.readFileSync(file, 'utf8'))
  }
  return docs
}

module.exports = { resultsDir, saveFromEnv, writeScenarioResults, readScenarioResults, COMMITTED, LATEST }
