// The default queue through the plugin (fastify.inject, hand-driven queue timers): on by default,
// absorbs a burst, turns standing once it stayed non-empty for a whole interval without draining
// (short waits, LIFO), absorbs again an interval after it last shed, and composes with
// partitions, deadlines, sessions and the drain on close.
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { kInternal } from '../../lib/internal'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { FakeTimers } from '../limiter/fake-timers'
import { recordingAlgorithm } from '../plugin/helpers'
import { heldApp, inHandler, queued } from './helpers'
import type { HeldApp } from './helpers'

function reason (body: string): string | undefined {
  return /\(([a-z-]+)\)$/.exec(JSON.parse(body).message)?.[1]
}

const byHeader = (name: string) => (request: { headers: Record<string, unknown> }): string | undefined => {
  const v = request.headers[name]
  return typeof v === 'string' ? v : undefined
}

/** Hold `first` in the handler at limit 1, queue `a` now and `b` 125 ms later, then let 125 ms more pass: standing. */
async function standingApp (t: tap.Test, opts: FastifyAdaptiveConcurrencyOptions = {}): Promise<HeldApp & { first: Promise<unknown>, early: Array<Promise<{ statusCode: number, body: string }>> }> {
  const h = await heldApp(1, { queue: {}, ...opts })
  t.teardown(() => h.app.close())
  const first = h.send('first')
  await inHandler(h, 1)
  const early = [h.send('a')]
  await queued(h, 1)
  h.timers.advance(125)
  early.push(h.send('b'))
  await queued(h, 2)
  h.timers.advance(125)
  return { ...h, first, early }
}

t.test('the queue is on by default, with the documented defaults; queue: false refuses at once', async t => {
  const timers = new FakeTimers(1000)
  const on = Fastify()
  await on.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(0), eventLoop: false, [kInternal]: { timers } } as FastifyAdaptiveConcurrencyOptions)
  on.get('/', async () => 'ok')
  await on.ready()
  t.teardown(() => on.close())
  t.match(on.concurrency.snapshot().queue, { size: 400, timeout: 1000, order: 'fifo', standingTimeout: 5, interval: 250, standing: false, length: 0 })
  const waiting = on.inject('/')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(on.concurrency.limiter.queue?.length, 1, 'a request at the limit waits rather than being refused')
  timers.advance(250)
  const res = await waiting
  t.equal(reason(res.body), 'queue-timeout', 'and is refused once nobody served it for a whole interval: a standing queue')

  const off = Fastify()
  await off.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(0), eventLoop: false, queue: false })
  off.get('/', async () => 'ok')
  await off.ready()
  t.teardown(() => off.close())
  t.equal(off.concurrency.snapshot().queue, undefined)
  t.equal(reason((await off.inject('/')).body), 'limit', 'queue: false: refused at once')
})

t.test('a burst is absorbed: FIFO, every request served, and the algorithm sees service time, not queue wait', async t => {
  const h = await heldApp(1, { queue: {}, signal: { sampleClass: false } })
  t.teardown(() => h.app.close())
  const first = h.send('first')
  await inHandler(h, 1)
  const burst = ['a', 'b', 'c'].map(id => h.send(id))
  await queued(h, 3)
  await h.finish('first', 200) // the burst waits 200 ms
  for (let i = 0; i < 3; i++) await h.finish(h.started[h.started.length - 1], 10)
  t.same(h.started, ['first', 'a', 'b', 'c'], 'oldest first')
  for (const res of await Promise.all([first, ...burst])) t.equal(res.statusCode, 200)
  const rtts = (h.app.concurrency.limiter.algorithm as ReturnType<typeof recordingAlgorithm>).samples.map(s => s.rtt)
  t.same(rtts, [200, 10, 10, 10], 'a waited 200 ms in the queue; its sample is its 10 ms of service')
  t.match(h.app.concurrency.snapshot().queue, { standing: false, standingEpisodes: 0, granted: 3, timedOut: 0 })
})

