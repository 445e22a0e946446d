// Per-class baselines: each kind of request is compared with its own no-load latency, so no mix
// of routes, fast answers or freak samples moves the limit.
import t from 'tap'
import fc from 'fast-check'
import { Gradient2Limit, VegasLimit, type LimitAlgorithm, type Sample } from '../../lib/algorithms'
import { SampleClasses } from '../../lib/limiter/sample-classes'
import { median, runModel, type TrafficClass } from './shared-pool-model'

function lcg (seed: number): () => number {
  let s = seed % 2147483647
  if (s <= 0) s += 2147483646
  return () => {
    s = (s * 16807) % 2147483647
    return s / 2147483647
  }
}

const sample = (rtt: number, inflight = 1, dropped = false): Sample => ({ rtt, inflight, dropped })

t.test('a class feeds the algorithm only once its first window closed; drops always', async t => {
  const classes = new SampleClasses()
  const cls = classes.get('GET /a')
  for (let i = 0; i < 19; i++) t.equal(classes.normalize(sample(10), cls, 20), undefined, 'learning')
  t.equal(classes.normalize(sample(10, 1, true), cls, 20)?.dropped, true, 'a drop is fed even while learning')
  t.equal(classes.normalize(sample(10), cls, 20), undefined, 'the 20th healthy sample closes the window')
  t.equal(cls?.baseline, 10)
  t.equal(classes.normalize(sample(25), cls, 20)?.rtt, 2.5, 'then latency is relative to the baseline')
  t.equal(classes.normalize(sample(4), cls, 20)?.rtt, 1, 'and never below 1')
  t.match(classes.stats(), { classes: 2, learned: 1, unsampled: 0 })
})

t.test('the baseline is a window\'s low quantile: a few freak samples do not move it', async t => {
  const classes = new SampleClasses()
  const cls = classes.get('x')
  for (let i = 0; i < 200; i++) classes.normalize(sample(i % 5 === 0 ? 0.01 : 10), cls, 20)
  t.equal(cls?.baseline, 10, 'a fifth of the samples 1000x faster')
  // At the limit (20 in flight of 20): only windows of any samples can lower it.
  for (let i = 0; i < 20; i++) classes.normalize(sample(i % 3 === 0 ? 10 : 6, 20), cls, 20)
  t.equal(cls?.baseline, 10, 'one window whose quarter is faster waits for the next one')
  for (let i = 0; i < 20; i++) classes.normalize(sample(i % 3 === 0 ? 10 : 7, 20), cls, 20)
  t.equal(cls?.baseline, 7, 'two in a row lower it, to the higher of the two')
  for (let i = 0; i < 40; i++) classes.normalize(sample(1, 20), cls, 20)
  t.equal(cls?.baseline, 3.5, 'by at most half at a time')
  // At low concurrency (a probe): a short window's median lowers it at once.
  for (let i = 0; i < 5; i++) classes.normalize(sample(i < 3 ? 3 : 20, 2), cls, 20)
  t.equal(cls?.baseline, 3, 'five samples at low concurrency, median 3')
})

t.test('the baseline rises only on windows admitted with spare capacity', async t => {
  const classes = new SampleClasses()
  const cls = classes.get('x')
  for (let i = 0; i < 20; i++) classes.normalize(sample(10, 2), cls, 20)
  t.equal(cls?.baseline, 10)
  // Sustained queueing at the limit: 20 in flight of 20, 30 ms. The baseline must not follow.
  for (let i = 0; i < 2000; i++) classes.normalize(sample(30, 20), cls, 20)
  t.equal(cls?.baseline, 10, 'a sustained queue does not become "no load"')
  // Nor do windows at a probe's half limit: half of a limit that is too high may still queue.
  for (let i = 0; i < 2000; i++) classes.normalize(sample(30, 12), cls, 20)
  t.equal(cls?.baseline, 10, 'a probe\'s samples do not raise it either')
  // The service really got slower: eight windows with spare capacity (at most half the limit
  // in flight) in a row say so.
  for (let i = 0; i < 7 * 20; i++) classes.normalize(sample(30, 5), cls, 20)
  t.equal(cls?.baseline, 10, 'seven are not enough')
  for (let i = 0; i < 20; i++) classes.normalize(sample(30, 5), cls, 20)
  t.equal(cls?.baseline, 30, 'the eighth raises it')
})

