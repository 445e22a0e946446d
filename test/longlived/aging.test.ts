// Ageing: when the limit is full, the oldest permits are looked at first. A request of a route
// never seen fast that has held its permit for `signal.longLivedAfter` gives it back and teaches
// its route; a route that was fast keeps its old requests counted (a hung downstream).
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { kInternal } from '../../lib/internal'
import { AgingList, type Aging } from '../../lib/longlived/aging'
import { Permit } from '../../lib/limiter/permit'
import { SampleClass } from '../../lib/limiter/sample-classes'
import { LongLivedRoute } from '../../lib/longlived/tracker'
import { FakeTimers } from '../limiter/fake-timers'
import { latch, recordingAlgorithm, until } from '../plugin/helpers'
import { PROTOCOLS, appFor, connectClient } from '../plugin/protocols'
import type { AddressInfo } from 'node:net'

interface Item extends Aging { name: string }

function item (name: string, start: number, route: LongLivedRoute | undefined): Item {
  return { name, permit: new Permit(start, 1, undefined, null), route, older: undefined, newer: undefined, aging: false }
}

/**
 * An app at a limit of `limit` (the recording algorithm) on a fake clock: `/poll` waits for
 * `event`, `/work` takes 25 ms of that clock.
 */
async function pollApp (t: Test, limit: number): Promise<{
  app: FastifyInstance
  timers: FakeTimers
  event: ReturnType<typeof latch>
  algorithm: ReturnType<typeof recordingAlgorithm>
}> {
  const timers = new FakeTimers(1000)
  const algorithm = recordingAlgorithm(limit)
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, [kInternal]: { timers } } as never)
  const event = latch()
  app.get('/poll', async () => { await event.wait(); return 'event' })
  app.get('/work', async () => { timers.time += 25; return 'done' })
  await app.ready()
  t.teardown(() => app.close())
  return { app, timers, event, algorithm }
}

/**
 * `rounds` rounds of `perRound` polls that fill the limit and grow old (1.5 s): a request to
 * `/work` then ages them out, and each teaches its route a sample. Returns the open polls.
 */
async function teach (t: Test, app: FastifyInstance, timers: FakeTimers, event: ReturnType<typeof latch>, rounds: number, perRound: number): Promise<Array<Promise<unknown>>> {
  const polls: Array<Promise<unknown>> = []
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < perRound; i++) polls.push(app.inject('/poll'))
    await event.arrived(perRound * (round + 1))
    timers.time += 1500
    t.equal((await app.inject('/work')).statusCode, 200)
  }
  return polls
}

t.test('AgingList: oldest first, converts only old requests of never-fast routes, each looked at once', async t => {
  const poll = new LongLivedRoute('GET /poll', undefined, new SampleClass('GET /poll'))
  const fastCls = new SampleClass('GET /work')
  for (let i = 0; i < 20; i++) fastCls.observe(25, false, false)
  t.equal(fastCls.mayBeLongLived, false, 'a 25 ms route')
  const work = new LongLivedRoute('GET /work', undefined, fastCls)
  const declaredNo = new LongLivedRoute('GET /report', false, new SampleClass('GET /report'))
  const list = new AgingList<Item>(1000)
  const a = item('a', 0, poll)
  const b = item('b', 100, work)
  const c = item('c', 200, declaredNo)
  const d = item('d', 300, poll)
  const e = item('e', 900, poll)
  for (const i of [a, b, c, d, e]) list.link(i)
  const converted: Array<[string, number]> = []
  const convert = (i: Item, age: number): void => { converted.push([i.name, age]) }
  t.equal(list.reclaim(999, convert), 0, 'nothing is old yet')
  t.ok(a.aging)
  t.equal(list.reclaim(1350, convert), 2)
  t.same(converted, [['a', 1350], ['d', 1050]], 'the old polls, with their ages; the young one stops the walk')
  t.same([a, b, c, d].map(i => i.aging), [false, false, false, false], 'old requests leave the list, converted or not')
  t.ok(e.aging, 'the young request stays')
  converted.length = 0
  t.equal(list.reclaim(5000, convert), 1)
  t.same(converted, [['e', 4100]], 'the fast route and the declared one are never looked at again')
  t.notOk(list.active)
})

