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
  t.type(cjs.Limiter, 'function')
  t.type(cjs.createAlgorithm, 'function')
  t.equal(cjs[Symbol.for('fastify.display-name')], 'fastify-adaptive-concurrency')
  t.same(cjs[Symbol.for('plugin-meta')].fastify, '5.x')

  // TypeScript's own import forms (compiled to require + interop).
  t.equal(defaultImport, cjs)
  t.equal(namedImport, cjs)

  const app = Fastify()
  await app.register(defaultImport, { algorithm: 'fixed', algorithmOptions: { limit: 3 } })
  t.equal(app.concurrency.limit, 3)
  t.equal(app.concurrency.algorithm, 'fixed')
  await app.close()
})