t.test('a standing queue: waiters older than standingTimeout refused at once, then 5 ms waits, LIFO, then recovery', async t => {
  const h = await standingApp(t)
  for (const res of await Promise.all(h.early)) t.equal(reason(res.body), 'queue-timeout', 'a and b refused when the queue turned standing')
  t.match(h.app.concurrency.snapshot().queue, { standing: true, standingEpisodes: 1, length: 0 }, 'the flush emptied the queue; it shed just now')
  const c = h.send('c')
  await queued(h, 1)
  t.equal(h.app.concurrency.snapshot().queue?.standing, true, 'a backlog that paused: a queue that forms again within an interval of shedding is standing')
  h.timers.advance(5)
  t.equal(reason((await c).body), 'queue-timeout', 'c waited 5 ms')
  const d = h.send('d')
  await queued(h, 1)
  const e = h.send('e')
  await queued(h, 2)
  await h.finish('first')
  t.same(h.started, ['first', 'e'], 'LIFO while standing: the newest waiter got the permit')
  h.timers.advance(5)
  t.equal(reason((await d).body), 'queue-timeout', 'd waited 5 ms')
  t.match(h.app.concurrency.snapshot().queue, { standing: true, standingEpisodes: 1, timedOut: 4, granted: 1 })
  // A whole interval without shedding: a burst is absorbed again, waits longer than standingTimeout.
  h.timers.advance(250)
  t.equal(h.app.concurrency.snapshot().queue?.standing, false)
  const f = h.send('f')
  await queued(h, 1)
  h.timers.advance(200)
  t.equal(h.app.concurrency.snapshot().queue?.standing, false)
  await h.finish('e')
  t.same(h.started, ['first', 'e', 'f'], 'f waited 200 ms and got the permit')
  await h.finish('f')
  for (const res of [await h.first as { statusCode: number }, await e, await f]) t.equal(res.statusCode, 200)
  t.equal(h.app.concurrency.inflight, 0)
})

t.test('explicit timeout, order, standingTimeout and interval compose; standingTimeout: false keeps a plain queue', async t => {
  const h = await heldApp(1, { queue: { timeout: 200, order: 'lifo', standingTimeout: 20, interval: 100 } })
  t.teardown(() => h.app.close())
  t.match(h.app.concurrency.snapshot().queue, { timeout: 200, order: 'lifo', standingTimeout: 20, interval: 100 })
  const first = h.send('first')
  await inHandler(h, 1)
  const a = h.send('a')
  await queued(h, 1)
  h.timers.advance(90)
  const b = h.send('b')
  await queued(h, 2)
  h.timers.advance(10) // t + 100: the interval ends at the queue's peak: standing; a (100 ms) refused, b (10 ms) stays, 20 ms allowed
  t.equal(reason((await a).body), 'queue-timeout')
  t.equal(h.app.concurrency.limiter.queue?.length, 1)
  t.equal(h.app.concurrency.snapshot().queue?.standing, true)
  h.timers.advance(10)
  t.equal(reason((await b).body), 'queue-timeout', 'b waited standingTimeout: 20 ms')
  await h.finish('first')
  await first

  const plain = await heldApp(1, { queue: { timeout: 200, standingTimeout: false } })
  t.teardown(() => plain.app.close())
  t.match(plain.app.concurrency.snapshot().queue, { standingTimeout: false, standing: false })
  const p1 = plain.send('first')
  await inHandler(plain, 1)
  const x = plain.send('x')
  await queued(plain, 1)
  plain.timers.advance(150)
  const y = plain.send('y')
  await queued(plain, 2)
  plain.timers.advance(50) // x times out; y keeps its 200 ms
  t.equal(reason((await x).body), 'queue-timeout')
  t.equal(plain.app.concurrency.limiter.queue?.length, 1)
  await plain.finish('first')
  await plain.finish('y')
  t.equal((await y).statusCode, 200, 'a plain queue never cuts the wait')
  await p1
  t.equal(plain.app.concurrency.snapshot().queue?.standingEpisodes, 0)
})

