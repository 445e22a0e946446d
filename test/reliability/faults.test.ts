// Faults: a burst of downstream errors, a downstream latency spike and a 500 ms
// event-loop block. Each time the limit must react (fall) and then recover to at least 80 % of
// its value before the fault within a stated number of requests.
//
// Deterministic: the plugin runs with its default algorithm (gradient2) and its real wiring, but
// its clock is a fake one (the internal `timers` hook clocks the limiter). Traffic comes in
// waves: exactly `limit` requests are let into the handler together, the fake clock advances by
// the wave's latency, and all of them answer. So every sample has an exact RTT and in-flight
// count, and the same run gives the same numbers on any machine. Recovery is counted in
// requests, not seconds. A second test blocks the real event loop for 500 ms under real socket
// traffic and checks that nothing leaks and the server keeps serving.
import t from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { Agent, request } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { TimerApi } from '../../lib/limiter/wait-queue'
import { kInternal } from '../../lib/internal'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { until } from './helpers'

const NORMAL_RTT = 10
// gradient2 (the default algorithm) with a smaller range than its default [8, 200], so a
// recovery from the floor stays a few thousand requests. Its growth is additive (about
// queueSize * smoothing per fully used round trip), so the time to recover grows with the
// square of the range: see README "Reliability" for the default range.
const ALGORITHM_OPTIONS = { initialLimit: 20, minLimit: 5, maxLimit: 50 }
// Bounds stated by this test: round trips (waves at the full limit) after the fault ends until
// the limit is back at 80 % of its value before the fault. At a 10 ms RTT, 100 round trips are
// 1 s of full load. Measured values are logged; see README "Reliability".
const MAX_RECOVERY_ROUND_TRIPS = { drops: 120, latency: 120, block: 120 }

interface Downstream { rtt: number, fail: boolean, blockMs: number }

class WaveDriver {
  readonly app: FastifyInstance
  readonly clock = { t: 0 }
  readonly downstream: Downstream = { rtt: NORMAL_RTT, fail: false, blockMs: 0 }
  requests = 0
  waves = 0
  private arrived = 0
  private expected = 0
  private open: () => void = () => {}
  private gate: Promise<void> = Promise.resolve()

  constructor () {
    const clock = this.clock
    // Timers that never fire: only their clock is used (there is no queue, and waves never
    // exceed the limit).
    const timers: TimerApi = { now: () => clock.t, setTimer: () => undefined, clearTimer: () => {} }
    this.app = Fastify()
    this.app.register(fastifyAdaptiveConcurrency, {
      algorithm: { name: 'gradient2', options: ALGORITHM_OPTIONS },
      eventLoop: false,
      observability: { logging: false },
      [kInternal]: { timers }
    } as FastifyAdaptiveConcurrencyOptions)
    this.app.get('/work', async (_request, reply) => {
      if (++this.arrived === this.expected) this.open()
      await this.gate
      if (this.downstream.fail) return reply.code(500).send('downstream error')
      return 'ok'
    })
  }

  get limit (): number { return this.app.concurrency.limit }

  /** One wave of exactly `limit` concurrent requests sharing the current downstream behaviour. */
  async wave (): Promise<void> {
    const n = this.limit
    this.arrived = 0
    this.expected = n
    let opened!: () => void
    const allIn = new Promise<void>(resolve => { opened = resolve })
    let release!: () => void
    this.gate = new Promise(resolve => { release = resolve })
    this.open = opened
    const replies = Array.from({ length: n }, () => this.app.inject('/work'))
    await allIn
    if (this.downstream.blockMs > 0) {
      // A real block of the event loop, seen by every request in flight, as it would be.
      const end = performance.now() + this.downstream.blockMs
      while (performance.now() < end) { /* busy */ }
      this.clock.t += this.downstream.blockMs
    }
    this.clock.t += this.downstream.rtt
    release()
    const statuses = (await Promise.all(replies)).map(r => r.statusCode)
    if (statuses.some(s => s !== 200 && s !== 500)) throw new Error(`unexpected statuses ${statuses.join()}`)
    this.requests += n
    this.waves++
    await new Promise(resolve => setImmediate(resolve)) // let the 'close' events release permits
  }

