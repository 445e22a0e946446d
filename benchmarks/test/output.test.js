'use strict'

const { test } = require('node:test')
const assert = require('node:assert')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { resultsDir, COMMITTED, LATEST } = require('../lib/output')

const ROOT = path.join(__dirname, '..', '..')

test('results dir: the ignored latest/ by default, the committed folder only when saved, BENCH_RESULTS_DIR over both', () => {
  assert.strictEqual(resultsDir({ env: {} }), LATEST)
  assert.strictEqual(resultsDir({ save: true, env: {} }), COMMITTED)
  assert.strictEqual(resultsDir({ env: { BENCH_SAVE: '1' } }), COMMITTED)
  assert.strictEqual(resultsDir({ env: { BENCH_SAVE: '0' } }), LATEST)
  assert.strictEqual(resultsDir({ save: true, committed: '/x/soak', env: {} }), '/x/soak')
  assert.strictEqual(resultsDir({ save: true, env: { BENCH_RESULTS_DIR: 'tmp/r' } }), path.resolve('tmp/r'))
})

test('latest/ is git-ignored and the committed results folder is not', (t) => {
  let ignored
  try {
    ignored = execFileSync('git', ['check-ignore', path.join(LATEST, 'x.md'), path.join(COMMITTED, 'x.md')], { cwd: ROOT, encoding: 'utf8' })
  } catch (err) {
    // Exit 1 with no output: nothing ignored. Any other failure (no git, not a checkout): skip.
    if (err.status !== 1) return t.skip(`git check-ignore unavailable: ${err.message}`)
    ignored = err.stdout
  }
  const lines = ignored.trim().split('\n').filter(Boolean).map((l) => path.resolve(ROOT, l))
  assert.deepStrictEqual(lines, [path.join(LATEST, 'x.md')])
})