t.test('partitions: while standing, the first-declared partition is still served first, LIFO inside', async t => {
  const h = await heldApp(2, { queue: {}, partitions: { shares: { critical: 0.5, batch: 0.5 }, choose: byHeader('x-class') } })
  t.teardown(() => h.app.close())
  const running = ['b1', 'b2'].map(id => h.send(id, { 'x-class': 'batch' }))
  await inHandler(h, 2)
  running.push(h.send('c0', { 'x-class': 'critical' })) // critical's guaranteed 1, over the limit
  await inHandler(h, 3)
  const keep = h.send('keep', { 'x-class': 'batch' })
  await queued(h, 1)
  h.timers.advance(248)
  const waiting = [
    h.send('b3', { 'x-class': 'batch' }),
    h.send('c1', { 'x-class': 'critical' }),
    h.send('b4', { 'x-class': 'batch' }),
    h.send('c2', { 'x-class': 'critical' })
  ]
  await queued(h, 5)
  h.timers.advance(2) // standing: keep (250 ms) refused, the four (2 ms old) wait
  t.equal(reason((await keep).body), 'queue-timeout')
  t.equal(h.app.concurrency.snapshot().queue?.standing, true)
  for (const id of ['c0', 'b1', 'b2']) await h.finish(id)
  for (let i = 0; i < 4 && h.held.size > 0; i++) await h.finish(h.started[3 + i])
  t.same(h.started.slice(3), ['c2', 'c1', 'b4', 'b3'], 'critical first, newest first in each partition')
  for (const res of await Promise.all([...running, ...waiting])) t.equal(res.statusCode, 200)
  t.equal(h.app.concurrency.inflight, 0)
})

t.test('deadlines: a standing queue cuts the wait to the earlier of the deadline and standingTimeout', async t => {
  const h = await standingApp(t, { queue: { deadlineHeader: 'x-budget-ms' } })
  await Promise.all(h.early)
  // Within an interval of the backlog's last shed: a queue that forms again is standing at once.
  const short = h.send('short', { 'x-budget-ms': '3' })
  const long = h.send('long', { 'x-budget-ms': '500' })
  await queued(h, 2)
  t.equal(h.app.concurrency.snapshot().queue?.standing, true)
  h.timers.advance(3)
  t.equal(reason((await short).body), 'deadline', 'its own 3 ms budget came first')
  h.timers.advance(2)
  t.equal(reason((await long).body), 'queue-timeout', 'a 500 ms budget is cut to the 5 ms standing timeout')
  t.match(h.app.concurrency.snapshot().queue, { deadlineExpired: 1 })
})

t.test('sessions: an active session\'s request waits in the default queue; new sessions are still shed by the sessions rule', async t => {
  const h = await heldApp(2, { queue: {}, sessions: { key: byHeader('x-user'), idleTimeout: 600_000 } })
  t.teardown(() => h.app.close())
  const alice1 = h.send('alice1', { 'x-user': 'alice' })
  const other = h.send('other')
  await inHandler(h, 2) // at the limit of 2, alice now an active session
  const alice2 = h.send('alice2', { 'x-user': 'alice' })
  await queued(h, 1)
  const bob = await h.send('bob', { 'x-user': 'bob' })
  t.equal(reason(bob.body), 'limit', 'a new session at the limit is refused by the sessions rule, not queued')
  await h.finish('other')
  t.same(h.started, ['alice1', 'other', 'alice2'], 'the waiting active-session request got the freed permit')
  await h.finish('alice1')
  await h.finish('alice2')
  for (const res of await Promise.all([alice1, other, alice2])) t.equal(res.statusCode, 200)
  t.equal(h.app.concurrency.inflight, 0)
})

t.test('closing the server answers the default queue\'s waiters with draining, standing or not', async t => {
  const h = await heldApp(1, { queue: {} })
  const first = h.send('first')
  await inHandler(h, 1)
  const old = h.send('old')
  await queued(h, 1)
  h.timers.advance(248)
  const waiting = [h.send('a'), h.send('b')]
  await queued(h, 3)
  h.timers.advance(2) // standing: old refused, a and b (2 ms) wait
  t.equal(reason((await old).body), 'queue-timeout')
  t.equal(h.app.concurrency.snapshot().queue?.standing, true)
  const closing = h.app.close()
  for (const res of await Promise.all(waiting)) t.equal(reason(res.body), 'draining')
  await h.finish('first')
  await first
  await closing
  const c = h.app.concurrency
  t.same([c.inflight, c.rejected, c.limiter.queue?.length], [0, 3, 0])
})