t.test('the reference reaches the mix\'s mean within its first samples, whichever class is learned first', async t => {
  const classes = new SampleClasses()
  const cached = classes.get('cached')
  const work = classes.get('work')
  // The cached answers' first window closes first: the reference starts at their 0.1 ms.
  for (let i = 0; i < 30; i++) classes.normalize(sample(0.1, 1), cached, 20)
  for (let i = 0; i < 20; i++) classes.normalize(sample(100, 1), work, 20)
  // Then the mix, 40 % cached: its mean no-load latency is 60 ms.
  for (let i = 0; i < 20; i++) {
    for (let j = 0; j < 2; j++) classes.normalize(sample(0.1, 1), cached, 20)
    for (let j = 0; j < 3; j++) classes.normalize(sample(100, 1), work, 20)
  }
  const weight = Number(classes.normalize(sample(0.1, 1), cached, 20)?.weight)
  const reference = 0.1 / weight
  // Moved 0.5 % per sample from 0.1 ms, it would be at 24 ms; a 25 ms wait of the 100 ms route
  // would then read as a queue of 1 + 25 / 24, twice what it is.
  t.ok(reference > 40 && reference < 70, `after 100 samples of the mix: ${reference.toFixed(1)} ms`)
  const waited = Number(classes.normalize(sample(125, 10), work, 20)?.rtt)
  t.ok(waited < 1.75, `a 25 ms wait of the 100 ms route reads ${waited.toFixed(2)}`)
})

t.test('a sample weighs its class\'s share of a round trip: its no-load latency over the traffic\'s mean, at most 1', async t => {
  const classes = new SampleClasses()
  const cheap = classes.get('cheap')
  const slow = classes.get('slow')
  // The reference (the traffic-weighted mean no-load latency, 50.5 ms) follows the mix over a
  // few hundred samples.
  for (let i = 0; i < 1000; i++) {
    classes.normalize(sample(1, 1), cheap, 20)
    classes.normalize(sample(100, 1), slow, 20)
  }
  const reference = Number(classes.normalize(sample(1, 1), cheap, 20)?.weight)
  t.ok(reference > 0.015 && reference < 0.025, `a 1 ms route next to a 100 ms one: ${reference}`)
  t.equal(classes.normalize(sample(100, 1), slow, 20)?.weight, 1, 'the slow route: 1')
  // A route answered in 0 ms (timer resolution) weighs almost nothing, never 0 (which reads as 1).
  const instant = classes.get('instant')
  for (let i = 0; i < 20; i++) classes.normalize(sample(0, 1), instant, 20)
  const w = Number(classes.normalize(sample(0, 1), instant, 20)?.weight)
  t.ok(w > 0 && w < 0.001, `a 0 ms route: ${w}`)
})

t.test('past the cap a new class is not sampled, and is counted', async t => {
  const classes = new SampleClasses(3)
  t.ok(classes.get('a'))
  t.ok(classes.get('b'))
  t.equal(classes.get('c'), null, "the fallback class 'default' is the third")
  t.equal(classes.normalize(sample(1), null, 10), undefined)
  t.equal(classes.normalize(sample(1, 1, true), null, 10)?.dropped, true, 'a drop still counts')
  t.match(classes.stats(), { classes: 3, unsampled: 2 })
  const a = classes.get('a')
  for (let i = 0; i < 20; i++) classes.normalize(sample(i + 1), a, 10)
  t.same(classes.baselines(5), [{ name: 'a', baseline: 5, samples: 20 }])
})