t.test('which classes may have long-lived requests', async t => {
  t.equal(new SampleClass('new').mayBeLongLived, true, 'no baseline yet')
  const early = new SampleClass('GET /poll')
  // Polls whose first answers came early (clients connected over the first second): 75 ms to 1.5 s.
  for (let i = 0; i < 20; i++) early.observe(75 * (i + 1), false, false)
  t.equal(early.longLived, false, 'a fast window: not learned from it')
  t.ok(early.baseline >= 250 && early.baseline < 1000, `a baseline of its own of hundreds of ms (${early.baseline})`)
  t.equal(early.mayBeLongLived, true)
  const report = new SampleClass('GET /report')
  for (let i = 0; i < 160; i++) report.observe(400, false, false)
  t.equal(report.mayBeLongLived, false, 'latched ordinary after 8 fast windows, however slow its baseline')
})

t.test('AgingList: unlink from the middle and the ends; Infinity links nothing', async t => {
  const route = new LongLivedRoute('GET /poll', undefined, new SampleClass('GET /poll'))
  const list = new AgingList<Item>(10)
  const items = ['a', 'b', 'c', 'd'].map((n, i) => item(n, i, route))
  for (const i of items) list.link(i)
  list.unlink(items[1])
  list.unlink(items[3])
  list.unlink(items[3])
  const seen: string[] = []
  list.reclaim(100, (i) => { seen.push(i.name) })
  t.same(seen, ['a', 'c'])
  const never = new AgingList<Item>(Infinity)
  const x = item('x', 0, route)
  never.link(x)
  t.notOk(never.active)
  t.notOk(x.aging)
})

t.test('through the plugin: undeclared polls give their permits back once old, and their route is learned', async t => {
  const { app, timers, event, algorithm } = await pollApp(t, 2)
  const polls: Array<Promise<unknown>> = []
  for (let round = 0; round < 5; round++) {
    polls.push(app.inject('/poll'), app.inject('/poll'))
    await event.arrived(2 * (round + 1))
    t.equal(app.concurrency.inflight, 2, 'two polls hold the limit')
    if (round === 0) {
      // The default queue holds the request: young polls are not given up, nobody is served, and
      // after an interval the queue is standing and refuses it.
      const young = app.inject('/work')
      await new Promise(resolve => setImmediate(resolve))
      t.equal(app.concurrency.limiter.queue?.length, 1, 'young polls are not given up: the request waits')
      timers.advance(250)
      t.equal((await young).statusCode, 503, 'and is refused once the queue stood for an interval')
      timers.time += 1250
    } else {
      timers.time += 1500
    }
    t.equal((await app.inject('/work')).statusCode, 200, 'old polls gave their permits back')
  }
  t.equal(app.concurrency.longLived.waiting, 10)
  t.same(app.concurrency.longLived.routes['GET /poll'], { open: 10, longLived: 'learned' }, 'half a window of their ages taught the route')
  t.equal(app.concurrency.inflight, 0)
  polls.push(app.inject('/poll'))
  await event.arrived(11)
  t.equal(app.concurrency.inflight, 0, 'the next poll is admitted as long-lived')
  t.equal(app.concurrency.longLived.waiting, 11)
  event.open()
  await Promise.all(polls)
  t.equal(app.concurrency.rejected, 1)
  t.equal(algorithm.samples.filter(s => s.rtt >= 1000).length, 0, 'no poll fed the algorithm')
})

t.test('through the plugin: a poll whose route is learned between its arrival and its permit is admitted long-lived', async t => {
  const { app, timers, event, algorithm } = await pollApp(t, 2)
  // 8 samples of age: two short of half a window.
  const polls = await teach(t, app, timers, event, 4, 2)
  polls.push(app.inject('/poll'), app.inject('/poll'))
  await event.arrived(10)
  timers.time += 1500
  t.equal(app.concurrency.longLived.routes['GET /poll'].longLived, 'no', 'not learned yet')
  // A third poll arrives as an ordinary request and finds the limit full of old polls: their
  // ages make half a window, the route is learned, and the poll takes a freed permit.
  polls.push(app.inject('/poll'))
  await event.arrived(11)
  t.equal(app.concurrency.longLived.routes['GET /poll'].longLived, 'learned')
  t.equal(app.concurrency.inflight, 0, 'the third poll holds no permit')
  t.equal(app.concurrency.longLived.waiting, 11)
  event.open()
  await Promise.all(polls)
  t.equal(app.concurrency.rejected, 0)
  t.equal(algorithm.samples.filter(s => s.rtt >= 1000).length, 0, 'no poll fed the algorithm')
})

