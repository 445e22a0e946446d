// Smaller behaviours: state before any sample, explicit knobs, probe give-up, app-limited holds.
import t from 'tap'
import { Gradient2Limit, VegasLimit } from '../../lib/algorithms'
import { BaselineProbe } from '../../lib/algorithms/baseline'
import { feed, fullUse, last } from './helpers'
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

t.test('gradient2: a sample steps by its weight, and reads the recent mean, not itself alone', async t => {
  const settled = (): Gradient2Limit => {
    const g = new Gradient2Limit({ initialLimit: 20, slowStart: false })
    feed(g, 30, fullUse(10))
    return g
  }
  const whole = settled()
  const light = settled()
  const before = Number(light.state().estimate)
  t.equal(Number(whole.state().estimate), before)
  whole.onSample({ rtt: 10, inflight: 20, dropped: false })
  light.onSample({ rtt: 10, inflight: 20, dropped: false, weight: 0.01 })
  const step = Number(whole.state().estimate) - before
  t.ok(step > 0, `a sample of full weight grows the limit (${step})`)
  t.ok(Math.abs(Number(light.state().estimate) - before - step / 100) < 1e-3, 'one of weight 0.01 by a hundredth of that')
  for (const weight of [0, -1, Number.NaN, 2]) {
    const g = settled()
    g.onSample({ rtt: 10, inflight: 20, dropped: false, weight })
    t.equal(Number(g.state().estimate), Number(whole.state().estimate), `weight ${weight} counts as 1`)
  }
  // One slow sample among fast ones is the spread of a mean, not a queue: it does not shrink.
  const g = settled()
  g.onSample({ rtt: 20, inflight: 20, dropped: false })
  t.ok(Number(g.state().estimate) >= before, `one sample at 2x the no-load latency does not shrink it (${before} -> ${g.state().estimate})`)
  feed(g, 10, fullUse(20))
  t.ok(Number(g.state().estimate) < before, `a run of them does (${g.state().estimate})`)
})

t.test('vegas: explicit threshold and the alpha..beta band', async t => {
  const v = new VegasLimit({ initialLimit: 100, threshold: 0, alpha: 2, beta: 50, slowStart: false, baselineWindow: 1, rttWindow: 1, noLoadTolerance: 1 })
  v.onSample({ rtt: 10, inflight: 100, dropped: false })
  v.onSample({ rtt: 10.05, inflight: 100, dropped: false })
  t.equal(v.limit, 102, 'queue 1: above threshold 0, below alpha 2 -> + log10(L)')
  v.onSample({ rtt: 11, inflight: 100, dropped: false })
  t.equal(v.limit, 102, 'queue 10, between alpha and beta: hold')
})

t.test('vegas: one decision per block of rttWindow samples that could show a queue, on their mean', async t => {
  const v = new VegasLimit({ initialLimit: 100, slowStart: false, baselineWindow: 1, rttWindow: 4 })
  // The first sample sets the baseline (10 ms); the no-load level is 1.1 x 10 = 11 ms.
  v.onSample({ rtt: 10, inflight: 100, dropped: false })
  // Samples under the no-load level (cached answers, say) cannot show a queue: they join the
  // block's mean but do not close it.
  feed(v, 10, () => ({ rtt: 10, inflight: 100, dropped: false }))
  t.equal(v.limit, 100, 'ten samples at the baseline: no decision yet')
  feed(v, 3, () => ({ rtt: 11, inflight: 100, dropped: false }))
  t.equal(v.limit, 100, 'three samples at the no-load level: still no decision')
  v.onSample({ rtt: 11, inflight: 100, dropped: false })
  // The 4th such sample closes the block: mean (10 x 10 + 4 x 11) / 14 = 10.29 ms, under 11:
  // queue 0 -> + beta (12 at L = 100), once for the whole block.
  t.match(v.state(), { limit: 112, queue: 0, rtt: 10.286 })
  // The spread alone (a mean 5 % over the baseline) is no queue: the reference would read
  // ceil(112 x (1 - 10 / 10.5)) = 6 (= alpha) and stop growing.
  feed(v, 4, () => ({ rtt: 10.5, inflight: 112, dropped: false }))
  t.match(v.state(), { limit: 112, queue: 0 }, 'under the no-load level: no queue, but these samples cannot close a block')
  feed(v, 4, () => ({ rtt: 11.5, inflight: 112, dropped: false }))
  // Mean (4 x 10.5 + 4 x 11.5) / 8 = 11: queue 0 -> + beta.
  t.match(v.state(), { limit: 124, queue: 0 })
  t.throws(() => new VegasLimit({ rttWindow: 0 }), /"rttWindow".*an integer in \[1, 100000\]/)
  t.throws(() => new VegasLimit({ noLoadTolerance: 0.9 }), /"noLoadTolerance".*\[1, Infinity\]/)
})

