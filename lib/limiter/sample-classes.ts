// Latency relative to each kind of request's own no-load latency.
//
// Real services mix requests whose costs differ by orders of magnitude: a health check answers in
// 0.1 ms, a search in 100 ms. A limit algorithm that sees raw latency takes the fastest kind as
// "no load" and every slower kind as a queue, and the limit collapses. So each class of request
// (by default, each route) learns its own no-load latency, and the algorithm is fed
//
//   rtt' = 1 + max(0, rtt - classBaseline) / reference
//
// a dimensionless inflation: 1 means "as fast as this class gets without a queue". The excess
// over the class's own baseline is the time the request waited (for a pool slot, for the event
// loop), and routes that share a downstream wait the same time: so it is measured against one
// reference, the traffic-weighted average of the classes' baselines -- the mean service time, as
// for a single route, where this is exactly rtt / baseline. Dividing each class's wait by its own
// baseline instead would make the cheapest route scream: a 2 ms wait is 3x for a 1 ms route and
// shed the service at 80 % load. No mix of classes, and no shift of the mix, moves the
// algorithm's own baseline (it settles at 1).
//
// A class's baseline is the minimum over its last RING windows of each window's low quantile:
// - Falling: a window whose low quantile is below the baseline lowers it. Queueing only ever
//   adds latency, so such a window proves the baseline too high (a cold start, a cache that
//   warmed up). A few freak fast samples cannot do it: a quarter of the window must be that fast,
//   and for windows of any samples, two windows in a row.
//   Two kinds of windows may lower it: windows of any samples (WINDOW long), and short windows
//   (LOW_WINDOW) of samples admitted at low concurrency (at most 60 % of the recent peak limit in
//   flight), taken at their median. Under overload, those come only from the algorithm's
//   baseline probes, which cap the limit at half for a round trip, and a probe yields only about
//   ten samples: a short window
//   lets each probe correct a baseline learned during a cold start, which a queue would
//   otherwise hide for good. A window lowers the baseline by at most half at a time. The peak decays by PEAK_DECAY per sample (~700 samples to halve),
//   far slower than a probe lasts.
// - Rising: only windows of samples admitted while the service had spare capacity (at most half
//   the limit in flight) enter the ring otherwise, and the baseline rises only once RING of them
//   in a row say so. Under overload even a probe's samples may queue (half of a limit that is
//   twice too high is still too high), and letting them raise the baseline would let a sustained
//   queue become the new "no load": the limit would creep up. So under sustained overload a
//   class's baseline only falls; a service that became uniformly slower is caught by the
//   algorithm's own probes, which re-measure its baseline of these relative latencies.
// The clamp at 1 keeps a sample faster than its class's baseline from reading as "less than no
// queue": the algorithm's own baseline stays at 1 instead of chasing each class's fastest moment.
//
// Long-lived: a class is marked `longLived` (the plugin then stops holding a permit for its
// requests: long-polls, routes that wait on an event rather than on capacity) once half of its
// last WINDOW samples are `longLivedAfter` or longer, counted over a sliding window: polls that
// clients open together (after a deploy) end early for a while, as their events come, and their
// first long answers come only a second later, so each sample counts as it arrives rather than
// when a window of them closes (that had cost a second more of permits held by polls). Only a class's own history can say so, and a class that has been fast for long is not
// asked again: after RING windows mostly below the threshold (160 samples) it is latched ordinary for
// good, so a downstream that hangs on a route that used to be fast stays an overload. Its hung
// requests could not teach it anyway: past `signal.timeout` and far slower than the class's
// baseline they are drops, and drops are never observed. Long-lived is for good too: the class
// gets no more samples: those of its requests admitted before it was learned are not fed either.
//
// Until its first window closes a class has no baseline and its samples are not fed to the
// algorithm (nothing to compare with yet), except drops, which always are: a drop is an overload
// signal whatever the latency. Nor are samples of `longLivedAfter` or more of a class that may
// still be long-lived (see mayBeLongLived): until its route is decided, a poll's answer is not an
// overload. Classes are capped (`max`): past the cap, a new class's samples
// are not fed either, and are counted in `unsampled`.
import type { Sample } from '../algorithms/types'
import { WindowQuantile } from '../algorithms/window-quantile'

