// Classification, bypass, per-route opt-out and the counters, through fastify.inject.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { defaultOutcome } from '../../lib/signal/outcome'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { recordingAlgorithm, settle } from './helpers'
import type { RecordingAlgorithm } from './helpers'

function spin (ms: number): void {
  const end = performance.now() + ms
  while (performance.now() < end) { /* burn CPU so the latency is certainly above `ms` */ }
}

async function app (t: tap.Test, opts: Partial<FastifyAdaptiveConcurrencyOptions> = {}): Promise<{ app: FastifyInstance, algorithm: RecordingAlgorithm }> {
  const algorithm = recordingAlgorithm(10)
  const fastify = Fastify({ logger: false })
  // Raw samples (one class): these tests check what reaches the algorithm, not the normalization.
  // No event-loop gate: on a loaded machine its real-time turns would refuse a request now and then.
  await fastify.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, ...opts, signal: { sampleClass: false, ...opts.signal } })
  fastify.get('/ok', async () => 'ok')
  fastify.get('/fail', async (_req, reply) => reply.code(502).send('bad gateway'))
  fastify.get('/throw', async () => { throw new Error('boom') })
  fastify.get('/busy', async () => { spin(3); return 'slow' })
  fastify.get('/health', async () => 'up')
  fastify.get('/off', { config: { adaptiveConcurrency: false } }, async () => 'untracked')
  fastify.get('/hijack', (_req, reply) => {
    reply.hijack()
    reply.raw.end('raw')
  })
  t.teardown(() => fastify.close())
  return { app: fastify, algorithm }
}

function invariant (t: tap.Test, app: FastifyInstance): void {
  const c = app.concurrency
  t.equal(c.inflight, 0, 'in-flight returns to 0')
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored + c.inflight, 'admitted = succeeded + dropped + ignored + inflight')
}

t.test('default classification: 2xx and hijacked replies succeed; 5xx and thrown errors drop; 404 is ignored', async t => {
  const { app: fastify, algorithm } = await app(t)
  t.equal((await fastify.inject('/ok')).statusCode, 200)
  t.equal((await fastify.inject('/fail')).statusCode, 502)
  t.equal((await fastify.inject('/throw')).statusCode, 500)
  t.equal((await fastify.inject('/missing')).statusCode, 404)
  t.equal((await fastify.inject('/hijack')).body, 'raw')
  await settle()
  const c = fastify.concurrency
  t.equal(c.admitted, 5)
  t.equal(c.dropped, 2, '502 and the thrown error')
  t.equal(c.succeeded, 2, 'ok, hijack')
  t.equal(c.ignored, 1, 'a 404 says nothing about capacity')
  t.same(algorithm.samples.map(s => s.dropped), [false, true, true, false])
  t.ok(algorithm.samples.every(s => s.inflight === 1 && s.rtt >= 0))
  invariant(t, fastify)
})

t.test('a response slower than timeout is a drop', async t => {
  // Only a lower bound on latency is relied on: the handler spins for 3 ms, the timeout is 2 ms.
  const { app: fastify, algorithm } = await app(t, { signal: { timeout: 2 } })
  t.equal((await fastify.inject('/busy')).statusCode, 200)
  await settle()
  t.equal(fastify.concurrency.dropped, 1)
  t.ok(algorithm.samples[0].rtt >= 3)
  t.equal(algorithm.samples[0].dropped, true)
})

t.test('defaultOutcome: a response cut short is ignored', async t => {
  t.equal(defaultOutcome(false, 200, 1, 100), 'ignore')
  const done = true
  t.equal(defaultOutcome(done, 200, 1, 100), 'success')
  t.equal(defaultOutcome(done, 200, 101, 100), 'drop')
  t.equal(defaultOutcome(done, 503, 1, 100), 'drop')
  for (const status of [400, 401, 404, 422, 429, 304]) t.equal(defaultOutcome(done, status, 1, 100), 'ignore', `${status}: no sample`)
  t.equal(defaultOutcome(done, 400, 101, 100), 'drop', 'a 4xx slower than timeout is still overload')
  t.equal(defaultOutcome(done, 302, 1, 100), 'success', 'other 3xx are the route\'s normal answer')
})

