// The entry points from this repository's sources (what tsx and the in-repo tests load). The
// packed package under each module system is test/module-systems.test.ts.
import t from 'tap'
import Fastify from 'fastify'
import defaultImport, { fastifyAdaptiveConcurrency as namedImport } from '../../index'

t.test('default export, .default and named fastifyAdaptiveConcurrency are the same plugin', async t => {
  // require(): what a CommonJS user gets.
  const cjs = require('../../index')
  t.type(cjs, 'function')
  t.equal(cjs.default, cjs)
  t.equal(cjs.fastifyAdaptiveConcurrency, cjs)
  t.type(cjs.errors.FST_CONCURRENCY_LIMIT_EXCEEDED, 'function')
  t.equal(cjs[Symbol.for('fastify.display-name')], 'fastify-adaptive-concurrency')
  t.same(cjs[Symbol.for('plugin-meta')].fastify, '5.x')

  // TypeScript's own import forms (compiled to require + interop).
  t.equal(defaultImport, cjs)
  t.equal(namedImport, cjs)

  const app = Fastify()
  await app.register(defaultImport, { algorithm: { name: 'fixed', options: { limit: 3 } } })
  t.equal(app.concurrency.limit, 3)
  t.equal(app.concurrency.algorithm, 'fixed')
  await app.close()
})

t.test('the root holds the plugin and its errors only; the rest is in subpaths', async t => {
  const root = require('../../index')
  t.same(Object.keys(root).sort(), ['default', 'errors', 'fastifyAdaptiveConcurrency'])
})

t.test('subpath entry points', async t => {
  const names = (entry: string): string[] => Object.keys(require(entry)).filter(n => n !== '__esModule').sort()
  t.same(names('../../limiter'), [
    'DEFAULT_PARTITION', 'Limiter', 'PartitionSet', 'Permit', 'SampleClass', 'SampleClasses', 'ServiceTimeEwma', 'WaitQueue', 'Waiter',
    'deadlineUnreachable', 'estimateWait', 'parseDeadlineHeader'
  ])
  t.same(names('../../sessions'), ['MemoryStore', 'RedisStore', 'SessionOverloadPolicy', 'SessionTracker', 'StoreTimeoutError'])
  const algorithms = require('../../algorithms')
  for (const name of ['AIMDLimit', 'FixedLimit', 'Gradient2Limit', 'VegasLimit', 'WindowedLimit', 'createAlgorithm', 'isLimitAlgorithm']) {
    t.type(algorithms[name], 'function', name)
  }
  t.same(algorithms.ALGORITHM_NAMES, ['gradient2', 'vegas', 'aimd', 'fixed'])
  t.equal(algorithms.createAlgorithm('fixed', { limit: 4 }).limit, 4)
})
