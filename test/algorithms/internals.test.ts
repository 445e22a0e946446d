// Smaller behaviours: state before any sample, explicit knobs, probe give-up, app-limited holds.
import t from 'tap'
import { Gradient2Limit, VegasLimit } from '../../lib/algorithms'
import { feed, fullUse } from './helpers'
import type { Sample } from '../../lib/algorithms/types'

t.test('state before any sample reports no baseline', async t => {
  for (const alg of [new VegasLimit(), new Gradient2Limit()]) {
    t.match(alg.state(), { minRtt: 0, probing: 'off', probes: 0, slowStart: 'on' }, alg.name)
  }
})

t.test('gradient2: app-limited hold, no headroom below gradient 1, fast fall of the long RTT', async t => {
  const g = new Gradient2Limit({ initialLimit: 40, slowStart: false })
  feed(g, 10, fullUse(10))
  const l = g.limit
  g.onSample({ rtt: 10, inflight: 5, dropped: false })
  t.equal(g.limit, l, 'under half use: hold')
  // g = 0.5: each slow sample takes smoothing * (1 - g) = 0.1 off, so one round trip of them
  // (l samples, as one loop stall delaying everything in flight) takes off about 10 %, not
  // (0.8 + 0.2 g)^l = 1.6 % of it left, as a per-sample 20 % step would.
  feed(g, l, fullUse(100))
  t.ok(g.limit < l && g.limit >= Math.floor(0.88 * l), `a round trip of slow samples shrinks the limit by ~10 % (${l} -> ${g.limit})`)
  const high = new Gradient2Limit({ slowStart: false })
  feed(high, 10, fullUse(100))
  high.onSample({ rtt: 10, inflight: 20, dropped: false })
  // mean 100 -> EMA 99.7, then x0.95 because it is over 2x the latest RTT
  t.ok(Number(high.state().longRtt) < 95, `long RTT falls fast (${high.state().longRtt})`)
})

t.test('vegas: explicit threshold and the alpha..beta band', async t => {
  const v = new VegasLimit({ initialLimit: 100, threshold: 0, alpha: 2, beta: 50, slowStart: false, baselineWindow: 1, rttWindow: 1 })
  v.onSample({ rtt: 10, inflight: 100, dropped: false })
  v.onSample({ rtt: 10.05, inflight: 100, dropped: false })
  t.equal(v.limit, 102, 'queue 1: above threshold 0, below alpha 2 -> + log10(L)')
  v.onSample({ rtt: 11, inflight: 100, dropped: false })
  t.equal(v.limit, 102, 'queue 10, between alpha and beta: hold')
})

t.test('vegas: the queue comes from the average latency of rttWindow samples, and growth is divided among them', async t => {
  const v = new VegasLimit({ initialLimit: 100, slowStart: false, baselineWindow: 1, rttWindow: 4 })
  v.onSample({ rtt: 10, inflight: 100, dropped: false })
  v.onSample({ rtt: 10, inflight: 100, dropped: false })
  // No queue: + beta (12 at L = 100) divided by 4.
  t.equal(v.state().estimate, 103)
  // One sample 20 % slower moves the average by a quarter of that: 10.5, queue ceil(103 * 0.0476) = 5,
  // above threshold 2 and below alpha 6: + 2 / 4.
  v.onSample({ rtt: 12, inflight: 103, dropped: false })
  t.match(v.state(), { rtt: 10.5, queue: 5, estimate: 103.5 })
  // A sustained queue: the average climbs and each sample past beta takes a full step down.
  const seen = feed(v, 10, () => ({ rtt: 20, inflight: 103, dropped: false }))
  t.ok(seen[seen.length - 1] <= 96, `the limit shrinks by log10(L) per sample once the average shows it (${seen.join(', ')})`)
  t.throws(() => new VegasLimit({ rttWindow: 0 }), /"rttWindow".*an integer in \[1, 100000\]/)
})

t.test('a probe that never sees a sample under its cap gives up after an interval', async t => {
  const v = new VegasLimit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false, baselineWindow: 1 })
  feed(v, 10, fullUse(10))
  t.equal(v.state().probing, 'on')
  t.ok(v.limit <= Number(v.state().estimate) / 2, 'capped at half the limit')
  // The caller ignores the cap: every sample says 100 in flight.
  feed(v, 10, () => ({ rtt: 5, inflight: 100, dropped: false }))
  t.match(v.state(), { probing: 'off', probes: 1, minRtt: 10 }, 'old baseline kept')
})

t.test('a probe counts samples admitted a little past its cap (a partition\'s guarantee), not those from before it', async t => {
  // Limit 40, cap 20: samples count up to halfway back (30 in flight). A protected partition
  // admits past the limit by design, so in-flight sits at cap + 2 for the whole probe.
  const g = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false, baselineWindow: 1 })
  feed(g, 10, fullUse(10))
  t.match(g.state(), { probing: 'on', minRtt: 10 })
  const cap = g.limit
  t.equal(cap, 20)
  // Admitted before the cap took effect: in flight near the old limit, loaded RTT. Ignored.
  feed(g, 5, () => ({ rtt: 30, inflight: 38, dropped: false }))
  t.equal(g.state().probing, 'on', 'samples from before the cap do not count')
  // Admitted under the cap plus a partition's guarantee: these measure the baseline.
  feed(g, 3, () => ({ rtt: 8, inflight: cap + 2, dropped: false }))
  t.match(g.state(), { probing: 'off', probes: 1, minRtt: 8 }, 'three samples at cap + 2 finish the probe and set the baseline')
})