/** Samples per window. */
const WINDOW = 20
/**
 * Samples per low-concurrency window. Under overload these come only from the algorithm's
 * probes, about ten samples each, spread over the classes: a window that fills within one
 * probe lets each probe correct a baseline learned too high (a cold start) at once.
 */
const LOW_WINDOW = 5
/** The sliding window of long samples as bits. */
const RECENT_MASK = (1 << WINDOW) - 1
/** Windows the baseline is the minimum of. */
const RING = 8

/** A class whose baseline is at least this share of `longLivedAfter` may have long-lived requests. */
const LONG_BASELINE = 0.25
/** At most this fraction of the recent peak limit in flight is "low concurrency": a probe's half limit, with room for rounding and decay. */
const LOW_LOAD = 0.6
/** Per sample: the reference follows the mix over a few hundred samples. */
const REFERENCE_DECAY = 0.005
/** Per sample: the peak limit forgets a level in ~700 samples, far longer than a probe. */
const PEAK_DECAY = 0.999

/** The least weight a sample gets (see Sample.weight, which must be above 0). */
const MIN_WEIGHT = 1e-6

export const DEFAULT_MAX_SAMPLE_CLASSES = 1000
/** A class half of whose last 20 samples are at least this long (ms) is long-lived. */
export const DEFAULT_LONG_LIVED_AFTER_MS = 1000

export class SampleClass {
  readonly name: string
  /** No-load latency in ms; Infinity until the first window closed. */
  baseline = Infinity
  /** Samples seen (success or drop). */
  samples = 0
  /** Learned: a window of its samples was long (see the top of this file). */
  longLived = false
  /** A window's low quantile from which on a class is long-lived (ms); Infinity: never. */
  private readonly longLivedAfter: number
  /** Windows mostly below `longLivedAfter`; at RING the class is latched ordinary. */
  private fastWindows = 0
  /** Samples of the open window at `longLivedAfter` or longer. */
  private longInWindow = 0
  /** The last WINDOW samples, one bit each: 1 for `longLivedAfter` or longer (newest lowest). */
  private recent = 0
  /** Ones in `recent`. */
  private recentLong = 0
  private readonly all = new WindowQuantile(WINDOW)
  // Its median: five samples are too few for a low quantile that two freak answers could set.
  private readonly lowLoad = new WindowQuantile(LOW_WINDOW, 0.5)
  private readonly spare = new WindowQuantile(WINDOW)
  private readonly ring = new Float64Array(RING).fill(Infinity)
  private next = 0
  /** A lower window of any samples, waiting for the next one to confirm it. */
  private pendingLow = NaN

  constructor (name: string, longLivedAfter = DEFAULT_LONG_LIVED_AFTER_MS) {
    this.name = name
    this.longLivedAfter = longLivedAfter
  }

  /**
   * One healthy sample's latency (ms). `lowLoad`: admitted at low concurrency (may lower the
   * baseline); `spare`: admitted while the service had spare capacity (may raise it).
   */
  observe (rtt: number, lowLoad: boolean, spare: boolean): void {
    this.samples++
    const long = rtt >= this.longLivedAfter ? 1 : 0
    this.longInWindow += long
    this.recentLong += long - ((this.recent >>> (WINDOW - 1)) & 1)
    this.recent = ((this.recent << 1) | long) & RECENT_MASK
    if (2 * this.recentLong >= WINDOW && this.fastWindows < RING) this.longLived = true
    const low = this.all.add(rtt)
    // NaN: the window is still open.
    if (!Number.isNaN(low)) this.judgeLongLived()
    this.confirmLower(low)
    // The first baseline comes from a whole window.
    if (lowLoad && this.baseline !== Infinity) this.lower(this.lowLoad.add(rtt))
    if (spare) {
      const quiet = this.spare.add(rtt)
      if (!Number.isNaN(quiet)) this.push(quiet)
    }
  }

