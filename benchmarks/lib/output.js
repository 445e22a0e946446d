'use strict'

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

module.exports = { resultsDir, saveFromEnv, COMMITTED, LATEST }
