// The no-load RTT ("baseline") that Vegas, Gradient and Gradient2 compare latency against.
//
// A plain running minimum has two failure modes: one freak fast sample pins it forever (and
// every later sample then looks like queueing, so the limit collapses), and naive re-probing
// ("the next sample is the new baseline") under sustained load adopts the loaded RTT, after
// which queueing is never detected again. So:
// - Between probes the baseline only falls, and only to the low quantile of a whole window of
//   samples (`baselineWindow`, default 20: its 5th fastest). One fast sample, or a few, cannot
//   move it; a window whose quarter is faster than the baseline is evidence that it is too high.
// - It rises only through a probe, the way a queueing system allows: every `probeInterval`
//   samples the algorithm caps its limit at `probeRatio` x limit (the in-flight count drains to
//   that level), and the low quantile of the next `probeSamples` samples *admitted near that cap*
//   becomes the new baseline: at most halfway from the cap back to the limit before the probe.
//   Requests admitted before the cap took effect carry an inflight near the old limit and are
//   ignored, so they cannot smuggle the old queue into the new baseline. The margin is for
//   limiters that admit past the limit by design: a protected partition's guarantee (Netflix's
//   "17 in flight" at limit 10) keeps in-flight a permit or two above the cap for the whole probe.
//
// A probe result above the current baseline is adopted only if latency did not scale with
// concurrency. Past capacity, RTT grows in proportion to concurrency (Little's law); so if the
// RTT just before the probe (at concurrency c) is at least (c / probe cap)^0.75 times the
// probe's RTT -- most of the way to proportional -- the probe itself still saw a queue, and
// adopting it would ratchet the baseline up probe after probe. A too-low baseline corrects
// itself: it makes every RTT look like queueing, the limit shrinks below the real capacity, and
// there latency no longer scales with concurrency, so the next probe adopts. When the limit has
// shrunk all the way to minLimit, the probe cannot lower concurrency at all and the scaling test
// has nothing to compare: the probe's result is then the best no-load estimate there is, and it
// is adopted (otherwise a too-low baseline would hold the limit at the floor for good).
// A too-high baseline (the first samples came from an overloaded service) shows the other
// way: the probe still sees latency scale with concurrency. Then the next probe comes
// sooner and goes deeper (ratio^2, ratio^3, ... of the limit, never under minLimit) until it
// reaches a level with no queue.
//
// A probe costs nothing when traffic is light: samples admitted at or below the cap outside a
// probe are the same measurement, so a window of `probeSamples` of them counts as a probe (the
// same adoption rule), and a capped probe is only needed under sustained load.
//
// Each probe halves admissions for a round trip or two: traffic that needs all of the capacity
// (a protected partition, active sessions) is queued or shed meanwhile, as Envoy's pinned minRTT
// windows shed in bursts. So a probe does not start while requests wait behind a burst (a sample
// marked `burst`): at 80 % load with 200 ms bursts, the warm-up probes landed in the bursts and
// added their round trips to the bursts' own backlog; it runs once the backlog has drained (or
// after `probeInterval` such samples). At a high request rate `probeInterval` samples pass in well
// under a second, so when samples carry their completion time (`at`), a routine probe also waits
// `probeMinInterval` ms after the last one. A deeper retry (the last probe still saw a queue)
// does not wait: until it runs, the baseline is known to be wrong.
import type { OptionReader } from './common'
import { WindowQuantile } from './window-quantile'

export const PROBE_KEYS = ['probeInterval', 'probeMinInterval', 'probeRatio', 'probeSamples', 'baselineWindow'] as const

export interface ProbeOptions {
  /** Samples between two baseline probes. Default 1000. */
  probeInterval?: number
  /** Least time (ms) between two routine probes, for samples that carry `at`. Default 5000; 0 for none. */
  probeMinInterval?: number
  /** Limit during a probe, as a fraction of the limit. Default 0.5. */
  probeRatio?: number
  /** Samples (admitted near the probe cap) whose low quantile becomes the new baseline. Default 10. */
  probeSamples?: number
  /**
   * Samples per window whose low quantile (the fastest quarter's slowest) may lower the baseline
   * between probes. Default 20; 1 makes the baseline a running minimum, as in the reference algorithms.
   */
  baselineWindow?: number
}

export interface ProbeSettings {
  interval: number
  minInterval: number
  ratio: number
  samples: number
  window: number
}

