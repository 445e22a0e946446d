// Partitions through the plugin: by request, by route config, priority in the queue, status.
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { recordingAlgorithm } from '../plugin/helpers'
import type { RouteConcurrencyConfig } from '../../lib/types'
import { heldApp, inHandler, queued } from './helpers'

const partitionByHeader = (request: { headers: Record<string, unknown> }): string | undefined => {
  const v = request.headers['x-class']
  return typeof v === 'string' ? v : undefined
}

t.test('partitions.choose(request): a partition at its share is refused while another still gets in', async t => {
  const h = await heldApp(2, { queue: false, partitions: { shares: { live: 0.5, batch: 0.5 }, choose: partitionByHeader }, statusRoute: true })
  t.teardown(() => h.app.close())
  const b1 = h.send('b1', { 'x-class': 'batch' })
  const b2 = h.send('b2', { 'x-class': 'batch' })
  await inHandler(h, 2)
  const refused = await h.send('b3', { 'x-class': 'batch' })
  t.equal(refused.statusCode, 503)
  t.match(refused.json().message, /\(partition\)$/)
  const live = h.send('l1', { 'x-class': 'live' })
  await inHandler(h, 3)
  t.equal(h.app.concurrency.inflight, 3, 'live gets its guaranteed permit over the limit')
  const unknown = h.send('u1', { 'x-class': 'nope' })
  await inHandler(h, 4)
  t.equal(h.app.concurrency.inflight, 4, 'an undeclared name is served as default, which holds its own 1 permit')
  const res = await h.app.inject('/status')
  const body = res.json()
  t.match(body.partitions, {
    live: { share: 0.5, limit: 1, inflight: 1, admitted: 1, rejected: 0 },
    batch: { share: 0.5, limit: 1, inflight: 2, admitted: 2, rejected: 1 },
    default: { share: 0, limit: 1, inflight: 1, admitted: 1 }
  })
  t.equal(body.unknownPartitions, 1, 'x-class: nope went to default')
  for (const id of ['b1', 'b2', 'l1', 'u1']) if (h.held.has(id)) await h.finish(id)
  for (const res of await Promise.all([b1, b2, live, unknown])) t.equal(res.statusCode, 200)
  t.equal(h.app.concurrency.inflight, 0)
})

t.test('priority: queued requests of the first-declared partition are served first', async t => {
  const h = await heldApp(2, {
    queue: { size: 10, timeout: 60_000, order: 'fifo' },
    partitions: { shares: { critical: 0.5, batch: 0.5 }, choose: partitionByHeader }
  })
  t.teardown(() => h.app.close())
  const running = ['b1', 'b2'].map(id => h.send(id, { 'x-class': 'batch' }))
  await inHandler(h, 2)
  running.push(h.send('c0', { 'x-class': 'critical' })) // critical's guaranteed 1, over the limit
  await inHandler(h, 3)
  const waiting = [
    h.send('b3', { 'x-class': 'batch' }),
    h.send('c1', { 'x-class': 'critical' }),
    h.send('b4', { 'x-class': 'batch' }),
    h.send('c2', { 'x-class': 'critical' })
  ]
  await queued(h, 4)
  for (const id of ['c0', 'b1', 'b2']) await h.finish(id)
  for (const id of ['c1', 'c2', 'b3', 'b4']) {
    await inHandler(h, 1)
    if (h.held.has(id)) await h.finish(id)
  }
  for (const id of [...h.held.keys()]) await h.finish(id)
  t.same(h.started.slice(3), ['c1', 'c2', 'b3', 'b4'], 'critical waiters first, though batch came first')
  for (const res of await Promise.all([...running, ...waiting])) t.equal(res.statusCode, 200)
  t.equal(h.app.concurrency.inflight, 0)
  t.same(h.app.concurrency.snapshot().partitions?.critical.admitted, 3)
})

