// The wait queue through the plugin (fastify.inject, hand-driven queue timers).
import t from 'tap'
import { heldApp, inHandler, queued } from './helpers'

function reason (body: string): string | undefined {
  return /\(([a-z-]+)\)$/.exec(JSON.parse(body).message)?.[1]
}

for (const order of ['lifo', 'fifo'] as const) {
  t.test(`${order}: queued requests run in ${order} order once permits free up`, async t => {
    const h = await heldApp(1, { queue: { size: 10, timeout: 1000, order } })
    t.teardown(() => h.app.close())
    const first = h.send('first')
    await inHandler(h, 1)
    const waiting = ['a', 'b', 'c'].map(id => h.send(id))
    await queued(h, 3)
    t.same(h.started, ['first'], 'nobody else ran while queued')
    t.same(h.app.concurrency.snapshot().queue?.length, 3)
    await h.finish('first', 10)
    for (let i = 0; i < 3; i++) await h.finish(h.started[h.started.length - 1], 10)
    t.same(h.started.slice(1), order === 'lifo' ? ['c', 'b', 'a'] : ['a', 'b', 'c'])
    for (const res of await Promise.all([first, ...waiting])) t.equal(res.statusCode, 200)
    const c = h.app.concurrency
    t.same([c.inflight, c.admitted, c.succeeded, c.rejected], [0, 4, 4, 0])
    t.equal(c.snapshot().queue?.granted, 3)
  })
}

t.test('a full queue rejects at once with queue-full', async t => {
  const h = await heldApp(1, { queue: { size: 1, timeout: 1000 } })
  t.teardown(() => h.app.close())
  const first = h.send('first')
  await inHandler(h, 1)
  const waiting = h.send('w')
  await queued(h, 1)
  const res = await h.send('x')
  t.equal(res.statusCode, 503)
  t.equal(reason(res.body), 'queue-full')
  t.equal(res.headers['retry-after'], '1')
  await h.finish('first')
  await h.finish('w')
  t.equal((await waiting).statusCode, 200)
  t.equal((await first).statusCode, 200)
  t.equal(h.app.concurrency.snapshot().queue?.rejectedFull, 1)
})

t.test('a queue timeout answers 503 queue-timeout and the handler never runs', async t => {
  const h = await heldApp(1, { queue: { size: 5, timeout: 200 } })
  t.teardown(() => h.app.close())
  const first = h.send('first')
  await inHandler(h, 1)
  const waiting = h.send('late')
  await queued(h, 1)
  h.timers.advance(199)
  t.equal(h.app.concurrency.limiter.queue?.length, 1)
  h.timers.advance(1)
  const res = await waiting
  t.equal(res.statusCode, 503)
  t.equal(reason(res.body), 'queue-timeout')
  t.match(res.json(), { code: 'FST_CONCURRENCY_LIMIT_EXCEEDED' })
  await h.finish('first')
  t.equal((await first).statusCode, 200)
  t.same(h.started, ['first'])
  const snap = h.app.concurrency.snapshot()
  t.same([snap.inflight, snap.rejected, snap.queue?.timedOut, snap.queue?.length], [0, 1, 0 + 1, 0])
})

t.test('deadline header: malformed is ignored, spent or unreachable is refused at once, expiry while queued', async t => {
  const h = await heldApp(1, { queue: { size: 5, timeout: 1000, deadlineHeader: 'X-Budget-Ms' } })
  t.teardown(() => h.app.close())
  const spent = await h.send('spent', { 'x-budget-ms': '0' })
  t.equal(reason(spent.body), 'deadline', 'a spent budget is refused even below the limit')
  // Malformed values are ignored: these requests run as if they sent nothing.
  for (const bad of ['-5', 'soon', '1e3', '5ms']) {
    const r = h.send(`bad${bad}`, { 'x-budget-ms': bad })
    await inHandler(h, 1)
    await h.finish(`bad${bad}`, 40) // service time learns ~40 ms
    t.equal((await r).statusCode, 200, `'${bad}' ignored`)
  }
  const first = h.send('first')
  await inHandler(h, 1)
  // Estimated wait 40 ms (1 × 40 / limit 1) plus 40 ms of service: 80 ms needed.
  const tight = await h.send('tight', { 'x-budget-ms': '79' })
  t.equal(reason(tight.body), 'deadline', 'unreachable: refused without queueing')
  const waits = h.send('waits', { 'x-budget-ms': '100' })
  await queued(h, 1)
  h.timers.advance(100)
  const expired = await waits
  t.equal(expired.statusCode, 503)
  t.equal(reason(expired.body), 'deadline', 'its deadline passed while queued')
  await h.finish('first')
  await first
  const snap = h.app.concurrency.snapshot()
  t.equal(snap.queue?.deadlineExpired, 1)
  t.same([snap.inflight, snap.rejected], [0, 3])
  // Four 40 ms samples, then 'first' took 100 ms (it held its permit while the waiter expired).
  t.equal(snap.serviceTime, 40 + (1 - Math.pow(2, -1 / 20)) * (100 - 40))
})