t.test('through the plugin: once ageing teaches the route, its younger polls give their permits back too', async t => {
  const { app, timers, event } = await pollApp(t, 4)
  // 8 samples of age: two short of half a window.
  const polls = await teach(t, app, timers, event, 2, 4)
  polls.push(app.inject('/poll'), app.inject('/poll'))
  await event.arrived(10)
  timers.time += 1500
  polls.push(app.inject('/poll'), app.inject('/poll'))
  await event.arrived(12)
  t.equal(app.concurrency.inflight, 4, 'two old polls and two young ones hold the limit')
  t.equal((await app.inject('/work')).statusCode, 200)
  t.equal(app.concurrency.longLived.routes['GET /poll'].longLived, 'learned', 'the two old ones made half a window')
  t.equal(app.concurrency.inflight, 0, 'the young polls gave their permits back as their route was learned')
  t.equal(app.concurrency.longLived.waiting, 12)
  event.open()
  await Promise.all(polls)
  t.equal(app.concurrency.rejected, 0)
})

for (const protocol of PROTOCOLS) {
  t.test(`${protocol}: polls whose answers teach their route release the permits of those still waiting`, async t => {
    const timers = new FakeTimers(1000)
    const app = appFor(protocol)
    await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(25), eventLoop: false, [kInternal]: { timers } } as never)
    const early = latch()
    const late = latch()
    app.get('/poll', async (request) => {
      await ((request.query as { late?: string }).late === undefined ? early : late).wait()
      return 'event'
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    const client = connectClient(protocol, (app.server.address() as AddressInfo).port)
    t.teardown(async () => { client.close(); await app.close() })
    const first = Array.from({ length: 20 }, () => client.request('/poll').reply)
    await early.arrived(20)
    const last = client.request('/poll?late=1').reply
    await late.arrived(1)
    t.equal(app.concurrency.inflight, 21, 'the limit has room: nothing is aged')
    timers.time += 1500
    early.open()
    t.ok((await Promise.all(first)).every(r => r?.status === 200))
    t.equal(app.concurrency.longLived.routes['GET /poll'].longLived, 'learned', 'twenty answers of 1.5 s')
    t.equal(app.concurrency.inflight, 0, 'the poll still waiting gave its permit back')
    t.equal(app.concurrency.longLived.waiting, 1)
    late.open()
    t.equal((await last)?.status, 200)
    await until(() => app.concurrency.longLived.waiting === 0)
    t.equal(app.concurrency.limiter.admitted, app.concurrency.limiter.succeeded + app.concurrency.limiter.dropped + app.concurrency.limiter.ignored, 'every permit released once')
  })
}

t.test('through the plugin: a route that was fast and hangs keeps its permits (overload), as does one declared not long-lived', async t => {
  const timers = new FakeTimers(1000)
  const app = Fastify()
  // No queue: a request at the limit is refused at once, so the refusal shows who holds the limit.
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(2), eventLoop: false, queue: false, [kInternal]: { timers } } as never)
  const hang = latch()
  const reporting = latch()
  let hung = false
  app.get('/work', async () => { if (hung) await hang.wait(); else timers.time += 25; return 'done' })
  app.get('/report', { config: { adaptiveConcurrency: { longLived: false } } }, async () => { await reporting.wait(); return 'report' })
  await app.ready()
  t.teardown(() => app.close())
  for (let i = 0; i < 20; i++) t.equal((await app.inject('/work')).statusCode, 200)
  hung = true
  const held = [app.inject('/work'), app.inject('/work')]
  await hang.arrived(2)
  timers.time += 30_000
  t.equal((await app.inject('/work')).statusCode, 503, 'the hung requests still hold the limit')
  t.equal(app.concurrency.inflight, 2)
  t.equal(app.concurrency.longLived.waiting, 0)
  hang.open()
  await Promise.all(held)

  const reports = [app.inject('/report'), app.inject('/report')]
  await reporting.arrived(2)
  timers.time += 30_000
  t.equal((await app.inject('/report')).statusCode, 503, 'a route declared longLived: false is never given up')
  t.equal(app.concurrency.inflight, 2)
  reporting.open()
  await Promise.all(reports)
})