  /**
   * A request of this class that has grown old may be a long-poll rather than a hung downstream
   * (lib/longlived/aging.ts): the class is long-lived already, or it is not latched ordinary and
   * its own no-load latency is long (LONG_BASELINE of `longLivedAfter` or more) or not known yet.
   * A route whose polls' first answers came early (clients connecting over the first seconds)
   * has a fast first window but a baseline of hundreds of ms; a 25 ms route that hangs has not.
   */
  get mayBeLongLived (): boolean {
    return this.longLived || (this.fastWindows < RING && this.baseline >= LONG_BASELINE * this.longLivedAfter)
  }

  /** A window closed: mostly short, it counts towards latching the class ordinary. */
  private judgeLongLived (): void {
    if (2 * this.longInWindow < WINDOW) this.fastWindows++
    this.longInWindow = 0
  }

  /**
   * A window of any samples lowers the baseline only if the next one agrees: a burst of freak
   * answers fills one window's fastest quarter now and then, two in a row almost never, while a
   * real change (a warmed cache, the end of a cold start) lasts.
   */
  private confirmLower (low: number): void {
    if (Number.isNaN(low)) return
    if (this.baseline === Infinity) {
      this.push(low)
    } else if (low >= this.baseline) {
      this.pendingLow = NaN
    } else if (Number.isNaN(this.pendingLow)) {
      this.pendingLow = low
    } else {
      this.lower(Math.max(low, this.pendingLow))
      this.pendingLow = NaN
    }
  }

  /**
   * A window may lower the baseline by at most half: a cache that warmed up 10x takes a few
   * windows, and a window that happened to catch a burst of freak answers costs a 2x error at
   * most, not the 1000x that would read every later sample as a huge queue.
   */
  private lower (low: number): void {
    // NaN (no window closed) compares false.
    if (low < this.baseline) this.push(this.baseline === Infinity ? low : Math.max(low, this.baseline / 2))
  }

  private push (value: number): void {
    const ring = this.ring
    ring[this.next] = value
    this.next = (this.next + 1) % RING
    let min = Infinity
    for (let i = 0; i < RING; i++) if (ring[i] < min) min = ring[i]
    this.baseline = min
  }
}

export interface SampleClassStats {
  /** Classes seen so far (at most `max`). */
  classes: number
  /** Classes with a baseline: their samples reach the algorithm. */
  learned: number
  /** Samples not fed to the algorithm because their class came past the cap. */
  unsampled: number
}

export class SampleClasses {
  readonly max: number
  /** See SampleClass: from which no-load latency (ms) a class is long-lived; Infinity: never. */
  readonly longLivedAfter: number
  /** Used for permits that name no class. */
  readonly fallback: SampleClass
  private readonly byName = new Map<string, SampleClass>()
  private unsampled = 0
  /** Traffic-weighted average of the sampled classes' baselines (ms): the scale of queueing delay. */
  private reference = Infinity
  /** Samples averaged into the reference so far (see normalize). */
  private referenceSamples = 0
  /** The recent peak limit, against which "low concurrency" is judged. */
  private peak = 0
  /** Reused for every normalized sample: the algorithm must not keep it past onSample. */
  private readonly sample: Sample = { rtt: 0, inflight: 0, dropped: false, at: 0, weight: 1, burst: false, limited: false }

  constructor (max = DEFAULT_MAX_SAMPLE_CLASSES, longLivedAfter = DEFAULT_LONG_LIVED_AFTER_MS) {
    this.max = max
    this.longLivedAfter = longLivedAfter
    this.fallback = this.get('default') as SampleClass
  }

  /** The class of this name, created on first use; null once `max` classes exist. */
  get (name: string): SampleClass | null {
    let cls = this.byName.get(name)
    if (cls === undefined) {
      if (this.byName.size >= this.max) return null
      cls = new SampleClass(name, this.longLivedAfter)
      this.byName.set(name, cls)
    }
    return cls
  }

