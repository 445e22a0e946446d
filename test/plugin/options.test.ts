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
  ['unknown key', { maxLimt: 5 }, /"maxLimt": unknown option; accepted: algorithm, signal, eventLoop, bypass, rejection, queue, partitions, sessions, drainOnClose, observability, statusRoute$/],
  ['algorithm name', { algorithm: 'nope' }, /"algorithm": expected one of 'gradient2', .*'fixed', got "nope"/],
  ['algorithm object', { algorithm: { limit: 1 } }, /"algorithm": expected a name \(.*\), a LimitAlgorithm .* or \{ name, options, window \}, got object/],
  ['algorithm number', { algorithm: 3 }, /"algorithm": expected a name/],
  ['algorithm.name', { algorithm: { name: 'nope' } }, /"algorithm.name": expected one of 'gradient2', .*'fixed', got "nope"/],
  ['algorithm unknown key', { algorithm: { name: 'aimd', limit: 3 } }, /"algorithm.limit": unknown option; accepted: name, options, window/],
  // Tuning knobs beside an instance, or under their old flat names, would be silently ignored: they are refused.
  ['old algorithmOptions', { algorithm: recordingAlgorithm(1), algorithmOptions: {} }, /"algorithmOptions": unknown option/],
  ['old window', { algorithm: recordingAlgorithm(1), window: false }, /"window": unknown option/],
  ['algorithm.options type', { algorithm: { name: 'aimd', options: 5 } }, /"algorithm.options": expected an object, got 5/],
  ['algorithm.window type', { algorithm: { name: 'gradient2', window: 'yes' } }, /"algorithm.window": expected an object, got "yes"/],
  // The windows' clock is a test hook of WindowedLimit itself, not a plugin option.
  ['algorithm.window.clock', { algorithm: { name: 'gradient2', window: { clock: () => 0 } } }, /"algorithm.window.clock": unknown option/],
  ['signal type', { signal: 5 }, /"signal": expected an object, got 5/],
  ['signal unknown key', { signal: { timeOut: 5 } }, /"signal.timeOut": unknown option; accepted: sampleClass, classify, timeout/],
  ['old classify', { classify: () => 'success' }, /"classify": unknown option/],
  ['signal.classify', { signal: { classify: 'success' } }, /"signal.classify": expected a function, got "success"/],
  ['bypass', { bypass: true }, /"bypass": expected a function, got boolean/],
  ['rejection.onLimitExceeded', { rejection: { onLimitExceeded: {} } }, /"rejection.onLimitExceeded": expected a function, got object/],
  ['signal.timeout zero', { signal: { timeout: 0 } }, /"signal.timeout": expected a number in \(0, Infinity\], got 0/],
  ['signal.timeout string', { signal: { timeout: '5s' } }, /"signal.timeout": expected a number/],
  ['signal.longLivedAfter zero', { signal: { longLivedAfter: 0 } }, /"signal.longLivedAfter": expected a number of ms > 0, or false, got 0/],
  ['signal.longLivedAfter true', { signal: { longLivedAfter: true } }, /"signal.longLivedAfter": expected a number of ms > 0, or false, got boolean/],
  ['rejection type', { rejection: 429 }, /"rejection": expected an object, got 429/],
  ['rejection unknown key', { rejection: { status: 429 } }, /"rejection.status": unknown option; accepted: statusCode, retryAfter, onLimitExceeded/],
  ['old statusCode', { statusCode: 429 }, /"statusCode": unknown option/],
  ['rejection.statusCode', { rejection: { statusCode: 500 } }, /"rejection.statusCode": expected 503 or 429, got 500/],
  ['rejection.retryAfter fraction', { rejection: { retryAfter: 1.5 } }, /"rejection.retryAfter": expected an integer in \[0, 86400\]/],
  ['rejection.retryAfter negative', { rejection: { retryAfter: -1 } }, /"rejection.retryAfter": expected an integer/],
  ['rejection.retryAfter string', { rejection: { retryAfter: 'soon' } }, /"rejection.retryAfter": expected an integer in \[0, 86400\] or 'auto', got "soon"/],
  ['old exposeStatusRoute', { exposeStatusRoute: true }, /"exposeStatusRoute": unknown option/],
  ['statusRoute number', { statusRoute: 1 }, /"statusRoute": expected a boolean, a URL string/],
  ['statusRoute relative url', { statusRoute: 'status' }, /"statusRoute": expected a URL path starting with '\/'/],
  ['statusRoute.url', { statusRoute: { url: 5 } }, /"statusRoute.url": expected a URL path/],
  ['statusRoute unknown key', { statusRoute: { path: '/x' } }, /"statusRoute.path": unknown option; accepted: url, routeOpts, routeSchemaOpts, page/],
  ['statusRoute.routeOpts type', { statusRoute: { routeOpts: [] } }, /"statusRoute.routeOpts": expected an object, got an array/],
  ['statusRoute.routeOpts.method', { statusRoute: { routeOpts: { method: 'POST' } } }, /"statusRoute.routeOpts.method": is set by the plugin/],
  ['statusRoute.routeSchemaOpts.response', { statusRoute: { routeSchemaOpts: { response: {} } } }, /"statusRoute.routeSchemaOpts.response"/],
  ['statusRoute null', { statusRoute: null }, /"statusRoute": expected a boolean/]
]

