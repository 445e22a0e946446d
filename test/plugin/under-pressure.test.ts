// Working with @fastify/under-pressure, registered in either order. Pressure is made
// deterministic with an external healthCheck that reports unhealthy: isUnderPressure() is then
// true from registration on, with no dependence on event-loop timing.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import underPressure from '@fastify/under-pressure'
import type { FastifyUnderPressureOptions as UnderPressureOptions } from '@fastify/under-pressure'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { recordingAlgorithm, settle } from './helpers'

type Order = 'under-pressure first' | 'adaptive-concurrency first'
const ORDERS: Order[] = ['under-pressure first', 'adaptive-concurrency first']

async function build (order: Order, pressureOpts: UnderPressureOptions, limit = 10): Promise<FastifyInstance> {
  const app = Fastify()
  const registerUP = () => app.register(underPressure, pressureOpts)
  const registerUs = () => app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(limit), statusRoute: true })
  if (order === 'under-pressure first') {
    await registerUP()
    await registerUs()
  } else {
    await registerUs()
    await registerUP()
  }
  app.get('/', async () => 'ok')
  await app.ready()
  return app
}

for (const order of ORDERS) {
  t.test(`${order}: successes taken under pressure count as drops`, async t => {
    const app = await build(order, {
      healthCheck: async () => false,
      exposeStatusRoute: { url: '/health', routeOpts: { config: { adaptiveConcurrency: false } } },
      pressureHandler: () => {} // let requests through, so only our classification sees the pressure
    })
    t.teardown(() => app.close())
    const res = await app.inject('/')
    t.equal(res.statusCode, 200)
    await settle()
    t.equal(app.concurrency.dropped, 1)
    t.equal(app.concurrency.succeeded, 0)
  })

  t.test(`${order}: no pressure, plain successes; snapshot carries memoryUsage(); both status routes answer`, async t => {
    const app = await build(order, {
      maxHeapUsedBytes: Number.MAX_SAFE_INTEGER,
      exposeStatusRoute: { url: '/health', routeOpts: { config: { adaptiveConcurrency: false } } }
    })
    t.teardown(() => app.close())
    t.equal((await app.inject('/')).statusCode, 200)
    await settle()
    t.equal(app.concurrency.succeeded, 1)
    const ours = await app.inject('/status')
    t.equal(ours.statusCode, 200)
    t.match(ours.json(), {
      succeeded: 1,
      underPressure: { eventLoopDelay: Number, rssBytes: Number, heapUsed: Number, eventLoopUtilized: Number, underPressure: false }
    })
    t.same(app.concurrency.snapshot().underPressure && Object.keys(app.concurrency.snapshot().underPressure ?? {}).sort(),
      ['eventLoopDelay', 'eventLoopUtilized', 'heapUsed', 'rssBytes', 'underPressure'])
    const theirs = await app.inject('/health')
    t.same([theirs.statusCode, theirs.json()], [200, { status: 'ok' }])
    t.equal(app.concurrency.admitted, 1, 'neither status route is counted')
  })
}

t.test('under-pressure first: its rejections never take a permit', async t => {
  const app = await build('under-pressure first', { healthCheck: async () => false, healthCheckInterval: 60_000 })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  t.equal(res.statusCode, 503)
  t.equal(res.json().code, 'FST_UNDER_PRESSURE')
  await settle()
  t.same([app.concurrency.admitted, app.concurrency.rejected, app.concurrency.dropped], [0, 0, 0])
})

t.test('adaptive-concurrency first: its rejections are admitted requests that end as drops', async t => {
  const app = await build('adaptive-concurrency first', { healthCheck: async () => false, healthCheckInterval: 60_000 })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  t.equal(res.json().code, 'FST_UNDER_PRESSURE')
  await settle()
  t.same([app.concurrency.admitted, app.concurrency.dropped], [1, 1])
})

t.test('without under-pressure the snapshot has no underPressure field', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1) })
  t.teardown(() => app.close())
  await app.ready()
  t.equal(app.concurrency.snapshot().underPressure, undefined)
})
