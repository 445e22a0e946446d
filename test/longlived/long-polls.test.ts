// Long-polls through the plugin: a declared long-lived route's requests are admitted at the limit
// and then hold no permit (real sockets); an undeclared one is learned from its own no-load
// latency, while a fast route whose downstream hangs keeps counting, and dropping, as overload
// (an injected clock: each handler moves it by its route's latency).
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { kInternal } from '../../lib/internal'
import { FakeTimers } from '../limiter/fake-timers'
import { latch, recordingAlgorithm, until } from '../plugin/helpers'

t.test('declared longLived: five polls wait under a limit of 1, ordinary requests are served, no sample', async t => {
  const algorithm = recordingAlgorithm(1)
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, signal: { sampleClass: false } })
  const event = latch()
  app.get('/poll', { config: { adaptiveConcurrency: { longLived: true } } }, async () => { await event.wait(); return 'event' })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
  const polls = [0, 1, 2, 3, 4].map(() => fetch(`${base}/poll`))
  await event.arrived(5)
  t.equal(app.concurrency.inflight, 0, 'no poll holds a permit')
  t.equal(app.concurrency.longLived.waiting, 5)
  t.same(app.concurrency.longLived.routes['GET /poll'], { open: 5, longLived: 'declared' })
  t.equal((await fetch(`${base}/`)).status, 200, 'an ordinary request is served')
  event.open()
  for (const res of await Promise.all(polls)) t.equal(await res.text(), 'event')
  await until(() => app.concurrency.longLived.open === 0)
  t.equal(app.concurrency.rejected, 0)
  t.equal(algorithm.samples.length, 1, 'only the ordinary request was sampled')
  t.equal(app.concurrency.ignored, 5)
})

t.test('a non-boolean longLived fails at route registration, naming the route', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { eventLoop: false })
  t.teardown(() => app.close())
  t.throws(() => app.get('/x', { config: { adaptiveConcurrency: { longLived: 'yes' as unknown as boolean } } }, async () => 'x'), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /config\.adaptiveConcurrency\.longLived \(GET \/x\).*expected a boolean, got "yes"/ })
})

t.test('learned: an 8 s poll route becomes long-lived; a 25 ms route that hangs for 30 s stays overload', async t => {
  const timers = new FakeTimers(1000)
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(4), eventLoop: false, [kInternal]: { timers } } as never)
  let workLatency = 25
  // Each handler spends its route's latency on the injected clock, so every sample is exact.
  app.get('/poll', async () => { timers.time += 8000; return 'event' })
  app.get('/work', async () => { timers.time += workLatency; return 'done' })
  app.get('/report', { config: { adaptiveConcurrency: { longLived: false } } }, async () => { timers.time += 3000; return 'report' })
  await app.ready()
  t.teardown(() => app.close())
  for (let i = 0; i < 20; i++) {
    await app.inject('/poll')
    await app.inject('/work')
    await app.inject('/report')
  }
  const routes = app.concurrency.longLived.routes
  t.same(routes['GET /poll'], { open: 0, longLived: 'learned' })
  t.equal(routes['GET /work'], undefined, 'a fast route is not long-lived')
  t.equal(routes['GET /report'], undefined, 'a route declared longLived: false is never learned')
  t.equal(app.concurrency.dropped, 0, 'the 8 s polls were no drops: no baseline yet, then 8 s is their usual')
  const admitted = app.concurrency.longLived.admitted
  await app.inject('/poll')
  t.equal(app.concurrency.longLived.admitted, admitted + 1, 'the next poll is admitted as long-lived')
  // The downstream of /work hangs: 30 s per request, far slower than its 25 ms.
  workLatency = 30_000
  for (let i = 0; i < 40; i++) await app.inject('/work')
  t.equal(app.concurrency.dropped, 40, 'every hung request counts as a drop')
  t.equal(app.concurrency.longLived.routes['GET /work'], undefined, 'and the route never becomes long-lived')
})