export function readProbe (r: OptionReader): ProbeSettings {
  return {
    interval: r.integer('probeInterval', 1000, 1, Number.MAX_SAFE_INTEGER),
    minInterval: r.number('probeMinInterval', 5000, 0, Infinity),
    ratio: r.number('probeRatio', 0.5, 0, 1, { minExclusive: true }),
    samples: r.integer('probeSamples', 10, 1, 100_000),
    window: r.integer('baselineWindow', 20, 1, 100_000)
  }
}

/** For this long after the first sample (ms), routine probes do not wait probeMinInterval. */
const WARMUP_MS = 10_000

/** A probe raises the baseline only past this multiple of it. */
const RAISE_MARGIN = 1.2

/** Weight of a probe's result within RAISE_MARGIN of the baseline (an average over probes). */
const PROBE_WEIGHT = 0.5

/** Grid (ms) of warm-up probes and deeper retries on a shared clock. */
const SHORT_GRID_MS = 1000

/** A probe needs this many probeSamples' weight of loaded samples since the last one (a fresh loaded RTT). */
const FRESH = 3

/** Fewest samples of a probe split among processes (its low quantile is then the 2nd lowest). */
const MIN_GROUP_SAMPLES = 5

/** How close to proportional (exponent 1) RTT must scale with concurrency to count as a queue. */
const QUEUE_EVIDENCE = 0.75

export class BaselineProbe {
  /** The no-load RTT estimate (ms); Infinity until the first window of healthy samples closed. */
  rtt = Infinity
  /** Limit cap while a probe runs, Infinity otherwise. */
  cap = Infinity
  /** Highest in-flight (at admission) of a sample that counts toward the running probe. */
  private qualifying = Infinity
  probes = 0
  /** A capped probe has measured the baseline without a queue (light traffic alone does not confirm it). */
  confirmed = false
  /**
   * Loaded RTT / probe RTT of the last capped probe that still saw latency scale with
   * concurrency (0: none since the algorithm read it). Only in shared mode.
   */
  excess = 0
  private readonly shared: boolean
  private readonly settings: ProbeSettings
  private sinceProbe = 0
  /** Completion time of the sample that ended the last probe (NaN: none yet, or samples without `at`). */
  private lastProbeAt = NaN
  /** Time of the first sample (NaN: none yet, or samples without a time). */
  private firstAt = NaN
  private lastAt = NaN
  /**
   * Another process on the backend is warming up (coordination): probe on its short grid too, so
   * that its probes, which would otherwise run alone in the queue the others keep, drain it.
   */
  groupWarming = false
  private seen = 0
  /** Samples a due probe has waited behind a burst (see observe). */
  private held = 0
  /** The running probe's qualifying samples. */
  private probeWindow: WindowQuantile
  /** Healthy samples admitted below the probe cap outside probes: a probe for free. */
  private readonly natural: WindowQuantile
  /** Healthy samples outside probes, whose windows may lower the baseline. */
  private readonly window: WindowQuantile
  /**
   * The "loaded" RTT a probe compares with: a short average of RTT outside probes, kept as a
   * decayed sum and count (see loadedRtt).
   */
  private loadedSum = 0
  private loadedCount = 0
  private readonly loadedDecay: number
  /**
   * Weight of the samples outside probes since the last probe ended: the loaded RTT is fresh
   * (holds little from before the probe) only after FRESH x probeSamples of it.
   */
  private freshWeight = 0
  /** Cap / limit of the running probe: how much it reduced concurrency. */
  private fraction = 1
  private floor = 1
  /** Fraction of the limit the next probe caps at; shrinks while probes still see a queue. */
  private depth: number

  /**
   * `shared`: the backend may be shared with other processes that run the same algorithm (see
   * `due`, `adoptable`); the algorithms that leave it off keep the single-process rules.
   */
  constructor (settings: ProbeSettings, shared = false) {
    this.settings = settings
    this.shared = shared
    this.loadedDecay = 2 / (settings.samples + 1)
    this.depth = settings.ratio
    this.probeWindow = new WindowQuantile(settings.samples)
    this.natural = new WindowQuantile(settings.samples)
    this.window = new WindowQuantile(settings.window)
  }

  /** False until the first window closed: until then there is nothing to compare latency with. */
  get known (): boolean {
    return this.rtt !== Infinity
  }