// Route mixes sharing a 16-slot pool, always overloaded. The right limit is the one that fills the
// pool: 16 / (share of requests that use it). Without classes, a cheap route pins the baseline.
const SLOTS = 16
const poolFill = (mix: TrafficClass[]): number =>
  SLOTS * mix.reduce((n, c) => n + c.share, 0) / mix.filter(c => c.pool).reduce((n, c) => n + c.share, 0)

t.test('without classes a mix of cheap and expensive routes collapses the limit; with them it holds', async t => {
  const mix: TrafficClass[] = [
    { name: 'cheap', serviceMs: 1, share: 50, pool: true },
    { name: 'mid', serviceMs: 10, share: 35, pool: true },
    { name: 'slow', serviceMs: 100, share: 15, pool: true }
  ]
  const raw = runModel(new Gradient2Limit(), undefined, { slots: SLOTS, mix, jitter: 0.2, rand: lcg(7) }, 40_000)
  t.ok(median(raw.slice(-10_000)) <= 10, `raw latency: limit ${median(raw.slice(-10_000))} (16 slots)`)
  const classed = runModel(new Gradient2Limit(), new SampleClasses(), { slots: SLOTS, mix, jitter: 0.2, rand: lcg(7) }, 40_000)
  const m = median(classed.slice(-10_000))
  t.ok(m >= SLOTS && m <= 1.5 * SLOTS, `per-class latency: limit ${m}`)
})

// A route that skips the pool is a cheap one (a health check, a cached answer): a slow route on a
// resource of its own is another system, for which no single limit over both is "the" right one.
const trafficClass = fc.oneof(
  fc.record({ serviceMs: fc.constantFrom(0.1, 0.5, 1, 3, 10, 30, 100), share: fc.integer({ min: 1, max: 100 }), pool: fc.constant(true) }),
  fc.record({ serviceMs: fc.constantFrom(0.05, 0.1, 0.5, 1), share: fc.integer({ min: 1, max: 100 }), pool: fc.constant(false) })
)

// Gradient2, the default, on any mix; Vegas on mixes whose routes all share the pool here, and
// with never-waiting requests (cached answers) in its own property below.
const allPooled = fc.record({ serviceMs: fc.constantFrom(0.1, 0.5, 1, 3, 10, 30, 100), share: fc.integer({ min: 1, max: 100 }), pool: fc.constant(true) })

t.test('property: random mixes, freak samples and cold starts neither collapse nor creep (Gradient2 any mix, Vegas pooled mixes)', async t => {
  for (const [make, classArb] of [[() => new Gradient2Limit(), trafficClass], [() => new VegasLimit(), allPooled]] as const) {
    fc.assert(fc.property(
      fc.array(classArb as typeof trafficClass, { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 1_000_000 }),
      fc.constantFrom(0, 0.001, 0.02),
      fc.constantFrom(1, 2),
      (classes, seed, freakRate, coldFactor) => {
        const mix = classes.map((c, i) => ({ ...c, name: `route-${i}` }))
        // At least one route uses the pool, and at least half of the traffic does: requests that
        // never queue (health checks, cached answers) are the minority they are in real services.
        mix[0].pool = true
        const skipping = mix.filter(c => !c.pool).reduce((n, c) => n + c.share, 0)
        const pooled = mix.filter(c => c.pool).reduce((n, c) => n + c.share, 0)
        if (pooled < skipping) mix[0].share += skipping - pooled
        const limits = runModel(make(), new SampleClasses(), {
          slots: SLOTS, mix, jitter: 0.2, rand: lcg(seed), freakRate, coldSamples: 3000, coldFactor
        }, 30_000)
        const target = poolFill(mix)
        const settled = limits.slice(10_000)
        // A rare run of freak windows may cost a dip until the next probe, never a lasting one.
        const collapsed = settled.filter(l => l < 0.8 * target).length / settled.length
        const middle = median(limits.slice(10_000, 20_000))
        const end = median(limits.slice(20_000))
        return collapsed <= 0.25 && end <= 3 * target && end <= 1.25 * middle + 2
      }
    ), { numRuns: 15, seed: 4242 })
    t.pass(`${make().name}: under 0.8 x the pool-filling limit at most a quarter of the time, at most 3x it, no creep between thirds`)
  }
})