t.test('routine probes wait probeMinInterval when samples carry their time; deeper retries do not', async t => {
  let at = 0
  const timed = (rtt: number) => (limit: number): Sample => ({ rtt, inflight: limit, dropped: false, at: at++ })
  const g = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
  feed(g, 13, timed(10))
  t.match(g.state(), { probing: 'off', probes: 1 }, 'the first probe runs after probeInterval samples')
  // In the first 10 s (a process warming up) probes do not wait; later ones do.
  feed(g, 52, timed(10))
  t.match(g.state(), { probing: 'off', probes: 5 }, 'warm-up probes, one per interval')
  at = 10_000
  feed(g, 13, timed(10))
  const after = Number(g.state().probes)
  feed(g, 200, timed(10))
  t.match(g.state(), { probing: 'off', probes: after }, 'after the warm-up, 200 samples in 200 ms: no routine probe within 5000 ms')
  at += 5000
  feed(g, 1, timed(10))
  t.equal(g.state().probing, 'on', 'once 5000 ms have passed, the next sample starts one')

  const untimed = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
  feed(untimed, 130, fullUse(10))
  t.ok(Number(untimed.state().probes) >= 9, `samples without a time: a probe every interval (${untimed.state().probes})`)

  const none = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false, probeMinInterval: 0 })
  feed(none, 130, timed(10))
  t.ok(Number(none.state().probes) >= 9, `probeMinInterval 0: a probe every interval (${none.state().probes})`)

  // A probe that still sees latency scale with concurrency (40 ms loaded, 10 ms at half the
  // concurrency) retries deeper soon after, whatever the time floor.
  const deep = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
  const loaded = (limit: number): Sample => ({ rtt: deep.state().probing === 'on' ? 10 : 40, inflight: limit, dropped: false, at: at++ })
  feed(deep, 13, loaded)
  t.equal(deep.state().probes, 1)
  const seen = feed(deep, 20, loaded)
  t.equal(deep.state().probes, 2, 'the deeper retry ran within 20 samples (20 ms), not after 5000 ms')
  t.ok(Math.min(...seen) <= 10, `and went deeper: a quarter of the limit (min ${Math.min(...seen)})`)
})

t.test('at minLimit a probe cannot lower concurrency: it adopts what it saw, so a too-low baseline is raised', async t => {
  for (const make of [
    () => new Gradient2Limit({ minLimit: 8, initialLimit: 8, probeInterval: 10, probeSamples: 3, slowStart: false, baselineWindow: 1 }),
    () => new VegasLimit({ minLimit: 8, initialLimit: 8, probeInterval: 10, probeSamples: 3, slowStart: false, baselineWindow: 1, rttWindow: 1 })
  ]) {
    const alg = make()
    // One freak sample pins the running minimum at 1 ms: every 10-12 ms sample then looks like
    // a 10x queue and the limit sits at (or near) minLimit, where the probe's cap is the limit.
    alg.onSample({ rtt: 1, inflight: 8, dropped: false })
    let i = 0
    const jittered = (limit: number): Sample => ({ rtt: i++ % 2 === 0 ? 10 : 12, inflight: limit, dropped: false })
    feed(alg, 8, jittered)
    t.equal(alg.state().minRtt, 1, `${alg.name}: pinned at 1 ms`)
    t.ok(alg.limit <= 11, `${alg.name}: the limit is held near minLimit (${alg.limit})`)
    feed(alg, 30, jittered)
    t.equal(alg.state().minRtt, 10, `${alg.name}: the probe at minLimit adopted the 10 ms it measured`)
    const seen = feed(alg, 300, jittered)
    t.ok(Math.max(...seen) > 11, `${alg.name}: and the limit grows again (max ${Math.max(...seen)})`)
  }
})

t.test('at minLimit routine probes do not wait probeMinInterval (they cost no admission)', async t => {
  let at = 0
  const floor = new Gradient2Limit({ minLimit: 8, initialLimit: 8, probeInterval: 10, probeSamples: 3, slowStart: false })
  // 10 ms then 40 ms: a queue the limit cannot go under; it stays at the floor. The samples come
  // after the first 10 s, when routine probes wait probeMinInterval.
  floor.onSample({ rtt: 10, inflight: 8, dropped: false, at: 0 })
  at = 20_000
  feed(floor, 200, (limit) => ({ rtt: at < 20_100 ? 10 : 40, inflight: limit, dropped: false, at: at++ }))
  t.equal(floor.limit, 8)
  t.ok(Number(floor.state().probes) >= 3, `probes go on at the floor, 200 samples in 200 ms (${floor.state().probes})`)
})

t.test('light traffic (in flight under the probe cap) is the probe: no capped probe, no admission lost', async t => {
  const g = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
  let capped = 0
  feed(g, 200, () => {
    if (g.state().probing === 'on') capped++
    return { rtt: 10, inflight: 5, dropped: false }
  })
  t.equal(capped, 0, 'the limit was never capped')
  t.ok(Number(g.state().probes) >= 50, `windows of light traffic count as probes (${g.state().probes})`)
  // The same traffic at full use needs capped probes.
  const full = new Gradient2Limit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
  let cappedFull = 0
  feed(full, 200, (limit) => {
    if (full.state().probing === 'on') cappedFull++
    return { rtt: 10, inflight: limit, dropped: false }
  })
  t.ok(cappedFull > 0, `at full use the limit is capped during probes (${cappedFull} samples)`)
})