  /** Waves until the limit is back at `target`: the round trips and requests it took (Infinity past `max` waves). */
  async recover (target: number, max: number): Promise<{ waves: number, requests: number }> {
    const start = { waves: this.waves, requests: this.requests }
    while (this.limit < target) {
      if (this.waves - start.waves > max) return { waves: Infinity, requests: Infinity }
      await this.wave()
    }
    return { waves: this.waves - start.waves, requests: this.requests - start.requests }
  }
}

async function faultRun (t: Test, fault: 'drops' | 'latency' | 'block'): Promise<void> {
  const d = new WaveDriver()
  await d.app.ready()
  t.teardown(() => d.app.close())
  // Warm-up: 100 waves at the normal latency; the limit settles (here: at maxLimit).
  for (let i = 0; i < 100; i++) await d.wave()
  const before = d.limit
  // The fault.
  if (fault === 'drops') { d.downstream.fail = true; await d.wave(); d.downstream.fail = false }
  if (fault === 'latency') { d.downstream.rtt = 10 * NORMAL_RTT; for (let i = 0; i < 5; i++) await d.wave(); d.downstream.rtt = NORMAL_RTT }
  if (fault === 'block') { d.downstream.blockMs = 500; await d.wave(); d.downstream.blockMs = 0 }
  const after = d.limit
  const c = d.app.concurrency
  t.equal(c.inflight, 0, 'nothing in flight after the fault')
  t.ok(after < before, `the limit reacted: ${before} -> ${after}`)
  const target = Math.ceil(0.8 * before)
  const max = MAX_RECOVERY_ROUND_TRIPS[fault]
  const took = await d.recover(target, max)
  t.comment(`${fault}: limit ${before} -> ${after}, back at ${d.limit} (>= ${target}) after ${took.waves} round trips, ${took.requests} requests`)
  t.ok(took.waves <= max, `recovered to >= 80 % (${target}) within ${max} round trips: ${took.waves}`)
  t.equal(c.inflight, 0)
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored, 'the counters add up')
}

t.test('a burst of downstream errors (one wave of 500s): the limit backs off, then recovers', t => faultRun(t, 'drops'))
t.test('a downstream latency spike (10x for 5 waves): the limit falls, then recovers', t => faultRun(t, 'latency'))
t.test('a 500 ms event-loop block inside a wave: the limit falls, then recovers', t => faultRun(t, 'block'))

t.test('a 500 ms event-loop block under real socket load: nothing leaks and the server keeps serving', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { observability: { logging: false } })
  app.get('/work', async () => { await new Promise(resolve => setImmediate(resolve)); return 'ok' })
  // The block is the injected fault, not traffic under test: it must run even when the limiter
  // (or the event-loop gate, on a loaded box) is shedding the clients' requests.
  app.get('/block', { config: { adaptiveConcurrency: false } }, async () => {
    const end = performance.now() + 500
    while (performance.now() < end) { /* busy */ }
    return 'blocked'
  })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new Agent({ connections: 32 })
  t.teardown(() => agent.close())
  const statuses = new Map<number, number>()
  let phase: 'before' | 'after' = 'before'
  let okAfter = 0
  const run = { on: true }
  async function client (): Promise<void> {
    while (run.on) {
      const res = await request(`http://127.0.0.1:${port}/work`, { dispatcher: agent })
      await res.body.dump()
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (phase === 'after' && res.statusCode === 200) okAfter++
    }
  }
  const clients = Array.from({ length: 32 }, client)
  await until(() => (statuses.get(200) ?? 0) >= 500)
  const block = await request(`http://127.0.0.1:${port}/block`, { dispatcher: agent })
  t.equal(block.statusCode, 200)
  await block.body.dump()
  phase = 'after'
  await until(() => okAfter >= 1000, 30_000)
  run.on = false
  await Promise.all(clients)
  await until(() => app.concurrency.inflight === 0)
  const c = app.concurrency
  t.comment(`statuses ${JSON.stringify(Object.fromEntries(statuses))}; limit ${c.limit}; rejected ${c.rejected}`)
  t.equal(c.inflight, 0, 'in-flight back to 0')
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored, 'the counters add up')
  t.ok(okAfter >= 1000, 'the server kept serving after the block')
  t.same([...statuses.keys()].filter(s => s !== 200 && s !== 503), [], 'only 200s and rejections (503), never an error')
})
