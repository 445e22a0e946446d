// Gradient2 with a view of the other processes on its backend (the `coordination` option): the
// budget they share, a start from a share of it, and local control when the view is gone.
import t from 'tap'
import { Gradient2Limit, isCoordinated, type PeerView } from '../../lib/algorithms'
import { runMultiSender, seeded } from '../limiter/multi-sender-model'
import { coordinatedEvery } from '../coordination/model'

const view = (v: Partial<PeerView>): PeerView => ({ processes: 1, totalLimit: 20, medianLimit: 20, settledLimit: NaN, share: NaN, rank: 0, warming: false, lent: 0, borrowers: 0, ...v })

t.test('Gradient2 can share a budget; the others cannot', async t => {
  t.ok(isCoordinated(new Gradient2Limit()))
})

t.test('processes that start together split initialLimit', async t => {
  const g = new Gradient2Limit({ initialLimit: 20 })
  t.same(g.report(), { limit: 20, settled: false, warming: true, spare: NaN })
  g.coordinate(view({ processes: 8, totalLimit: 160 }))
  t.equal(g.report().limit, 2.5)
  t.equal(g.limit, 2)
  t.equal(g.state().peers, 8)
})

/** Light traffic (1 in flight: the limit holds) until the algorithm has learned its baseline. */
function settle (g: Gradient2Limit): void {
  for (let i = 0; !g.report().settled; i++) g.onSample({ rtt: 10, inflight: 1, dropped: false, at: 1_700_000_000_000 + i })
}

t.test('a process joining a settled group starts at a settled peer\'s limit, then stays within 5 % under the group\'s median', async t => {
  const g = new Gradient2Limit({ initialLimit: 20 })
  g.coordinate(view({ processes: 4, totalLimit: 35, medianLimit: 5, settledLimit: 5 }))
  t.equal(g.limit, 5)
  t.equal(g.state().slowStart, 'off', 'no doubling from a share')
  settle(g)
  t.equal(g.report().limit, 5)
  g.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 4.5 }))
  t.equal(g.report().limit, 4.5, 'above the median: down to it')
  g.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 4.7 }))
  t.equal(g.report().limit, 4.5, 'within 5 % below it: kept')
  g.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 6 }))
  t.ok(Math.abs(g.report().limit - 5.7) < 1e-9, 'further below: up to 0.95 x the median')
})

t.test('alone, or without a view, nothing changes but the headroom split', async t => {
  const g = new Gradient2Limit({ initialLimit: 20 })
  g.coordinate(view({ processes: 1, totalLimit: 20, medianLimit: 20 }))
  t.equal(g.limit, 20)
  settle(g)
  g.coordinate(view({ processes: 2, totalLimit: 40, medianLimit: 20 }))
  t.equal(g.state().peers, 2)
  t.equal(g.limit, 20)
  g.coordinate(undefined)
  t.equal(g.state().peers, 1, 'local control')
  t.equal(g.limit, 20)
})

t.test('a coordinated group tolerates 70 % of the queue one process does', async t => {
  // No probe in the way (it would re-measure 13 as the no-load latency), no doubling.
  const options = { initialLimit: 20, slowStart: false, probeInterval: 100_000 }
  const alone = new Gradient2Limit(options)
  const grouped = new Gradient2Limit(options)
  settle(alone)
  settle(grouped)
  const start = alone.report().limit
  t.equal(grouped.report().limit, start)
  grouped.coordinate(view({ processes: 4, totalLimit: 4 * start, medianLimit: start }))
  // 1.3 x the no-load latency (10): within noLoadTolerance 1.35, beyond the group's 1.245. The
  // first samples only bring the recent mean (half a round trip) up to 1.3; then each step shows.
  const feed = (g: Gradient2Limit, n: number): number => {
    for (let i = 0; i < n; i++) g.onSample({ rtt: 13, inflight: g.limit, dropped: false })
    return g.report().limit
  }
  const aloneBefore = feed(alone, 40)
  const groupedBefore = feed(grouped, 40)
  const aloneAfter = feed(alone, 10)
  const groupedAfter = feed(grouped, 10)
  t.ok(aloneAfter > aloneBefore, `alone it grows: ${aloneBefore} -> ${aloneAfter}`)
  t.ok(groupedAfter < groupedBefore, `in a group it shrinks: ${groupedBefore} -> ${groupedAfter}`)
  grouped.coordinate(undefined)
  const back = grouped.report().limit
  t.ok(feed(grouped, 10) > back, 'back on local control, the tolerance is its own again')
})

