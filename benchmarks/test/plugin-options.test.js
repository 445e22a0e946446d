'use strict'

const { test } = require('node:test')
const assert = require('node:assert')
const { toFlatOptions } = require('../lib/plugin-loader')
const { SCENARIOS, protectionConfig, parseTuned } = require('../lib/scenarios')

// The benchmarks' options are written in the grouped shape; this is the translation used
// against a build that only knows the flat names.
test('grouped options translate to the flat names of an earlier build', () => {
  const classify = () => 'success'
  const choose = () => 'batch'
  const flat = toFlatOptions({
    algorithm: { name: 'vegas', options: { alpha: 3 }, window: false },
    signal: { classify, timeout: 100 },
    rejection: { statusCode: 429, retryAfter: 'auto' },
    queue: { size: 50, timeout: 250, order: 'fifo', maxEstimatedWait: 100, deadlineHeader: 'x-deadline' },
    partitions: { shares: { critical: 0.8, batch: 0.2 }, choose },
    observability: { instance: 'a', history: false },
    statusRoute: true,
    eventLoop: false,
    sessions: { idleTimeout: 60000 }
  })
  assert.deepStrictEqual(flat, {
    algorithm: 'vegas',
    algorithmOptions: { alpha: 3 },
    window: false,
    classify,
    timeout: 100,
    statusCode: 429,
    retryAfter: 'auto',
    queue: { size: 50, timeout: 250, order: 'fifo' },
    maxEstimatedWait: 100,
    deadlineHeader: 'x-deadline',
    partitions: { critical: 0.8, batch: 0.2 },
    partition: choose,
    instance: 'a',
    history: false,
    exposeStatusRoute: true,
    eventLoop: false,
    sessions: { idleTimeout: 60000 }
  })
  // A name stays a name; a deadline-only queue (size 0) was no queue before.
  assert.deepStrictEqual(toFlatOptions({ algorithm: 'aimd', queue: { size: 0, deadlineHeader: 'x-d' } }), { algorithm: 'aimd', deadlineHeader: 'x-d' })
})

test('every plugin configuration of the scenarios uses the grouped names only', () => {
  const FLAT_ONLY = ['algorithmOptions', 'window', 'sampleClass', 'classify', 'timeout', 'statusCode', 'retryAfter', 'onLimitExceeded',
    'maxEstimatedWait', 'deadlineHeader', 'partition', 'instance', 'metrics', 'logging', 'history', 'exposeStatusRoute']
  let checked = 0
  for (const s of SCENARIOS) {
    for (const name of [...(s.protections || []), 'gradient2', ...Object.keys(s.variants || {})]) {
      const p = protectionConfig(name, s)
      if (p.kind !== 'plugin') continue
      checked++
      for (const key of FLAT_ONLY) assert.ok(!(key in p.options), `${s.name} x ${name}: flat option "${key}"`)
      if (p.options.partitions) assert.ok(p.options.partitions.shares, `${s.name} x ${name}: partitions without shares`)
    }
  }
  assert.ok(checked > 20)
  assert.deepStrictEqual(parseTuned('gradient2:minLimit=20;probe=false'), { algorithm: { name: 'gradient2', options: { minLimit: 20, probe: false } } })
})