t.test('maxEstimatedWait and retryAfter auto', async t => {
  const h = await heldApp(2, { queue: { size: 10, timeout: 60_000, order: 'fifo', maxEstimatedWait: 2500 }, rejection: { retryAfter: 'auto' } })
  t.teardown(() => h.app.close())
  const warm = h.send('warm')
  await inHandler(h, 1)
  await h.finish('warm', 2000) // service time 2 s
  await warm
  const a = h.send('a')
  const b = h.send('b')
  await inHandler(h, 2)
  const w1 = h.send('w1') // estimate 1 × 2000 / 2 = 1000 ms
  const w2 = h.send('w2') // 2000 ms
  await queued(h, 2)
  const refused = await h.send('w3') // 3000 ms > 2500
  t.equal(reason(refused.body), 'estimated-wait')
  t.equal(refused.headers['retry-after'], '3', 'auto: the wait behind the 2 queued, 3 s, rounded up')
  t.equal(h.app.concurrency.snapshot().queue?.estimatedWait, 3000)
  for (const id of ['a', 'b', 'w1', 'w2']) {
    await inHandler(h, 1)
    await h.finish(id)
  }
  for (const res of await Promise.all([a, b, w1, w2])) t.equal(res.statusCode, 200)
  t.equal(h.app.concurrency.inflight, 0)
})

t.test('closing the server answers queued requests with draining', async t => {
  const h = await heldApp(1, { queue: { size: 5, timeout: 60_000 } })
  const first = h.send('first')
  await inHandler(h, 1)
  const waiting = [h.send('a'), h.send('b')]
  await queued(h, 2)
  const closing = h.app.close()
  for (const res of await Promise.all(waiting)) {
    t.equal(res.statusCode, 503)
    t.equal(reason(res.body), 'draining')
  }
  await h.finish('first')
  await first
  await closing
  const c = h.app.concurrency
  t.same([c.inflight, c.rejected, c.limiter.queue?.length], [0, 2, 0])
  t.same(h.started, ['first'])
})

t.test('the status route serves the queue fields through its schema', async t => {
  const h = await heldApp(1, { queue: { size: 3, timeout: 500 }, statusRoute: true })
  t.teardown(() => h.app.close())
  const first = h.send('first')
  await inHandler(h, 1)
  const w = h.send('w')
  await queued(h, 1)
  h.timers.advance(50)
  await h.finish('first', 0)
  h.timers.advance(10_000) // the 10 s window completes at the next read
  const res = await h.app.inject({ url: '/status', headers: { accept: 'application/json' } })
  const body = res.json()
  t.match(body.queue, {
    length: 0,
    size: 3,
    timeout: 500,
    order: 'fifo',
    standingTimeout: 5,
    standing: false,
    standingEpisodes: 0,
    waitCount: 1,
    enqueued: 1,
    granted: 1,
    timedOut: 0,
    deadlineExpired: 0,
    cancelled: 0,
    rejectedFull: 0,
    estimatedWait: 50
  })
  // hdr-histogram keeps 2 significant digits: 50 ms reads back within 1 %.
  t.ok(Math.abs(body.queue.waitP99 - 50) <= 0.5, `the one waiter waited 50 ms (${body.queue.waitP99})`)
  t.equal(body.queue.waitWindow, 10_050)
  t.equal(body.serviceTime, 50, 'the one sample: 50 ms')
  t.same(Object.keys(body.queue).sort(), Object.keys(h.app.concurrency.snapshot().queue ?? {}).sort(), 'the schema keeps every field')
  await h.finish('w')
  await Promise.all([first, w])
})
