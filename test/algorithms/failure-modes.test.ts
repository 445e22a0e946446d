// Fixes for the failure modes users hit with the reference algorithms (README, Algorithms).
// Each case names what it would see without the fix.
import t from 'tap'
import { AIMDLimit, Gradient2Limit, VegasLimit, type LimitAlgorithm } from '../../lib/algorithms'
import { feed, fullUse, last, saturatedQueue } from './helpers'

const adaptive: Array<[string, () => LimitAlgorithm]> = [
  ['aimd', () => new AIMDLimit({ minLimit: 5, initialLimit: 60, slowStart: false })],
  ['vegas', () => new VegasLimit({ minLimit: 5, initialLimit: 60, maxLimit: 200, slowStart: false })],
  ['gradient2', () => new Gradient2Limit({ minLimit: 5, initialLimit: 60, slowStart: false })]
]

t.test('a. drops back off multiplicatively, even when the failures are fast', async t => {
  for (const [name, make] of adaptive) {
    const alg = make()
    feed(alg, 20, fullUse(10))
    const before = alg.limit
    // A failing downstream answers in 1 ms: latency alone looks better than ever
    // (the reference Gradient2 ignores the drop flag and would grow here).
    alg.onSample({ rtt: 1, inflight: before, dropped: true })
    t.ok(alg.limit <= Math.ceil(before * 0.9), `${name}: ${before} -> ${alg.limit}`)
    feed(alg, 50, l => ({ rtt: 1, inflight: l, dropped: true }))
    t.equal(alg.limit, 5, `${name}: a run of drops reaches minLimit`)
  }
})

t.test('b. no collapse: from minLimit back to 80 % of the earlier limit at full use', async t => {
  // Bounds (samples) measured with these settings, with margin; the reference Vegas stuck at
  // its floor and Gradient2's growth per round trip are what the bounds guard. Vegas divides
  // each increase among the rttWindow (50) samples of its average: + beta / 50 per sample.
  const bound: Record<string, number> = { aimd: 100, vegas: 500, gradient2: 2000 }
  for (const [name, make] of adaptive) {
    const alg = make()
    feed(alg, 50, fullUse(10))
    const earlier = alg.limit
    feed(alg, 60, l => ({ rtt: 10, inflight: l, dropped: true }))
    t.equal(alg.limit, 5, `${name} driven to minLimit`)
    const seen = feed(alg, bound[name], fullUse(10))
    const at = seen.findIndex(l => l >= 0.8 * earlier)
    t.ok(at >= 0, `${name}: back to >= 80 % of ${earlier} within ${bound[name]} samples (after ${at + 1})`)
  }
})

t.test('c. fresh baseline: freak fast samples do not move it; a window of them would', async t => {
  for (const make of [
    () => new VegasLimit({ probeInterval: 200, rttWindow: 1 }),
    () => new Gradient2Limit({ probeInterval: 200 })
  ]) {
    const alg = make()
    feed(alg, 100, fullUse(10))
    // Four freak samples in every window of 20: the window's 5th fastest is still 10 ms.
    for (let i = 0; i < 200; i++) alg.onSample({ rtt: i % 5 === 0 ? 0.5 : 10, inflight: alg.limit, dropped: false })
    t.equal(alg.state().minRtt, 10, `${alg.name}: a fifth of the samples 20x faster do not move the baseline`)
  }
  // Averaging (the default), Vegas's baseline is fed the lower of each sample and the average, the
  // level its queue estimate compares with: the freak samples move both alike (to ~8.1 ms), and
  // neither gets near 0.5 ms nor reads a queue.
  const v = new VegasLimit({ probeInterval: 200 })
  feed(v, 100, fullUse(10))
  const before = v.limit
  for (let i = 0; i < 200; i++) v.onSample({ rtt: i % 5 === 0 ? 0.5 : 10, inflight: v.limit, dropped: false })
  t.ok(Number(v.state().minRtt) >= 7.5, `vegas, averaging: the baseline stays at the average's level (${v.state().minRtt} ms)`)
  t.ok(v.limit >= before, `vegas, averaging: no queue read, the limit holds or grows (${before} -> ${v.limit})`)
})

t.test('c. fresh baseline: a running minimum (baselineWindow 1) pinned by one freak sample is re-measured by the probe', async t => {
  for (const make of [
    () => new VegasLimit({ probeInterval: 200, baselineWindow: 1 }),
    () => new Gradient2Limit({ probeInterval: 200, baselineWindow: 1 })
  ]) {
    const alg = make()
    feed(alg, 100, fullUse(10))
    alg.onSample({ rtt: 0.5, inflight: alg.limit, dropped: false })
    t.equal(alg.state().minRtt, 0.5, `${alg.name}: the freak sample is the baseline for now`)
    feed(alg, 100, fullUse(10))
    const low = alg.limit
    // With a running minimum (the reference), 10 ms would look like a 20x queue forever.
    feed(alg, 300, fullUse(10))
    t.equal(alg.state().minRtt, 10, `${alg.name}: the probe re-measured the baseline`)
    const seen = feed(alg, 500, fullUse(10))
    t.ok(last(seen) > low, `${alg.name}: the limit grows again (${low} -> ${last(seen)})`)
  }
})

