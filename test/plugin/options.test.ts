// Every option is validated at registration: a bad value rejects ready() with an FST_ error
// naming the option and what is accepted.
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { resolveOptions } from '../../lib/options'
import { recordingAlgorithm } from './helpers'

async function registrationError (opts: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  app.register(fastifyAdaptiveConcurrency, opts as never)
  try {
    await app.ready()
  } catch (err) {
    return err as Error
  } finally {
    await app.close()
  }
  throw new Error('ready() did not fail')
}

const cases: Array<[string, unknown, RegExp]> = [
  ['unknown key', { maxLimt: 5 }, /"maxLimt": unknown option; accepted: algorithm, algorithmOptions/],
  ['algorithm name', { algorithm: 'nope' }, /"algorithm": expected one of 'gradient2', .*'fixed', got "nope"/],
  ['algorithm object', { algorithm: { limit: 1 } }, /"algorithm": expected a LimitAlgorithm/],
  ['algorithm number', { algorithm: 3 }, /"algorithm": expected one of/],
  ['algorithmOptions on an instance', { algorithm: recordingAlgorithm(1), algorithmOptions: {} }, /"algorithmOptions": only applies to a named algorithm/],
  ['window on an instance', { algorithm: recordingAlgorithm(1), window: false }, /"window": only applies to a named algorithm/],
  ['algorithmOptions type', { algorithm: 'aimd', algorithmOptions: 5 }, /"algorithmOptions": expected an object, got 5/],
  ['window type', { window: 'yes' }, /"window": expected an object, got "yes"/],
  ['classify', { classify: 'success' }, /"classify": expected a function, got "success"/],
  ['bypass', { bypass: true }, /"bypass": expected a function, got boolean/],
  ['onLimitExceeded', { onLimitExceeded: {} }, /"onLimitExceeded": expected a function, got object/],
  ['timeout zero', { timeout: 0 }, /"timeout": expected a number in \(0, Infinity\], got 0/],
  ['timeout string', { timeout: '5s' }, /"timeout": expected a number/],
  ['statusCode', { statusCode: 500 }, /"statusCode": expected 503 or 429, got 500/],
  ['retryAfter fraction', { retryAfter: 1.5 }, /"retryAfter": expected an integer in \[0, 86400\]/],
  ['retryAfter negative', { retryAfter: -1 }, /"retryAfter": expected an integer/],
  ['exposeStatusRoute number', { exposeStatusRoute: 1 }, /"exposeStatusRoute": expected a boolean, a URL string/],
  ['exposeStatusRoute relative url', { exposeStatusRoute: 'status' }, /"exposeStatusRoute": expected a URL path starting with '\/'/],
  ['exposeStatusRoute.url', { exposeStatusRoute: { url: 5 } }, /"exposeStatusRoute.url": expected a URL path/],
  ['exposeStatusRoute unknown key', { exposeStatusRoute: { path: '/x' } }, /"exposeStatusRoute.path": unknown option; accepted: url, routeOpts, routeSchemaOpts, page/],
  ['exposeStatusRoute.routeOpts type', { exposeStatusRoute: { routeOpts: [] } }, /"exposeStatusRoute.routeOpts": expected an object, got an array/],
  ['exposeStatusRoute.routeOpts.method', { exposeStatusRoute: { routeOpts: { method: 'POST' } } }, /"exposeStatusRoute.routeOpts.method": is set by the plugin/],
  ['exposeStatusRoute.routeSchemaOpts.response', { exposeStatusRoute: { routeSchemaOpts: { response: {} } } }, /"exposeStatusRoute.routeSchemaOpts.response"/],
  ['exposeStatusRoute null', { exposeStatusRoute: null }, /"exposeStatusRoute": expected a boolean/]
]

for (const [name, opts, message] of cases) {
  t.test(`rejects a bad ${name}`, async t => {
    const err = await registrationError(opts)
    t.equal(err.code, 'FST_CONCURRENCY_INVALID_OPTION')
    t.match(err.message, message)
  })
}

t.test('algorithm option errors from createAlgorithm name the nested option', async t => {
  const err = await registrationError({ algorithm: 'aimd', algorithmOptions: { backoffRatio: 2 } })
  t.equal(err.code, 'FST_CONCURRENCY_INVALID_OPTION')
  t.match(err.message, /backoffRatio/)
})

t.test('options that are not an object', async t => {
  t.throws(() => resolveOptions(5), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /"options": expected an object/ })
})

t.test('defaults', async t => {
  const resolved = resolveOptions({})
  t.equal(resolved.algorithm.name, 'gradient2')
  t.equal(resolved.timeout, 5000)
  t.equal(resolved.statusCode, 503)
  t.equal(resolved.retryAfter, 1)
  t.equal(resolved.statusRoute, undefined)
  t.equal(resolved.classify, undefined)
  t.equal(resolved.bypass, undefined)
  t.equal(resolved.onLimitExceeded, undefined)
  t.same(resolveOptions(undefined).statusCode, 503)
})

t.test('named algorithms, windows, and status-route forms resolve', async t => {
  t.equal(resolveOptions({ algorithm: 'fixed', algorithmOptions: { limit: 7 } }).algorithm.limit, 7)
  t.equal(resolveOptions({ algorithm: 'aimd', window: false }).algorithm.name, 'aimd')
  const instance = recordingAlgorithm(3)
  t.equal(resolveOptions({ algorithm: instance }).algorithm, instance)
  t.same(resolveOptions({ exposeStatusRoute: true }).statusRoute, { url: '/status', routeOpts: {}, routeSchemaOpts: {}, page: { title: 'fastify-adaptive-concurrency' } })
  t.same(resolveOptions({ exposeStatusRoute: false }).statusRoute, undefined)
  t.same(resolveOptions({ exposeStatusRoute: '/limits' }).statusRoute, { url: '/limits', routeOpts: {}, routeSchemaOpts: {}, page: { title: 'fastify-adaptive-concurrency' } })
  t.same(resolveOptions({ exposeStatusRoute: {} }).statusRoute, { url: '/status', routeOpts: {}, routeSchemaOpts: {}, page: { title: 'fastify-adaptive-concurrency' } })
  t.same(resolveOptions({ exposeStatusRoute: { url: '/x', routeOpts: { logLevel: 'warn' }, routeSchemaOpts: { tags: ['ops'] } } }).statusRoute,
    { url: '/x', routeOpts: { logLevel: 'warn' }, routeSchemaOpts: { tags: ['ops'] }, page: { title: 'fastify-adaptive-concurrency' } })
  t.equal(resolveOptions({ statusCode: 429 }).statusCode, 429)
})