t.test('a full queue evicts a batch waiter for a critical request: the evicted one gets its 503 queue-full', async t => {
  const h = await heldApp(2, {
    queue: { size: 1, timeout: 60_000 },
    partitions: { shares: { critical: 0.5, batch: 0.5 }, choose: partitionByHeader },
    statusRoute: true
  })
  t.teardown(() => h.app.close())
  const running = [h.send('b1', { 'x-class': 'batch' }), h.send('b2', { 'x-class': 'batch' })]
  await inHandler(h, 2)
  running.push(h.send('c0', { 'x-class': 'critical' })) // critical's guaranteed permit, over the limit
  await inHandler(h, 3)
  const evicted = h.send('b3', { 'x-class': 'batch' })
  await queued(h, 1)
  const c1 = h.send('c1', { 'x-class': 'critical' })
  const res = await evicted
  t.equal(res.statusCode, 503, 'the batch waiter is answered at once')
  t.match(res.json(), { code: 'FST_CONCURRENCY_LIMIT_EXCEEDED', message: /\(queue-full\)$/ })
  t.ok(res.headers['retry-after'], 'with Retry-After')
  t.equal(h.app.concurrency.limiter.queue?.length, 1, 'c1 took its place')
  t.equal((await h.send('b4', { 'x-class': 'batch' })).json().message.endsWith('(queue-full)'), true, 'a batch arrival is refused')
  for (const id of ['b1', 'b2']) await h.finish(id)
  await inHandler(h, 2)
  t.same(h.started.slice(3), ['c1'], 'c1 is served once a permit frees up')
  for (const id of [...h.held.keys()]) await h.finish(id)
  for (const r of await Promise.all([...running, c1])) t.equal(r.statusCode, 200)
  const status = (await h.app.inject('/status')).json()
  t.match(status.partitions, { critical: { admitted: 2, rejected: 0 }, batch: { admitted: 2, rejected: 2 } })
  t.match(status.queue, { evicted: 1, rejectedFull: 1, enqueued: 2, granted: 1 })
  t.equal(status.rejected, 2)
  t.equal(h.app.concurrency.inflight, 0)
})

t.test('route config names the partition; it wins over partitions.choose(request)', async t => {
  const h = await heldApp(1, { queue: false, partitions: { shares: { reports: 0.5, api: 0.5 }, choose: () => 'api' } }, app => {
    app.get('/report', { config: { adaptiveConcurrency: { partition: 'reports' } } }, async () => 'r')
  })
  t.teardown(() => h.app.close())
  const running = h.send('a1')
  await inHandler(h, 1)
  const refused = await h.send('a2')
  t.match(refused.json().message, /\(partition\)$/, 'api is at its 1 permit')
  const report = await h.app.inject('/report')
  t.equal(report.statusCode, 200, 'the route is in reports, below its guaranteed permit')
  const s = h.app.concurrency.snapshot().partitions
  t.same([s?.reports.admitted, s?.api.admitted, s?.api.rejected], [1, 1, 1])
  await h.finish('a1')
  await running
})

t.test('an undeclared partition in route config fails ready(), naming the route', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1), partitions: { shares: { api: 0.5 } } })
  t.throws(() => app.get('/x', { config: { adaptiveConcurrency: { partition: 'typo' } } }, async () => 'x'), {
    code: 'FST_CONCURRENCY_INVALID_OPTION',
    message: /config\.adaptiveConcurrency\.partition \(GET \/x\).*unknown partition "typo"; declared partitions: api, default/
  })
  await app.close()
  const inner = Fastify()
  await inner.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1), partitions: { shares: { api: 0.5 } } })
  inner.register(async function routes (scope) {
    scope.get('/y', { config: { adaptiveConcurrency: { partition: 'typo' } } }, async () => 'y')
  })
  await t.rejects(async () => { await inner.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /\(GET \/y\)/ })
  const none = Fastify()
  await none.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1) })
  t.throws(() => none.get('/z', { config: { adaptiveConcurrency: { partition: 'api' } } }, async () => 'z'), /needs the `partitions` option/)
  none.get('/plain', { config: { adaptiveConcurrency: {} as RouteConcurrencyConfig } }, async () => 'ok') // JavaScript users
  t.equal((await none.inject('/plain')).statusCode, 200, 'an empty object is fine')
  await none.close()
})

t.test('plugin options: shares over 1, a chooser without shares, bad retryAfter, old names', async t => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ partitions: { shares: { a: 0.7, b: 0.5 } } }, /"partitions\.shares": shares must sum to at most 1, got 1\.2/],
    [{ partitions: { choose: () => 'a' } }, /"partitions\.shares": required/],
    [{ rejection: { retryAfter: 'soon' } }, /"rejection\.retryAfter": expected an integer in \[0, 86400\] or 'auto', got "soon"/],
    [{ queue: { size: -1 } }, /"queue\.size"/],
    [{ queue: { size: 0, maxEstimatedWait: 10 } }, /needs queue\.size >= 1/],
    [{ partition: () => 'a' }, /"partition": unknown option/]
  ]
  for (const [opts, message] of cases) {
    const app = Fastify()
    app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1), ...opts } as never)
    await t.rejects(async () => { await app.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message }, JSON.stringify(opts))
  }
})