// The model of test/limiter/multi-sender.test.ts with a perfect coordination channel.
function coordinated (n: number, load: number, seed = 1): ReturnType<typeof runMultiSender> {
  const senders = Array.from({ length: n }, () => ({ algorithm: new Gradient2Limit() }))
  return runMultiSender({
    senders,
    slots: 16,
    serviceMs: 25,
    jitter: 0.2,
    rate: 0.64 * load,
    durationMs: 12_000,
    warmupMs: 5000,
    rand: seeded(seed),
    every: coordinatedEvery(senders)
  })
}

const spreadOf = (r: ReturnType<typeof runMultiSender>): number => Math.max(...r.limits) / Math.min(...r.limits)

t.test('with a shared budget the queue and the limits do not depend on N', async t => {
  for (const load of [2, 5]) {
    const one = coordinated(1, load)
    for (const n of [2, 4, 8]) {
      const r = coordinated(n, load)
      // The spread of limits as the benchmark states it, a median of 3 runs: one run of this
      // model is chaotic (a change in the fourth digit of one sample moves its spread by 10 %).
      const spread = [r, coordinated(n, load, 2), coordinated(n, load, 3)].map(spreadOf).sort((a, b) => a - b)[1]
      const summary = `${load}x, ${n} processes: queue ${r.queue.toFixed(1)} (1: ${one.queue.toFixed(1)}), p50 ${r.p50.toFixed(1)} ms, ` +
        `throughput ${(r.throughput / 0.64 * 100).toFixed(1)} %, limits ${r.limits.map((l) => l.toFixed(1)).join(', ')}; median spread ${spread.toFixed(2)}`
      t.ok(r.queue <= one.queue + 2.5, summary)
      // Limits of about 3 are integers (dithered): at N = 8 their averages differ by up to 30 %.
      const bound = n === 8 ? 1.3 : 1.25
      t.ok(spread <= bound, `limits within ${Math.round((bound - 1) * 100)} %: ${summary}`)
      t.ok(r.throughput >= 0.92 * 0.64, `at least 92 % of capacity: ${summary}`)
    }
  }
})

t.test('a rolling deploy (one of 4 replaced every 5 s) keeps the queue of a steady group', async t => {
  const run = (coordinate: boolean): ReturnType<typeof runMultiSender> => {
    const senders: Array<{ joinAt: number, leaveAt?: number, algorithm: Gradient2Limit }> = []
    for (let i = 0; i < 4; i++) senders.push({ joinAt: 0, algorithm: new Gradient2Limit() })
    for (let k = 1; k <= 4; k++) {
      senders[k - 1].leaveAt = k * 5000
      senders.push({ joinAt: k * 5000, algorithm: new Gradient2Limit() })
    }
    return runMultiSender({ senders, slots: 16, serviceMs: 25, jitter: 0.2, rate: 0.64 * 2, durationMs: 24_000, warmupMs: 3000, rand: seeded(1), every: coordinate ? coordinatedEvery(senders) : undefined })
  }
  const local = run(false)
  const shared = run(true)
  const summary = `coordinated: queue ${shared.queue.toFixed(1)}, p99 ${shared.p99.toFixed(1)} ms, throughput ${(shared.throughput / 0.64 * 100).toFixed(1)} %, ` +
    `limits ${shared.limits.map((l) => l.toFixed(1)).join(', ')}; local: queue ${local.queue.toFixed(1)}, p99 ${local.p99.toFixed(1)} ms`
  // A newcomer's route baselines are learned in the group's queue: on its own it grows as if
  // there were none. Held near the group's median, and started at a settled peer's limit, it cannot.
  t.ok(shared.queue <= 6, summary)
  t.ok(Math.max(...shared.limits) / Math.min(...shared.limits) <= 1.25, `every incarnation within 25 %: ${summary}`)
  t.ok(shared.throughput >= 0.93 * 0.64, summary)
})