t.test('c. fresh baseline: sustained load does not drag it up to the loaded RTT', async t => {
  // 16 slots x 10 ms, always saturated. The loaded RTT is 10 ms x limit / 16. Naive re-probing
  // (the next sample becomes the baseline) adopts it and never sees the queue again.
  for (const make of [() => new VegasLimit({ probeInterval: 200 })]) {
    const alg = make()
    const seen = feed(alg, 20_000, saturatedQueue(16, 10))
    const tail = seen.slice(-5000)
    t.ok(Number(alg.state().minRtt) <= 11, `${alg.name}: baseline ${alg.state().minRtt} ms stays near 10 ms`)
    t.ok(Math.max(...tail) <= 48, `${alg.name}: limit stays near the 16 slots (max ${Math.max(...tail)})`)
    t.ok(Number(alg.state().probes) >= 90, `${alg.name}: it did re-probe (${alg.state().probes} probes)`)
  }
  // A baseline learned while overloaded (first samples already queued) is corrected downward.
  const g = new VegasLimit({ initialLimit: 160, probeInterval: 200 })
  feed(g, 5000, saturatedQueue(16, 10))
  t.equal(g.state().minRtt, 10, 'vegas: a loaded first baseline is probed down to 10 ms')
})

t.test('d. bounded creep: Gradient2 at a constant 3x RTT and full use', async t => {
  const alg = new Gradient2Limit()
  feed(alg, 2500, saturatedQueue(16, 10))
  const before = alg.limit
  // The long average catches up with 30 ms; the reference then adds 0.8 per sample and
  // reaches maxLimit (200) within a few hundred samples. Here growth is 4 per round trip.
  const seen = feed(alg, 10_000, fullUse(30))
  const peak = Math.max(...seen)
  t.ok(peak < 200, `10,000 samples: ${before} -> peak ${peak}, maxLimit 200 not reached`)
  t.equal(alg.state().longRtt, 30)
})

t.test('e. slow start doubles per fully used round trip until the first queueing sign', async t => {
  const g2 = new Gradient2Limit({ initialLimit: 20, maxLimit: 1000, baselineWindow: 1 })
  const seen = feed(g2, 4, fullUse(10))
  t.same(seen, [40, 80, 160, 320], 'x2 per fully used sample')
  t.equal(g2.state().slowStart, 'on')
  g2.onSample({ rtt: 10, inflight: 100, dropped: false })
  t.equal(g2.limit, 320, 'not fully used: no doubling')
  g2.onSample({ rtt: 40, inflight: 320, dropped: false })
  t.equal(g2.state().slowStart, 'off', 'RTT past the tolerance ends slow start')
  t.ok(g2.limit < 320, 'and the usual rule applies to that sample')
  feed(g2, 3, fullUse(10))
  t.ok(g2.limit < 330, 'no more doubling')

  const aimd = new AIMDLimit({ initialLimit: 20, maxLimit: 1000 })
  feed(aimd, 2, fullUse(10))
  t.equal(aimd.limit, 80)
  aimd.onSample({ rtt: 10, inflight: 80, dropped: true })
  t.same([aimd.limit, aimd.state().slowStart], [72, 'off'], 'a drop ends slow start')
  aimd.onSample({ rtt: 10, inflight: 60, dropped: false })
  t.equal(aimd.limit, 73, 'AIMD slow start only accelerates: +1 still applies')

  // rttWindow 1: one slow sample is the queueing sign, as for the others.
  const vegas = new VegasLimit({ initialLimit: 20, baselineWindow: 1, rttWindow: 1 })
  feed(vegas, 2, fullUse(10))
  t.equal(vegas.limit, 40, 'vegas: the first sample sets the baseline, the second doubles')
  vegas.onSample({ rtt: 20, inflight: 40, dropped: false })
  t.equal(vegas.state().slowStart, 'off')

  const capped = new Gradient2Limit({ initialLimit: 50, maxLimit: 150, baselineWindow: 1 })
  feed(capped, 3, fullUse(10))
  t.same([capped.limit, capped.state().slowStart], [150, 'off'], 'ends at maxLimit')
  t.equal(new Gradient2Limit({ slowStart: false }).state().slowStart, 'off')
})
