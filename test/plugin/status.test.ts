// fastify.concurrency and the status route.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyContextConfig } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { evaluate, readmeCodeBlock } from '../readme-snippets'
import { kInternal } from '../../lib/internal'
import { FakeTimers } from '../limiter/fake-timers'
import { recordingAlgorithm, settle } from './helpers'

t.test('fastify.concurrency is a live, read-only view', async t => {
  const algorithm = recordingAlgorithm(4)
  const app = Fastify()
  // A still clock: the default queue's wait window (ms since it began) is then the same in both reads below.
  const timers = new FakeTimers()
  await app.register(fastifyAdaptiveConcurrency, { algorithm, signal: { sampleClass: false }, [kInternal]: { timers } } as FastifyAdaptiveConcurrencyOptions)
  app.get('/', async () => 'x')
  t.teardown(() => app.close())
  const c = app.concurrency
  t.equal(c.algorithm, 'recording')
  t.equal(c.limit, 4)
  await app.inject('/')
  await settle()
  t.equal(c.admitted, 1)
  t.equal(c.succeeded, 1)
  algorithm.limit = 9
  t.equal(c.limit, 9, 'reads the algorithm live')
  t.same(c.state, { samples: 1, mode: 'test' })
  t.throws(() => { (c as { limit: number }).limit = 1 }, TypeError, 'fields cannot be assigned')
  t.equal(c.limiter.admitted, 1)
  t.same(JSON.parse(JSON.stringify(c)), c.snapshot())
})

t.test('the status route serves the snapshot with its schema, unlimited and uncounted', async t => {
  const algorithm = recordingAlgorithm(0)
  const app = Fastify()
  const timers = new FakeTimers()
  await app.register(fastifyAdaptiveConcurrency, { algorithm, signal: { sampleClass: false }, statusRoute: true, [kInternal]: { timers } } as FastifyAdaptiveConcurrencyOptions)
  t.teardown(() => app.close())
  const res = await app.inject('/status')
  t.equal(res.statusCode, 200)
  t.same(res.json(), {
    algorithm: 'recording',
    limit: 0,
    inflight: 0,
    admitted: 0,
    rejected: 0,
    succeeded: 0,
    dropped: 0,
    ignored: 0,
    bypassed: 0,
    overloaded: true,
    shedding: false,
    state: { samples: 0, mode: 'test' },
    longLived: { open: 0, websockets: 0, waiting: 0, sending: 0, admitted: 0, routes: {} },
    // The default queue, empty; and the service time it estimates waits from (no sample yet).
    queue: {
      length: 0,
      size: 400,
      timeout: 1000,
      order: 'fifo',
      standingTimeout: 5,
      interval: 250,
      standing: false,
      waitP99: 0,
      waitCount: 0,
      waitWindow: 0,
      estimatedWait: 0,
      enqueued: 0,
      granted: 0,
      timedOut: 0,
      deadlineExpired: 0,
      cancelled: 0,
      rejectedFull: 0,
      evicted: 0,
      standingEpisodes: 0
    },
    serviceTime: 0
  })
  t.equal(app.concurrency.rejected, 0)
  t.equal(app.concurrency.bypassed, 0)
})

t.test('a URL string, and { url, routeOpts, routeSchemaOpts }', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1), statusRoute: '/limits' })
  t.teardown(() => app.close())
  t.equal((await app.inject('/limits')).statusCode, 200)
  t.equal((await app.inject('/status')).statusCode, 404)

  const hooked: string[] = []
  const app2 = Fastify()
  await app2.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(0),
    statusRoute: {
      url: '/ops/concurrency',
      routeOpts: { config: { team: 'ops' } as FastifyContextConfig, onRequest: (req, _reply, done) => { hooked.push(String((req.routeOptions.config as { team?: string }).team)); done() } },
      routeSchemaOpts: { description: 'limiter status' }
    }
  })
  t.teardown(() => app2.close())
  const res = await app2.inject('/ops/concurrency')
  t.equal(res.statusCode, 200, 'never limited, even at limit 0')
  t.same(hooked, ['ops'], 'route options and config are kept')
  t.equal(res.json().limit, 0)
})

t.test('the response schema strips unknown fields and keeps string state values', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'odd', limit: 3, onSample () {}, state: () => ({ phase: 'probe', minRtt: 1.5 }) },
    statusRoute: true
  })
  t.teardown(() => app.close())
  t.same((await app.inject('/status')).json().state, { phase: 'probe', minRtt: 1.5 })
})

t.test("the README's guarded status route: its routeOpts.onRequest guards it, and no shedding ever refuses it", async t => {
  const block = readmeCodeBlock('status', 'statusRoute:')
  const literal = /adaptiveConcurrency, (\{[\s\S]*\})\)\s*$/.exec(block)
  if (literal === null) throw new Error('the README status example has no register(adaptiveConcurrency, {...}) call')
  const documented = evaluate<Pick<FastifyAdaptiveConcurrencyOptions, 'statusRoute'>>(literal[1], { process: { env: { STATUS_TOKEN: 'ops-token' } } })
  const app = Fastify()
  // Everything else is shed: limit 0, a queue, and a drain under way.
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(0),
    queue: { size: 5, timeout: 60_000 },
    ...documented
  })
  app.get('/work', async () => 'work')
  await app.ready()
  t.teardown(() => app.close())
  await app.concurrency.drain({ timeout: 1000 })
  t.equal((await app.inject('/work')).statusCode, 503, 'other routes are shed')
  t.equal((await app.inject('/status')).statusCode, 401, 'no token: refused by the guard')
  t.equal((await app.inject({ url: '/status', headers: { authorization: 'Bearer guess' } })).statusCode, 401)
  const res = await app.inject({ url: '/status', headers: { authorization: 'Bearer ops-token' } })
  t.equal(res.statusCode, 200, 'with the token: served at limit 0, while draining')
  t.match(res.json(), { limit: 0, rejected: 1, inflight: 0 })
  t.equal(app.concurrency.limiter.queue?.length, 0)
})

t.test('shedding: from recent refusals, not from in-flight at one instant; without history, the instant', async t => {
  const algorithm = recordingAlgorithm(0)
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, queue: false })
  app.get('/', async () => 'x')
  t.teardown(() => app.close())
  t.equal(app.concurrency.shedding, false, 'nothing refused yet')
  t.equal((await app.inject('/')).statusCode, 503)
  algorithm.limit = 5
  t.equal(app.concurrency.isOverloaded(), false, 'below the limit now')
  t.equal(app.concurrency.shedding, true, 'but it refused a request just now')
  t.equal(app.concurrency.snapshot().shedding, true)

  const bare = Fastify()
  const a2 = recordingAlgorithm(0)
  await bare.register(fastifyAdaptiveConcurrency, { algorithm: a2, eventLoop: false, observability: { history: false } })
  t.teardown(() => bare.close())
  t.equal(bare.concurrency.shedding, true, 'no history: at the limit now')
  a2.limit = 1
  t.equal(bare.concurrency.shedding, false)
})