t.test('vegas: a block past beta sheds its excess at once, at most half the limit, then ignores samples from before', async t => {
  const v = new VegasLimit({ initialLimit: 40, slowStart: false, baselineWindow: 1, rttWindow: 4 })
  v.onSample({ rtt: 10, inflight: 40, dropped: false })
  // 16 slots, 40 in flight: 25 ms. Queue ceil(40 x (1 - 11 / 25)) = 23, excess over beta (6) 17.
  feed(v, 4, () => ({ rtt: 25, inflight: 40, dropped: false }))
  t.match(v.state(), { limit: 23, queue: 23 }, '40 - (23 - 6)')
  // Requests admitted before the decision (40 in flight) come back slow: up to 40 of them are
  // left out, so they cannot cut the limit a second time.
  feed(v, 8, () => ({ rtt: 25, inflight: 40, dropped: false }))
  t.equal(v.limit, 23, 'samples admitted above the new limit are not judged again')
  // Admitted under the new limit: 23 in flight on 16 slots, 14.4 ms: queue ceil(23 x 0.236) = 6: hold.
  feed(v, 4, () => ({ rtt: 14.4, inflight: 23, dropped: false }))
  t.match(v.state(), { limit: 23, queue: 6 })
  // A loop stall that makes one block 10x slow halves the limit, no more.
  feed(v, 4, () => ({ rtt: 144, inflight: 23, dropped: false }))
  t.equal(v.limit, 11, 'at most half the limit per block (23 -> 11.5)')
  // At most the limit's worth of samples from before the decision are left out: a partition
  // that admits past the limit by design cannot freeze the algorithm.
  const seen = feed(v, 40, () => ({ rtt: 144, inflight: 23, dropped: false }))
  t.ok(last(seen) < 11, `decisions resume after 23 samples left out (${last(seen)})`)
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
  // The single-process rules (Vegas, Gradient): Gradient2 probes on a grid of the clock instead (next test).
  let at = 0
  const timed = (rtt: number) => (limit: number): Sample => ({ rtt, inflight: limit, dropped: false, at: at++ })
  const g = new VegasLimit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
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
  const deep = new VegasLimit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false })
  const loaded = (limit: number): Sample => ({ rtt: deep.state().probing === 'on' ? 10 : 40, inflight: limit, dropped: false, at: at++ })
  feed(deep, 13, loaded)
  t.equal(deep.state().probes, 1)
  const seen = feed(deep, 20, loaded)
  t.equal(deep.state().probes, 2, 'the deeper retry ran within 20 samples (20 ms), not after 5000 ms')
  t.ok(Math.min(...seen) <= 10, `and went deeper: a quarter of the limit (min ${Math.min(...seen)})`)
})