for (const [name, opts, message] of cases) {
  t.test(`rejects a bad ${name}`, async t => {
    const err = await registrationError(opts)
    t.equal(err.code, 'FST_CONCURRENCY_INVALID_OPTION')
    t.match(err.message, message)
  })
}

t.test('algorithm option errors from createAlgorithm name the nested option', async t => {
  const err = await registrationError({ algorithm: { name: 'aimd', options: { backoffRatio: 2 } } })
  t.equal(err.code, 'FST_CONCURRENCY_INVALID_OPTION')
  t.match(err.message, /"algorithm\.options\.backoffRatio"/)
})

t.test('options that are not an object', async t => {
  t.throws(() => resolveOptions(5), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /"options": expected an object/ })
})

t.test('defaults', async t => {
  const resolved = resolveOptions({})
  t.equal(resolved.algorithm.name, 'gradient2')
  t.equal(resolved.signal.timeout, 5000)
  t.equal(resolved.signal.longLivedAfter, 1000)
  t.equal(resolveOptions({ signal: { longLivedAfter: false } }).signal.longLivedAfter, Infinity, 'false: never learned')
  t.equal(resolveOptions({ signal: { longLivedAfter: 2500 } }).signal.longLivedAfter, 2500)
  t.equal(resolved.rejection.statusCode, 503)
  t.equal(resolved.rejection.retryAfter, 1)
  t.equal(resolved.rejection.retryAfterAuto, false)
  t.equal(resolved.statusRoute, undefined)
  t.equal(resolved.signal.classify, undefined)
  t.equal(resolved.bypass, undefined)
  t.equal(resolved.rejection.onLimitExceeded, undefined)
  t.same(resolveOptions(undefined).rejection.statusCode, 503)
})

t.test('named algorithms, windows, and status-route forms resolve', async t => {
  t.equal(resolveOptions({ algorithm: { name: 'fixed', options: { limit: 7 } } }).algorithm.limit, 7)
  t.equal(resolveOptions({ algorithm: { name: 'aimd', window: false } }).algorithm.name, 'aimd')
  const instance = recordingAlgorithm(3)
  t.equal(resolveOptions({ algorithm: instance }).algorithm, instance)
  t.same(resolveOptions({ statusRoute: true }).statusRoute, { url: '/status', routeOpts: {}, routeSchemaOpts: {}, page: { title: 'fastify-adaptive-concurrency' } })
  t.same(resolveOptions({ statusRoute: false }).statusRoute, undefined)
  t.same(resolveOptions({ statusRoute: '/limits' }).statusRoute, { url: '/limits', routeOpts: {}, routeSchemaOpts: {}, page: { title: 'fastify-adaptive-concurrency' } })
  t.same(resolveOptions({ statusRoute: {} }).statusRoute, { url: '/status', routeOpts: {}, routeSchemaOpts: {}, page: { title: 'fastify-adaptive-concurrency' } })
  t.same(resolveOptions({ statusRoute: { url: '/x', routeOpts: { logLevel: 'warn' }, routeSchemaOpts: { tags: ['ops'] } } }).statusRoute,
    { url: '/x', routeOpts: { logLevel: 'warn' }, routeSchemaOpts: { tags: ['ops'] }, page: { title: 'fastify-adaptive-concurrency' } })
  t.equal(resolveOptions({ rejection: { statusCode: 429 } }).rejection.statusCode, 429)
})
