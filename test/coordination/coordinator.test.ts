// Coordination through a real Redis: its own redis-server child (started here, as the sessions
// failure tests do), so that it can be slowed down and stopped mid-run. Round trips are driven
// by hand (exchange()); the interval timer is a fake that never fires on its own.
import t from 'tap'
import Redis from 'ioredis'
import Fastify from 'fastify'
import { Coordinator, STALE_INTERVALS, encodeReport, viewOf } from '../../lib/coordination/coordinator'
import type { CoordinatedLimit, PeerReport, PeerView } from '../../lib/algorithms/types'
import type { TimerApi } from '../../lib/limiter/wait-queue'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { redisFor } from '../sessions/redis-server'

const TIMEOUT = 100

/** An algorithm that reports what the test sets and records every view it gets. */
class Recorder implements CoordinatedLimit {
  readonly name = 'recorder'
  limit = 10
  settled = true
  spare = NaN
  views: Array<PeerView | undefined> = []
  onSample (): void {}
  state (): Record<string, number | string> { return {} }
  report (): PeerReport { return { limit: this.limit, settled: this.settled, warming: false, spare: this.spare } }
  coordinate (view: PeerView | undefined): void { this.views.push(view) }
  get last (): PeerView | undefined { return this.views[this.views.length - 1] }
}

// Real timers for the call timeouts; the interval is never armed (setTimer for it is not called
// by exchange(), only by start()).
const timers: TimerApi = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => { clearTimeout(h as NodeJS.Timeout) }
}

t.test('viewOf: the group from the script\'s reply', async t => {
  // limit, settled, requests offered since the last report, warming, spare
  const reply = ['b', '10 1 30 0 0.5', 'a', '6 0 10 1 3.5', 'c', '4 1 60 0 -', 'd', 'garbage', 'e', '5 1 0 0']
  const group = { processes: 3, totalLimit: 20, medianLimit: 6, lent: 2.5, borrowers: 1 }
  t.same(viewOf(reply, 'b'), { ...group, settledLimit: 4, share: 0.3, rank: 1, warming: true })
  t.same(viewOf(reply, 'a'), { ...group, settledLimit: 7, share: 0.1, rank: 0, warming: false })
  t.same(viewOf(['a', '6 0 0 1 -', 'b', '8 0 0 0 -'], 'a'), { processes: 2, totalLimit: 14, medianLimit: 7, settledLimit: NaN, share: NaN, rank: 0, warming: false, lent: 0, borrowers: 0 }, 'no traffic: no share, nothing lent')
  t.equal(viewOf(['a', '6 0 0 1 x', 'b', '8 0 0 0 1'], 'b').processes, 1, 'a spare that is not a number: skipped')
  t.equal(viewOf(null, 'a').processes, 1, 'a reply that is not a list: this process alone')
})

t.test('encodeReport: what viewOf reads', async t => {
  t.equal(encodeReport({ limit: 5.25, settled: true, warming: false, spare: 2 }, 7), '5.25 1 7 0 2')
  t.equal(encodeReport({ limit: 5, settled: false, warming: true, spare: NaN }, 0), '5 0 0 1 -', 'nothing completed: unknown')
  t.equal(encodeReport({ limit: 5, settled: false, warming: true }, 0), '5 0 0 1 -', 'an algorithm of your own that does not say: unknown')
  t.same(viewOf(['a', encodeReport({ limit: 6, settled: true, warming: false, spare: 3 }, 1)], 'b').lent, 2)
})