t.test('custom classify decides; an invalid or throwing classify counts as ignored and is logged', async t => {
  const verdicts: unknown[] = ['drop', 'ignore', 'success', 'maybe']
  const { app: fastify, algorithm } = await app(t, {
    signal: {
      classify (request, reply) {
        t.equal(reply.request, request)
        if (verdicts.length === 0) throw new Error('classifier bug')
        return verdicts.shift() as 'success'
      }
    }
  })
  for (let i = 0; i < 5; i++) {
    const res = await fastify.inject('/ok')
    t.equal(res.statusCode, 200)
  }
  await settle()
  const c = fastify.concurrency
  t.same([c.dropped, c.ignored, c.succeeded], [1, 3, 1])
  t.same(algorithm.samples.map(s => s.dropped), [true, false])
  invariant(t, fastify)
})

t.test('a classify that returns undefined leaves the request to the default classification', async t => {
  const { app: fastify } = await app(t, { signal: { classify: (request) => request.url === '/ok' ? 'drop' : undefined } })
  t.equal((await fastify.inject('/ok')).statusCode, 200)
  t.equal((await fastify.inject('/fail')).statusCode, 502)
  t.equal((await fastify.inject('/health')).statusCode, 200)
  t.equal((await fastify.inject('/missing')).statusCode, 404)
  await settle()
  const c = fastify.concurrency
  t.same([c.dropped, c.succeeded, c.ignored], [2, 1, 1], '/ok by classify, /fail, /health and the 404 by default')
})

t.test('bypassed requests are never limited and never in flight, but counted', async t => {
  // queue: false: everything that is not bypassed is rejected at once.
  const { app: fastify, algorithm } = await app(t, { bypass: request => request.url === '/health', queue: false })
  algorithm.limit = 0
  t.equal((await fastify.inject('/health')).statusCode, 200)
  t.equal((await fastify.inject('/ok')).statusCode, 503)
  await settle()
  const c = fastify.concurrency
  t.equal(c.bypassed, 1)
  t.equal(c.admitted, 0)
  t.equal(c.rejected, 1)
  invariant(t, fastify)
})

t.test('a throwing bypass is logged and the request limited as usual (see user-callbacks.test.ts)', async t => {
  const { app: fastify } = await app(t, { bypass: () => { throw new Error('bypass bug') } })
  t.equal((await fastify.inject('/ok')).statusCode, 200)
  t.same([fastify.concurrency.admitted, fastify.concurrency.bypassed, fastify.concurrency.rejected], [1, 0, 0])
})

t.test('config.adaptiveConcurrency false: never limited, never counted', async t => {
  const { app: fastify, algorithm } = await app(t)
  algorithm.limit = 0
  const res = await fastify.inject('/off')
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'untracked')
  const c = fastify.concurrency
  t.same([c.admitted, c.rejected, c.bypassed], [0, 0, 0])
})

t.test('a limiter that throws in onSample is logged, and the permit is still released', async t => {
  const logs: string[] = []
  const fastify = Fastify({
    logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } }
  })
  await fastify.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'broken', limit: 5, onSample () { throw new Error('broken algorithm') }, state: () => ({}) },
    signal: {
      sampleClass: false,
      classify: (_req, reply) => reply.statusCode === 201 ? 'success' : ('nonsense' as never)
    }
  })
  fastify.get('/created', async (_req, reply) => reply.code(201).send('x'))
  fastify.get('/odd', async () => 'x')
  t.teardown(() => fastify.close())
  await fastify.inject('/created')
  await fastify.inject('/odd')
  await settle()
  t.equal(fastify.concurrency.inflight, 0)
  t.equal(fastify.concurrency.succeeded, 1)
  t.equal(fastify.concurrency.ignored, 1)
  t.match(logs.join(''), /the limit algorithm threw/)
  t.match(logs.join(''), /classify returned nonsense/)
})

t.test('a throwing classify is logged', async t => {
  const logs: string[] = []
  const fastify = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } })
  await fastify.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(2), signal: { classify: () => { throw new Error('oops') } } })
  fastify.get('/', async () => 'x')
  t.teardown(() => fastify.close())
  await fastify.inject('/')
  await settle()
  t.equal(fastify.concurrency.ignored, 1)
  t.match(logs.join(''), /classify threw/)
})