t.test('a process whose limit turns requests away may use the permits the others leave unused', async t => {
  // No probe in the way, no doubling.
  const options = { initialLimit: 20, slowStart: false, probeInterval: 100_000 }
  /**
   * Samples with `inflight` in flight at each completion: the spare of the next report. `limited`:
   * the limit turned requests away meanwhile (as the Limiter marks samples).
   */
  const load = (g: Gradient2Limit, inflight: number, limited = false, n = 20): void => {
    for (let i = 0; i < n; i++) g.onSample({ rtt: 10, inflight, dropped: false, limited })
  }
  /** Settled, in a group of 4 whose median holds it where it is. */
  const member = (): Gradient2Limit => {
    const g = new Gradient2Limit(options)
    settle(g)
    g.coordinate(view({ processes: 4, totalLimit: 80, medianLimit: 20 }))
    return g
  }
  const alone = new Gradient2Limit(options)
  settle(alone)
  load(alone, 2)
  t.ok(Number.isNaN(alone.report().spare), 'alone: nobody to lend to, nothing counted')
  const full = member()
  load(full, 20, true)
  t.equal(full.report().spare, 0, 'requests turned away: it needs more')
  full.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 5, lent: 3, borrowers: 2 }))
  t.equal(full.state().estimate, 6.5, 'the median plus its part of what is lent')
  load(full, 6, true)
  const estimate = Number(full.state().estimate)
  t.ok(estimate > 6.5, `it grows on: ${estimate}`)
  t.ok(Math.abs(full.report().limit - (estimate - 1.5)) < 0.001, 'it reports its own part: the median does not rise with what it borrowed')
  full.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 5, lent: 0, borrowers: 4 }))
  t.equal(full.state().estimate, 5, 'nothing lent any more: back to the median')

  const busy = member()
  load(busy, 19.5)
  t.ok(Number.isNaN(busy.report().spare), 'just under its limit, nothing turned away: it neither lends nor borrows')
  busy.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 5, lent: 3, borrowers: 2 }))
  t.equal(busy.state().estimate, 5, 'so it takes none of what is lent')
  const once = member()
  load(once, 20, true, 1)
  load(once, 20, false, 19)
  t.equal(once.report().spare, 0, 'one request turned away since the last report is enough')
  load(once, 20)
  t.ok(Number.isNaN(once.report().spare), 'and it is forgotten at the next report')

  const idle = member()
  load(idle, 2)
  t.ok(Math.abs((idle.report().spare ?? NaN) - (Number(idle.state().estimate) - 2)) < 0.001, 'its estimate, 2 in flight')
  idle.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 5, lent: 3, borrowers: 2 }))
  t.equal(idle.state().estimate, 5, 'a process with room to spare borrows nothing')

  const unknown = member()
  unknown.report()
  t.ok(Number.isNaN(unknown.report().spare), 'nothing completed since the last report: unknown')
  unknown.coordinate(view({ processes: 4, totalLimit: 20, medianLimit: 5, lent: 3, borrowers: 2 }))
  t.equal(unknown.state().estimate, 5, 'and nothing borrowed')
})

t.test('uneven traffic: the group keeps the queue of even traffic', async t => {
  const run = (weights: number[], load: number): ReturnType<typeof runMultiSender> => {
    const senders = weights.map((weight) => ({ weight, algorithm: new Gradient2Limit() }))
    return runMultiSender({ senders, slots: 16, serviceMs: 25, jitter: 0.2, rate: 0.64 * load, durationMs: 12_000, warmupMs: 5000, rand: seeded(1), every: coordinatedEvery(senders) })
  }
  // One process offered a tenth of the others' traffic (a newcomer after a rolling deploy), and
  // one offered half of it at 2x. (Not covered: most of the traffic on one process at 1.2-1.5x,
  // where the idle processes' limits, which their algorithms do not move, hold the busy one up
  // through the group's median; see docs/algorithms.md.)
  for (const [weights, load] of [[[1, 1, 1, 0.1], 2], [[1, 1, 1, 0.1], 5], [[4, 1.5, 1.5, 0.5], 2]] as Array<[number[], number]>) {
    const even = run([1, 1, 1, 1], load)
    const uneven = run(weights, load)
    const summary = `weights ${weights.join(', ')} at ${load}x: queue ${uneven.queue.toFixed(1)} (even traffic ${even.queue.toFixed(1)}), throughput ${(uneven.throughput / 0.64 * 100).toFixed(1)} %, limits ${uneven.limits.map((l) => l.toFixed(1)).join(', ')}`
    t.ok(uneven.queue <= even.queue + 1, summary)
    t.ok(uneven.throughput >= 0.95 * 0.64, summary)
  }
})