// Cached answers: requests that never wait and hold their permits for microseconds (`instant`),
// so the pool-filling limit stays SLOTS whatever their share, while their samples read "no queue"
// however long the pool's queue is. The reference Vegas (a step per sample, each sample's own
// latency) takes them as votes to grow by beta and creeps to maxLimit at a share of 40 %. Vegas
// decides once per block of samples that could show a queue, on their mean, against the no-load
// level (noLoadTolerance x its baseline); its documented headroom over the pool-filling limit is
// (noLoadTolerance - 1) x that limit + beta + 1: 0.1 x 16 + 7 below a limit of 100.
const VEGAS_HEADROOM = Math.floor(0.1 * SLOTS + 7)
// Gradient2, the default, on the same traffic. It keeps a queue of up to noLoadTolerance's 35 %
// of the pool-filling limit (its mean latency may reach 1.35 x the no-load level), plus the
// spread of a mean over a quarter round trip (a few samples of the pooled route at 1 ms next to
// 90 % cached answers): 16 + 0.35 x 16 + 6, where the per-sample rule crept past 100.
const GRADIENT2_HEADROOM = Math.floor(0.35 * SLOTS + 6)

/** A random share (0-90 %) of never-waiting requests beside one pooled route of 1, 10 or 100 ms. */
function neverCreeps (make: () => LimitAlgorithm, headroom: number, seed: number): void {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 90 }),
    fc.constantFrom(1, 10, 100),
    fc.integer({ min: 1, max: 1_000_000 }),
    fc.constantFrom(0, 0.001),
    (cachedPct, serviceMs, runSeed, freakRate) => {
      const mix: TrafficClass[] = [{ name: 'work', serviceMs, share: 100 - cachedPct, pool: true }]
      if (cachedPct > 0) mix.push({ name: 'cached', serviceMs: 0.05, share: cachedPct, pool: false, instant: true })
      const limits = runModel(make(), new SampleClasses(), { slots: SLOTS, mix, jitter: 0.2, rand: lcg(runSeed), freakRate }, 30_000)
      const settled = limits.slice(10_000)
      // And it keeps the pool full: no creep bought with a limit under it.
      return Math.max(...settled) <= SLOTS + headroom && median(settled) >= SLOTS
    }
  ), { numRuns: 30, seed })
}

t.test('property: Vegas with a random share (0-90 %) of never-waiting requests never creeps past the pool-filling limit by more than its headroom', async t => {
  neverCreeps(() => new VegasLimit(), VEGAS_HEADROOM, 2222)
  t.pass(`vegas: limit at most ${SLOTS} + ${VEGAS_HEADROOM} after the first 10,000 samples, median at least ${SLOTS}`)
  // The reference rule (rttWindow 1) on the same traffic, to show what the property guards.
  const mix: TrafficClass[] = [{ name: 'work', serviceMs: 10, share: 60, pool: true }, { name: 'cached', serviceMs: 0.05, share: 40, pool: false, instant: true }]
  const reference = runModel(new VegasLimit({ rttWindow: 1, noLoadTolerance: 1 }), new SampleClasses(), { slots: SLOTS, mix, jitter: 0.2, rand: lcg(7) }, 30_000)
  t.ok(median(reference.slice(10_000)) > 10 * SLOTS, `rttWindow 1, 40 % cached: the limit creeps (median ${median(reference.slice(10_000))})`)
})

t.test('property: Gradient2 with a random share (0-90 %) of never-waiting requests never creeps past the pool-filling limit by more than its headroom', async t => {
  neverCreeps(() => new Gradient2Limit(), GRADIENT2_HEADROOM, 3333)
  t.pass(`gradient2: limit at most ${SLOTS} + ${GRADIENT2_HEADROOM} after the first 10,000 samples, median at least ${SLOTS}`)
})