t.test('against a real Redis', async t => {
  const redis = await redisFor(t, 'coordination tests')
  if (redis === undefined) return
  // No offline queue: while Redis is down, commands fail at once (the error path); the hanging
  // client queues them, so only the timeout answers (the slow path).
  const clients: Redis[] = []
  const client = (options = {}): Redis => {
    const c = new Redis(redis.url, { maxRetriesPerRequest: null, ...options })
    c.on('error', () => {})
    clients.push(c)
    return c
  }
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const errors: Error[] = []
  const make = (algorithm: Recorder, offered: () => number, c = client()): Coordinator =>
    new Coordinator({ client: c, key: 'test:coordination', interval: 1000, timeout: TIMEOUT, algorithm, offered, timers, onError: (err) => { errors.push(err) } })

  const a = new Recorder()
  const b = new Recorder()
  let offeredA = 0
  let offeredB = 0
  const ca = make(a, () => offeredA)
  const cb = make(b, () => offeredB)
  a.limit = 12
  b.limit = 4
  offeredA = 300
  offeredB = 100

  t.test('each process sees the group: count, total, shares, one order', async t => {
    await ca.exchange()
    t.same(a.last, { processes: 1, totalLimit: 12, medianLimit: 12, settledLimit: NaN, share: 1, rank: 0, warming: false, lent: 0, borrowers: 0 }, 'alone so far')
    await cb.exchange()
    t.match(b.last, { processes: 2, totalLimit: 16, medianLimit: 8, settledLimit: 12, share: 0.25 })
    await ca.exchange()
    // a reported no new requests this time: its share of the last reports is 0 of 100.
    t.match(a.last, { processes: 2, totalLimit: 16, medianLimit: 8, settledLimit: 4, share: 0 })
    t.not(a.last?.rank, b.last?.rank, 'different places in the same order')
    t.equal(errors.length, 0)
  })

  t.test('a process that stops leaves the group at once', async t => {
    const c = new Recorder()
    const cc = make(c, () => 0)
    await cc.exchange()
    t.equal(c.last?.processes, 3)
    await cc.stop()
    await ca.exchange()
    t.equal(a.last?.processes, 2)
  })

  t.test('a slow Redis: the round trip is abandoned at the timeout, and no second one is sent behind it', async t => {
    const admin = client()
    const slow = new Recorder()
    const cs = make(slow, () => 0)
    await cs.exchange()
    const views = slow.views.length
    const failed = cs.failed
    // Redis answers no client for 600 ms.
    await admin.client('PAUSE', 600, 'ALL')
    const start = performance.now()
    await cs.exchange()
    const took = performance.now() - start
    t.ok(took >= TIMEOUT - 5 && took < 500, `gave up after ${took.toFixed(0)} ms`)
    await cs.exchange() // the first call is still out: counted as missed, nothing sent
    t.equal(cs.failed, failed + 2)
    t.equal(slow.views.length, views, 'no view and no fallback yet')
    await cs.exchange()
    t.equal(slow.views.length, views + 1)
    t.equal(slow.last, undefined, `after ${STALE_INTERVALS} intervals without an answer: local control`)
    await admin.client('UNPAUSE')
    await cs.stop()
  })

  t.test('Redis stops mid-run: local control after three intervals, the group again once it is back', async t => {
    const failing = client({ enableOfflineQueue: false, maxRetriesPerRequest: 0 })
    const p = new Recorder()
    if (failing.status !== 'ready') await new Promise((resolve) => failing.once('ready', resolve))
    const cp = make(p, () => 0, failing)
    await cp.exchange()
    t.equal(p.last?.processes, 3, 'a, b and this one')
    errors.length = 0
    await redis.stop()
    for (let i = 0; i < STALE_INTERVALS - 1; i++) await cp.exchange()
    t.not(p.last, undefined, 'one or two missed intervals keep the last view')
    await cp.exchange()
    t.equal(p.last, undefined, 'then local control')
    t.equal(errors.length, STALE_INTERVALS, 'each failure reported (the plugin throttles the log)')
    await redis.restart()
    // ioredis reconnects on its own; wait for it, as any app would.
    if (failing.status !== 'ready') await new Promise((resolve) => failing.once('ready', resolve))
    await cp.exchange()
    t.match(p.last, { processes: 1 }, 'Redis came back empty: this process alone until the others report')
    await cp.stop()
  })
})

t.test('the plugin: two apps on one key share a budget; bad options fail ready()', async t => {
  const redis = await redisFor(t, 'coordination plugin tests')
  if (redis === undefined) return
  const clients = [new Redis(redis.url), new Redis(redis.url)]
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const apps = clients.map((client) => {
    const app = Fastify()
    app.register(fastifyAdaptiveConcurrency, { algorithm: { name: 'gradient2', options: { initialLimit: 20 } }, coordination: { client, key: 'test:plugin' } })
    app.get('/', async () => 'ok')
    return app
  })
  t.teardown(() => Promise.all(apps.map((app) => app.close())))
  await apps[0].ready()
  t.equal(apps[0].concurrency.limit, 20, 'alone: initialLimit')
  await apps[1].ready()
  t.equal(apps[1].concurrency.limit, 10, 'a second process starting: initialLimit split (the first has not settled)')
  t.equal(apps[1].concurrency.state.peers, 2)

  for (const [coordination, message] of [
    [{ client: {} }, /coordination\.client.*ioredis client/],
    [{ client: clients[0], interval: 10 }, /coordination\.interval/],
    [{ client: clients[0], interval: 500, timeout: 500 }, /coordination\.timeout/],
    [{ client: clients[0], key: '' }, /coordination\.key/],
    [{ client: clients[0], extra: 1 }, /coordination/]
  ] as const) {
    const app = Fastify()
    app.register(fastifyAdaptiveConcurrency, { coordination: coordination as never })
    await t.rejects(async () => { await app.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message }, JSON.stringify(Object.keys(coordination)))
  }
  const aimd = Fastify()
  aimd.register(fastifyAdaptiveConcurrency, { algorithm: 'aimd', coordination: { client: clients[0] } })
  await t.rejects(async () => { await aimd.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /coordination.*gradient2/ })
})