  get probing (): boolean {
    return this.cap !== Infinity
  }

  /**
   * Feed one healthy sample. Returns true while a probe is running: the algorithm should hold
   * its estimate, because samples taken under the cap say nothing about the uncapped limit.
   * `burst`: requests wait behind a burst (Sample.burst); a capped probe due now waits until a
   * sample without it, when the burst's backlog has drained, or `interval` samples at most.
   * `weight`: the sample's share of a round trip (Sample.weight), by which the loaded RTT forgets.
   */
  observe (rtt: number, inflight: number, estimate: number, minLimit: number, at?: number, burst = false, weight = 1): boolean {
    if (at !== undefined) {
      if (Number.isNaN(this.firstAt)) this.firstAt = at
      this.lastAt = at
    }
    if (this.probing) {
      this.seen++
      if (inflight <= this.qualifying) {
        const probeRtt = this.probeWindow.add(rtt)
        if (!Number.isNaN(probeRtt)) {
          const loaded = this.loadedRtt
          this.finish(this.adoptable(probeRtt), at)
          if (this.depth === this.settings.ratio) this.confirmed = true
          else if (this.shared) this.excess = loaded / probeRtt
        }
      } else if (this.seen >= this.settings.interval) {
        // Nothing got admitted near the cap for a whole interval (the caller ignored it):
        // give up rather than hold the limit down forever; the old baseline stays.
        this.sinceProbe = 0
        this.depth = this.settings.ratio
        this.finish(this.rtt, at)
      }
      return true
    }
    const low = this.window.add(rtt)
    if (low < this.rtt) this.rtt = low
    // Every sample counts once, and the average forgets by weight, as Gradient2's recent mean
    // does. With per-route classes, nine cached answers (relative RTT 1, weight near 0) to one
    // slow request, an average over the last ten samples by count holds zero, one or two slow
    // ones: without any queue, 90 % cached and a slow route's own +-20 % spread, it reads past the
    // 1.68 that marks a queue after a half-limit probe 6 % of the time (0.1 % by weight), and each
    // such reading takes a deeper probe and cuts the limit by up to half.
    const keep = 1 - this.loadedDecay * weight
    this.loadedSum = this.loadedSum * keep + rtt
    this.loadedCount = this.loadedCount * keep + 1
    this.freshWeight += weight
    // Traffic below the probe's cap already is the measurement a probe would make, at no cost:
    // a window of such samples counts as a probe, and no capped one is needed.
    if (inflight <= Math.floor(estimate * this.settings.ratio)) {
      const quiet = this.natural.add(rtt)
      if (!Number.isNaN(quiet)) {
        this.fraction = this.settings.ratio
        this.floor = minLimit
        this.cap = Math.max(minLimit, Math.floor(estimate * this.settings.ratio))
        // Lower only: light traffic of this process says nothing about a queue that other
        // processes keep at a shared backend, so it must not raise the baseline.
        const adopted = this.adoptable(quiet)
        this.finish(this.shared ? Math.min(adopted, this.rtt) : adopted, at)
        return false
      }
    }
    // A deeper retry (depth below the ratio: the last probe still saw a queue) does not wait, nor
    // does a probe at minLimit: its cap is the limit, so it costs no admission at all, and a limit
    // held at the floor is the very sign of a baseline that may be too low.
    // Held behind a burst for at most `interval` samples: a queue that never empties and never
    // turns standing must not keep the baseline from ever being measured again.
    if (this.due(++this.sinceProbe, estimate, minLimit, at) && !(burst && ++this.held <= this.settings.interval)) {
      this.held = 0
      this.cap = Math.max(minLimit, Math.floor(estimate * this.depth))
      this.qualifying = this.cap + Math.max(1, Math.floor((estimate - this.cap) / 2))
      this.fraction = this.cap / estimate
      this.floor = minLimit
      this.seen = 0
      this.probeWindow.clear()
      this.natural.clear()
    }
    return false
  }

  /** The loaded RTT: the decayed mean of RTT outside probes; -1 before any sample. */
  private get loadedRtt (): number {
    return this.loadedCount === 0 ? -1 : this.loadedSum / this.loadedCount
  }