t.test('Gradient2 probes on a grid of the shared clock, so processes sharing a backend probe together', async t => {
  const EPOCH = 1_700_000_000_000 // a whole multiple of 5000 ms
  const opts = { initialLimit: 40, probeInterval: 1000, probeSamples: 3, slowStart: false }
  // Two processes with different request rates and start times, on one clock.
  const fast = new Gradient2Limit(opts)
  const slow = new Gradient2Limit(opts)
  const starts = (alg: Gradient2Limit, stepMs: number, from: number, to: number): number[] => {
    const out: number[] = []
    for (let at = from; at < to; at += stepMs) {
      const before = alg.state().probing
      alg.onSample({ rtt: 10, inflight: alg.limit, dropped: false, at: EPOCH + at })
      if (before === 'off' && alg.state().probing === 'on') out.push(at)
    }
    return out
  }
  // Warm-up (first 10 s): at each whole second, once 3 x probeSamples samples came since the last.
  t.same(starts(fast, 1, 0, 3000), [1000, 2000], 'one sample per ms: at 1000 and 2000 ms')
  t.same(starts(slow, 7, 350, 3000), [1001, 2002], 'one per 7 ms, started later: the same seconds')
  // After the warm-up: at each multiple of probeMinInterval (5000 ms), however many samples came.
  // (the first sample after the pause is past a grid line since the last probe: it starts one.)
  t.same(starts(fast, 1, 10_500, 21_000), [10_500, 15_000, 20_000], 'then every 5000 ms, on the grid')
  t.same(starts(slow, 7, 10_504, 21_000), [10_504, 15_005, 20_003], 'for both')
  // A probe that still sees latency scale with concurrency (40 ms loaded, 10 ms at the cap)
  // cuts the limit at once (by half at most), and retries within the next second.
  const deep = new Gradient2Limit({ ...opts, minLimit: 4 })
  const starts2: number[] = []
  let cut: [number, number] | undefined
  for (let at = 0; at < 2000; at++) {
    const probing = deep.state().probing === 'on'
    const before = Number(deep.state().estimate)
    deep.onSample({ rtt: probing ? 10 : 40, inflight: deep.limit, dropped: false, at: EPOCH + at })
    if (!probing && deep.state().probing === 'on') starts2.push(at)
    if (probing && deep.state().probing === 'off' && cut === undefined) cut = [before, Number(deep.state().estimate)]
  }
  t.equal(starts2[0], 1000, 'the first probe at the first whole second')
  t.ok(starts2.length >= 2 && starts2[1] < 2000, `the retry within the next second (${starts2.slice(0, 3).join(', ')} ms)`)
  t.ok(cut !== undefined && cut[1] === cut[0] / 2, `the probe that saw a queue halved the limit (${cut?.join(' -> ')})`)
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

t.test('Gradient2 with timed samples: slow start waits for a probe to confirm the baseline', async t => {
  const EPOCH = 1_700_000_000_000
  const g = new Gradient2Limit({ initialLimit: 10, maxLimit: 1000, probeSamples: 3, baselineWindow: 1 })
  let at = 0
  // 10 ms at full use: a first window taken while other processes keep a queue looks like this too.
  let before = g.limit
  let jump = 1
  for (const limit of feed(g, 900, (limit) => ({ rtt: 10, inflight: limit, dropped: false, at: EPOCH + at++ }))) {
    jump = Math.max(jump, limit / before)
    before = limit
  }
  t.ok(jump < 1.5, `no doubling before the first probe at 1000 ms, only the additive growth (largest step x${jump.toFixed(2)})`)
  const seen = feed(g, 300, (limit) => ({ rtt: 10, inflight: limit, dropped: false, at: EPOCH + at++ }))
  t.ok(Math.max(...seen) >= 4 * before, `after the probe at 1000 ms found no queue, it doubles (max ${Math.max(...seen)})`)
  // Samples without a time (no shared clock) double at once, as before.
  const untimed = new Gradient2Limit({ initialLimit: 10, maxLimit: 1000, baselineWindow: 1 })
  t.same(feed(untimed, 2, fullUse(10)), [20, 40])
})

t.test('Gradient2: light traffic only lowers the baseline; a probe within 20 % moves it halfway', async t => {
  const EPOCH = 1_700_000_000_000
  const g = new Gradient2Limit({ initialLimit: 40, probeSamples: 3, slowStart: false, baselineWindow: 5 })
  let at = 0
  // Light traffic (in flight 5 of 40) at 10 ms: the baseline is 10.
  feed(g, 50, () => ({ rtt: 10, inflight: 5, dropped: false, at: EPOCH + at++ }))
  t.equal(g.state().minRtt, 10)
  // Light traffic at 14 ms (another process's queue at a shared backend looks like this): no rise.
  feed(g, 50, () => ({ rtt: 14, inflight: 5, dropped: false, at: EPOCH + at++ }))
  t.equal(g.state().minRtt, 10, 'light traffic does not raise it')
  // Full use at 11 ms until the probe at 1000 ms, which measures 11 ms at half the limit: within
  // 20 %, so it averages (10.5); at 11 ms latency did not scale with concurrency.
  while (at < 1100) g.onSample({ rtt: 11, inflight: g.limit, dropped: false, at: EPOCH + at++ })
  t.equal(g.state().minRtt, 10.5, 'a probe within 20 % moves it halfway')
})

t.test('a probe due while requests wait behind a burst starts at the first sample without one, or after probeInterval samples', async t => {
  const EPOCH = 1_700_000_000_000
  const run = (alg: Gradient2Limit | VegasLimit, bursts: number): number => {
    // Returns the index of the sample that started a probe (-1: none), feeding `bursts` samples
    // marked burst and then unmarked ones.
    for (let i = 0; i < bursts + 5; i++) {
      alg.onSample({ rtt: 10, inflight: alg.limit, dropped: false, at: EPOCH + i, burst: i < bursts })
      if (alg.state().probing === 'on') return i
    }
    return -1
  }
  // Gradient2 is due at the 1000 ms line (sample 1000); Vegas after probeInterval (10) samples.
  t.equal(run(new Gradient2Limit({ initialLimit: 40, probeInterval: 1000, probeSamples: 3, slowStart: false }), 1200), 1200,
    'gradient2: held through 200 samples of a burst, started by the first sample after it')
  t.equal(run(new VegasLimit({ initialLimit: 40, probeInterval: 10, probeSamples: 3, slowStart: false }), 18), 18,
    'vegas: the same')
  t.equal(run(new Gradient2Limit({ initialLimit: 40, probeInterval: 100, probeSamples: 3, slowStart: false }), 1500), 1100,
    'held for probeInterval (100) samples at most: a queue that never drains does not stop probes for good')
})

t.test('Gradient2 reads no queue in a mix of cached answers and a slow route\'s own spread: probes stay at half, no cut', async t => {
  const EPOCH = 1_700_000_000_000
  // What the per-route classes feed for 90 % cached answers (relative RTT 1, weight 0.02) and
  // 10 % of a 100 ms route (+-20 %) without any queue: 1 + (rtt - its 82 ms baseline) / the
  // 8.5 ms traffic-weighted reference, so 1 to 5.5, weight 1. A fixed-seed sequence, 60 s at
  // 8,000 samples a second: warm-up probes every second for 10 s, then every 5 s.
  let seed = 7
  const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647
  const alg = new Gradient2Limit({ initialLimit: 20, slowStart: false })
  const depths: number[] = []
  const cuts: number[] = []
  let before = NaN
  let probing = false
  let estimate = Number(alg.state().estimate)
  for (let i = 0; i < 60 * 8000; i++) {
    const slow = random() < 0.1
    const rtt = slow ? 1 + Math.max(0, 80 + 40 * random() - 82) / 8.5 : 1
    const limit = alg.limit
    alg.onSample({ rtt, inflight: limit, dropped: false, at: EPOCH + i / 8, weight: slow ? 1 : 0.02 })
    // A probe starts and ends with a change of the limit: read the state only then.
    if (alg.limit === limit) continue
    const state = alg.state()
    if (!probing && state.probing === 'on') {
      depths.push(alg.limit / estimate)
      before = estimate
    }
    if (probing && state.probing === 'off') cuts.push(Number(state.estimate) / before)
    probing = state.probing === 'on'
    estimate = Number(state.estimate)
  }
  t.ok(depths.length >= 15, `probes every second, then every 5 s (${depths.length})`)
  t.ok(depths.every((d) => d >= 0.45), `every probe at half the limit, none deeper (${depths.map((d) => d.toFixed(2)).join(', ')})`)
  t.ok(cuts.every((c) => c >= 0.95), `no probe cut the limit (after / before: ${cuts.map((c) => c.toFixed(2)).join(', ')})`)
})

t.test('a probe waits until the loaded RTT is fresh by weight: light samples count for little', async t => {
  const settings = { interval: 100, minInterval: 0, ratio: 0.5, samples: 10, window: 20 }
  const firstProbe = (weight: number): number => {
    const probe = new BaselineProbe(settings)
    for (let i = 1; i <= 5000; i++) {
      probe.observe(10, 20, 20, 1, undefined, false, weight)
      if (probe.probing) return i
    }
    return -1
  }
  t.equal(firstProbe(1), 100, 'weight 1: after probeInterval samples')
  // FRESH (3) x probeSamples (10) = 30 of weight (1/32 adds up exactly).
  t.equal(firstProbe(1 / 32), 960, 'weight 1/32: after 30 x 32 samples')
})
