// Per-route latency classes through the plugin: what the algorithm sees, the option, the cap.
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { RequestClasses, UNMATCHED_CLASS, resolveSampleClass } from '../../lib/signal/request-class'
import { resetRouteContextSymbol } from '../../lib/route-config'
import { recordingAlgorithm, settle } from '../plugin/helpers'
import type { FastifyRequest } from 'fastify'

function spin (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* a route slower than the others, certainly */ }
}

t.test('by default the algorithm sees each route\'s latency relative to its own no-load latency', async t => {
  const algorithm = recordingAlgorithm(100)
  const app = Fastify({ logger: false })
  // The event-loop gate is off: a loaded box would shed these back-to-back spins as loop lag.
  await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false })
  app.get('/fast', async () => 'fast')
  app.get('/slow', async () => { spin(5); return 'slow' })
  t.teardown(() => app.close())
  for (let i = 0; i < 19; i++) await app.inject('/slow')
  await settle()
  t.equal(algorithm.samples.length, 0, 'a class with no baseline yet feeds nothing')
  for (let i = 0; i < 20; i++) await app.inject('/fast')
  await app.inject('/slow')
  await settle()
  t.equal(algorithm.samples.length, 0, 'each route learns its own')
  for (let i = 0; i < 10; i++) {
    await app.inject('/slow')
    await app.inject('/fast')
  }
  await settle()
  t.equal(algorithm.samples.length, 20)
  // Relative to its own class's baseline, a sample is never below 1, and /slow (over 5 ms by
  // construction) has its own baseline: it is not read against /fast's.
  t.ok(algorithm.samples.every(s => s.rtt >= 1), 'never below 1')
  const baselines = new Map(app.concurrency.limiter.sampleClasses?.baselines(10).map(b => [b.name, b.baseline]))
  t.ok((baselines.get('GET /slow') ?? 0) >= 5, `GET /slow: ${baselines.get('GET /slow')} ms`)
  t.ok((baselines.get('GET /fast') ?? Infinity) < (baselines.get('GET /slow') ?? 0), `GET /fast: ${baselines.get('GET /fast')} ms`)
})

t.test('sampleClass: false feeds raw latency; a function names classes; undefined falls back to the route', async t => {
  const raw = recordingAlgorithm(100)
  const off = Fastify({ logger: false })
  await off.register(fastifyAdaptiveConcurrency, { algorithm: raw, signal: { sampleClass: false }, eventLoop: false })
  off.get('/slow', async () => { spin(3); return 'slow' })
  t.teardown(() => off.close())
  await off.inject('/slow')
  await settle()
  t.equal(raw.samples.length, 1)
  t.ok(raw.samples[0].rtt >= 3, 'raw milliseconds')

  const named: string[] = []
  const custom = Fastify({ logger: false })
  await custom.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(100),
    signal: {
      sampleClass: (request: FastifyRequest) => {
        const tier = request.headers['x-tier']
        named.push(String(tier))
        return typeof tier === 'string' ? `tier:${tier}` : undefined
      }
    }
  })
  custom.get('/x', async () => 'x')
  t.teardown(() => custom.close())
  await custom.inject({ url: '/x', headers: { 'x-tier': 'gold' } })
  await custom.inject('/x')
  await custom.inject('/nowhere')
  await settle()
  const classes = custom.concurrency.sampleClasses
  t.match(classes, { classes: 3, learned: 0, unsampled: 0 }, "default, 'tier:gold' and 'GET /x'")
  t.same(named, ['gold', 'undefined'], 'a 404 is ignored, so never classified')
})

t.test('AIMD and fixed never compare latencies: raw samples unless sampleClass is given', async t => {
  for (const algorithm of ['aimd', 'fixed'] as const) {
    const app = Fastify({ logger: false })
    await app.register(fastifyAdaptiveConcurrency, { algorithm })
    t.equal(app.concurrency.sampleClasses, undefined, algorithm)
    await app.close()
  }
  const app = Fastify({ logger: false })
  await app.register(fastifyAdaptiveConcurrency, { algorithm: 'aimd', signal: { sampleClass: () => 'one' } })
  t.match(app.concurrency.sampleClasses, { classes: 1 }, 'aimd with an explicit sampleClass')
  await app.close()
})

t.test('an invalid sampleClass fails ready() naming the option', async t => {
  for (const value of [true as unknown, 'route', 3, {}]) {
    if (value === true) continue
    const app = Fastify({ logger: false })
    app.register(fastifyAdaptiveConcurrency, { signal: { sampleClass: value as never } })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /signal\.sampleClass.*expected false, or a function/ })
  }
  t.same(resolveSampleClass(undefined), { enabled: true, custom: undefined })
})

t.test('a throwing or non-string sampleClass falls back to the route class, logged once', async t => {
  const logs: string[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } })
  let calls = 0
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(100),
    signal: {
      sampleClass: () => {
        calls++
        if (calls === 1) throw new Error('classifier bug')
        return 42 as never
      }
    }
  })
  app.get('/x', async () => 'x')
  t.teardown(() => app.close())
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/x')).statusCode, 200)
  await settle()
  t.equal(logs.filter(l => /sampleClass/.test(l)).length, 1, 'logged once')
  t.match(app.concurrency.sampleClasses, { classes: 2 }, "default and 'GET /x'")
})

t.test('past the cap, new classes are counted but not sampled; routes without a visible context still classify', async t => {
  const classes = new RequestClasses((request) => String(request.headers['x-n']), 3)
  const request = (n: number): FastifyRequest => ({ headers: { 'x-n': String(n) }, method: 'GET', routeOptions: { url: '/x' }, log: console } as unknown as FastifyRequest)
  t.ok(classes.classOf(request(1)))
  t.ok(classes.classOf(request(2)))
  t.equal(classes.classOf(request(3)), null)
  resetRouteContextSymbol(null)
  t.teardown(() => resetRouteContextSymbol(undefined))
  const byRoute = new RequestClasses(undefined)
  t.equal(byRoute.classOf(request(1))?.name, 'GET /x')
  const unmatched = { method: 'POST', routeOptions: { url: undefined } } as unknown as FastifyRequest
  t.equal(byRoute.classOf(unmatched)?.name, UNMATCHED_CLASS)
})