  private adoptable (probeRtt: number): number {
    // A probe that could not lower concurrency (the limit sits at minLimit) has no scaling to
    // test: what it saw at the lowest concurrency allowed is the best no-load estimate there is.
    const queued = this.fraction < 1 && this.loadedRtt >= probeRtt * Math.pow(this.fraction, -QUEUE_EVIDENCE)
    // At minLimit a deeper probe is impossible: take what this one saw and wait a full interval.
    if (queued && this.cap > this.floor) {
      this.depth *= this.settings.ratio
      // Retry soon: once the loaded RTT is fresh again (see due), and the probe a few samples more.
      this.sinceProbe = this.settings.interval - Math.max(3 * this.probeWindow.size, Math.ceil(this.settings.interval / 10))
    } else {
      this.depth = this.settings.ratio
      this.sinceProbe = 0
    }
    if (queued || !this.shared) return !queued || probeRtt < this.rtt ? probeRtt : this.rtt
    // Shared: a result within RAISE_MARGIN of the baseline is noise, not a changed service, and
    // only moves it part of the way. Processes that share a backend must keep about the same
    // baseline: the one that drew a higher value tolerates a queue the others do not, and takes
    // their share.
    if (probeRtt > this.rtt * RAISE_MARGIN || probeRtt * RAISE_MARGIN < this.rtt) return probeRtt
    return this.rtt + (probeRtt - this.rtt) * PROBE_WEIGHT
  }

  /** In the first seconds (WARMUP_MS) of samples that carry a time, or before any. */
  get warming (): boolean {
    return Number.isNaN(this.firstAt) || this.lastAt - this.firstAt < WARMUP_MS
  }

  /**
   * `peers` processes that share the backend probe together (coordination): each needs only its
   * part of the probe's samples, so that a probe, during which the whole group runs at a fraction
   * of its limit, lasts as long as one process's alone would. Not while a probe runs.
   */
  group (peers: number): void {
    const size = Math.max(MIN_GROUP_SAMPLES, Math.ceil(this.settings.samples / peers))
    if (this.probing || size === this.probeWindow.size) return
    this.probeWindow = new WindowQuantile(Math.min(size, this.settings.samples))
  }

  /**
   * Whether a capped probe starts now: after `interval` samples, and then a routine probe only
   * `minInterval` after the last one. In shared mode, samples that carry a time on a clock the
   * processes share (the plugin's: epoch milliseconds) probe on a grid of that clock instead:
   * routine probes at each multiple of minInterval, warm-up probes and deeper retries at each
   * whole second, once 3 x probeSamples samples' weight has given a fresh loaded RTT. So processes that
   * share a backend cap their limits at the same moment and its queue drains for everyone's
   * probe; a probe taken by one process alone measures the queue the others keep and reads it as
   * "no load" (its own concurrency does not change it).
   */
  private due (since: number, estimate: number, minLimit: number, at: number | undefined): boolean {
    // A probe compares with the loaded RTT: it must hold little from before the last probe.
    if (this.freshWeight < Math.min(this.settings.interval, FRESH * this.probeWindow.size)) return false
    const every = this.settings.minInterval
    if (!this.shared || at === undefined || every === 0) {
      return since >= this.settings.interval && (this.depth < this.settings.ratio || estimate <= minLimit || !this.tooSoon(at))
    }
    if (estimate <= minLimit) return since >= this.settings.interval || !this.tooSoon(at)
    const grid = this.depth < this.settings.ratio || at - this.firstAt < WARMUP_MS || this.groupWarming ? Math.min(every, SHORT_GRID_MS) : every
    // The first probe too waits for a grid line, so that processes started together probe together.
    const last = Number.isNaN(this.lastProbeAt) ? this.firstAt : this.lastProbeAt
    return Math.floor(at / grid) !== Math.floor(last / grid)
  }

  /**
   * A routine probe within minInterval of the last one. Without a time on the sample, never.
   * Never in the first WARMUP_MS either: a process warms up (JIT, caches, connection pools) in
   * its first seconds, so the baselines learned then are the least reliable, and each probe
   * re-measures them.
   */
  private tooSoon (at: number | undefined): boolean {
    if (at === undefined) return false
    return at - this.firstAt >= WARMUP_MS && at - this.lastProbeAt < this.settings.minInterval
  }

  private finish (baseline: number, at: number | undefined): void {
    this.freshWeight = 0
    this.lastProbeAt = at === undefined ? NaN : at
    this.rtt = baseline
    this.cap = Infinity
    this.probes++
  }
}