  /**
   * The sample the algorithm should see for this completed request, or undefined for none.
   * `cls` null: the class came past the cap. `limit`: the limit now, to tell low-load samples.
   */
  normalize (raw: Sample, cls: SampleClass | null, limit: number): Sample | undefined {
    const peak = this.peak * PEAK_DECAY
    this.peak = limit > peak ? limit : peak
    if (cls === null) {
      this.unsampled++
      return raw.dropped ? raw : undefined
    }
    // A long-lived class's requests admitted before it was learned still end with a sample: a 3 s
    // poll read against a baseline taken from its peers' ages so far (1 s, lib/longlived/aging.ts)
    // would be a huge queue, and its baseline would pull the reference.
    if (cls.longLived && !raw.dropped) return undefined
    const baseline = cls.baseline
    if (baseline !== Infinity) {
      // A plain mean over the first 1 / REFERENCE_DECAY samples, then exponential. The first class
      // learned seeds it (in a cached mix, the cached answers, whose first window closes first);
      // moved only 0.5 % per sample from there, it would stay a small fraction of the mix's mean
      // for a second, reading a 100 ms route's waits as a queue several times too long: a probe
      // then finds latency "scaling" with concurrency, cuts the limit by half and probes again at
      // a quarter of it (2 of 16 for 400 ms).
      const step = Math.max(REFERENCE_DECAY, 1 / ++this.referenceSamples)
      this.reference = this.reference === Infinity ? baseline : this.reference + (baseline - this.reference) * step
    }
    const out = this.sample
    out.rtt = baseline === Infinity || raw.rtt <= baseline ? 1 : 1 + (raw.rtt - baseline) / this.reference
    out.inflight = raw.inflight
    out.dropped = raw.dropped
    out.at = raw.at
    out.burst = raw.burst
    out.limited = raw.limited
    // The share of a round trip this sample stands for: a class faster than the traffic's mean
    // holds its permit for that fraction of it (see Sample.weight).
    // A class answered in 0 ms (timer resolution) still stands for almost nothing, not for a
    // whole round trip: a weight of 0 reads as "absent" (1) to the algorithm.
    out.weight = baseline === Infinity || baseline >= this.reference ? 1 : Math.max(baseline / this.reference, MIN_WEIGHT)
    // A failed request's latency says nothing about no-load speed (a failing downstream is fast).
    if (raw.dropped) return out
    // A request of `longLivedAfter` or more on a route still undecided (its own no-load latency
    // long, not latched ordinary) is more likely a poll than a queue: it teaches its class, and
    // the algorithm does not read a 3 s answer against a 300 ms baseline as a 10x overload.
    const undecided = raw.rtt >= this.longLivedAfter && cls.mayBeLongLived
    cls.observe(raw.rtt, raw.inflight <= LOW_LOAD * this.peak, raw.inflight * 2 <= limit)
    return baseline === Infinity || undecided ? undefined : out
  }

  stats (): SampleClassStats {
    let learned = 0
    for (const cls of this.byName.values()) if (cls.baseline !== Infinity) learned++
    return { classes: this.byName.size, learned, unsampled: this.unsampled }
  }

  /** The names of the classes learned long-lived. */
  longLived (): string[] {
    const out: string[] = []
    for (const cls of this.byName.values()) if (cls.longLived) out.push(cls.name)
    return out
  }

  /** Each class's baseline (ms), slowest first, at most `n` of them. */
  baselines (n: number): Array<{ name: string, baseline: number, samples: number }> {
    const out: Array<{ name: string, baseline: number, samples: number }> = []
    for (const cls of this.byName.values()) {
      if (cls.baseline !== Infinity) out.push({ name: cls.name, baseline: cls.baseline, samples: cls.samples })
    }
    return out.sort((a, b) => b.baseline - a.baseline).slice(0, n)
  }
}
