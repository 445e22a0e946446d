// Gradient2: compare each RTT with a long-term average RTT, g = clamp(rttTolerance * longRtt /
// rtt, 0.5, 1), and move the limit toward g * L (+ headroom while g = 1), smoothed.
//
// Deviations from the reference, each fixing a reported failure:
// - drops back off multiplicatively (the reference ignores them; a failing downstream answers
//   fast and would look healthy);
// - headroom is added only when g = 1, and it is queueSize per round trip (L samples at full
//   use), not per sample: per sample, growth is proportional to throughput and a constant RTT
//   (the long average catches up with it) lets the limit creep to maxLimit in a few hundred
//   samples;
// - the gradient is also taken against a probed no-load RTT (see baseline.ts), so a long
//   average that drifted up with a sustained queue cannot hide that queue;
// - the gradient is taken on the mean latency of about the last quarter round trip, not on each
//   sample, and each sample steps by its weight (its share of a round trip, from the per-route
//   classes): with a share of requests that never wait (cached answers) each of their samples
//   read "no queue" and voted to grow, and the limit crept to 4x the queue it should keep.
import { ADAPTIVE_KEYS, AdaptiveLimit, OptionReader, clamp, readAdaptive, round3 } from './common'
import { BaselineProbe, PROBE_KEYS, readProbe, type ProbeOptions } from './baseline'
import { KEPT_SPARE, type BaseLimitOptions, type CoordinatedLimit, type PeerReport, type PeerView, type Sample } from './types'

export interface Gradient2LimitOptions extends BaseLimitOptions, ProbeOptions {
  /** RTT may reach rttTolerance x the long-term RTT before the limit shrinks, >= 1. Default 1.5. */
  rttTolerance?: number
  /**
   * RTT may reach noLoadTolerance x the probed no-load RTT before the limit shrinks, >= 1. Default
   * 1.35. With `coordination` and other processes on the backend, 70 % of the excess (1.245).
   */
  noLoadTolerance?: number
  /** Weight of the new limit, in (0, 1]. Default 0.2. */
  smoothing?: number
  /**
   * Headroom added per round trip while RTT is within tolerance, >= 0. Default 2. With
   * `coordination`, divided among the processes that share the backend.
   */
  queueSize?: number
  /** Headroom added per round trip while RTT is within tolerance, as a fraction of the limit, >= 0. Default 0.1. */
  headroom?: number
  /** Samples in the long-term RTT average (exponential), >= 1. Default 600. */
  longWindow?: number
  /** Multiplier applied on a drop, in [0.5, 1). Default 0.9. */
  backoffRatio?: number
  /** Double the limit per fully-used round trip until RTT exceeds a tolerance. Default true. */
  slowStart?: boolean
}

/** The long average is a plain mean over this many first samples, then exponential. */
const WARMUP_SAMPLES = 10

/**
 * How far below the group's median limit one process's limit may stay. The processes read one
 * queue, each against its own baseline and from its own few samples (at 8 processes a limit of
 * about 2.6 completes 2.6 samples per round trip), so between two intervals their limits wander
 * apart, and what the hold at each interval lets one keep, it keeps: on the cluster benchmark, 8
 * processes at 5x keep mean limits 1.21-1.24x apart with a floor of 0.85 x the median and
 * 1.06-1.18x with 0.95 (docs/algorithms.md).
 */
const SPREAD = 0.05

/**
 * The share of noLoadTolerance's queue a coordinated group of processes tolerates. Their limits
 * step independently between the intervals that hold them together, and the rounding offsets let
 * their sum exceed what one process's floor would admit: on the cluster benchmark (16 slots, 2x)
 * a group kept a backend queue of 4.8-4.9 requests at the tolerance that keeps one process at
 * 3.6, and 2.6-3.2 at 70 % of it.
 */
const GROUP_TOLERANCE = 0.7

/**
 * The recent mean latency spans this share of a round trip (L samples of full weight), and at
 * least MIN_SPAN samples' weight: long enough to average a slow route's own spread, short enough
 * that a decision lags the queue it reads by little (with half a round trip, the limits of
 * coordinated processes drifted further apart in test/algorithms/coordinate.test.ts's model).
 */
const SPAN = 0.25
const MIN_SPAN = 2

export class Gradient2Limit extends AdaptiveLimit implements CoordinatedLimit {
  readonly name = 'gradient2'
  private readonly rttTolerance: number
  private readonly noLoadTolerance: number
  /** The tolerance while coordinated with other processes (GROUP_TOLERANCE of the excess). */
  private readonly groupTolerance: number
  private readonly smoothing: number
  private readonly queueSize: number
  private readonly headroom: number
  private readonly decay: number
  private readonly probe: BaselineProbe
  private longRtt = 0
  private longCount = 0
  private lastRtt = 0
  private gradient = 1
  private readonly initialLimit: number
  /** Processes sharing the backend, per the last coordination view (1: local control). */
  private peers = 1
  private rounds = 0
  /** In flight at each completion since the last report (probes left out), with peers: sum and count. */
  private usedSum = 0
  private usedCount = 0
  /** The limit turned requests away since the last report (Sample.limited), probes left out. */
  private turnedAway = false
  /** The previous sample was taken during a probe (whose refusals the next one may still carry). */
  private probedLast = false
  /** This process's spare at its last report (PeerReport.spare). */
  private spare = NaN
  /** The median the last view held this limit under, and the permits it may borrow above it. */
  private heldAt = NaN
  private borrowed = 0
  /** The recent mean latency's decayed sum and count (see recentMean). */
  private meanSum = 0
  private meanCount = 0

  constructor (options: Gradient2LimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options, [...ADAPTIVE_KEYS, ...PROBE_KEYS,
      'rttTolerance', 'noLoadTolerance', 'smoothing', 'queueSize', 'headroom', 'longWindow'])
    super(readAdaptive(r, { initialLimit: 20, minLimit: 1, maxLimit: 200 }))
    this.initialLimit = this.estimate
    this.rttTolerance = r.number('rttTolerance', 1.5, 1, Infinity)
    this.noLoadTolerance = r.number('noLoadTolerance', 1.35, 1, Infinity)
    this.groupTolerance = 1 + (this.noLoadTolerance - 1) * GROUP_TOLERANCE
    this.smoothing = r.fraction('smoothing', 0.2)
    this.queueSize = r.number('queueSize', 2, 0, Infinity)
    this.headroom = r.number('headroom', 0.1, 0, Infinity)
    this.decay = 2 / (r.integer('longWindow', 600, 1, Number.MAX_SAFE_INTEGER) + 1)
    this.probe = new BaselineProbe(readProbe(r), true)
  }

  protected update (sample: Sample): void {
    const rtt = sample.rtt
    this.lastRtt = rtt
    this.updateLongRtt(rtt)
    // A sample moves the limit by its share of a round trip: nine cached answers to one slow
    // request must not take nine steps per round trip of the slow one.
    const w = sample.weight
    const weight = w !== undefined && w > 0 && w < 1 ? w : 1
    // Every sample counts in the mean, probes' included, so that it reads the traffic as it is
    // when the probe ends. The probes themselves compare with each sample's latency: fed this
    // mean, 8 coordinated processes' probes cost 300-500 ms p99 spikes in 4 of 7 runs.
    const mean = this.recentMean(rtt, weight)
    const probing = this.probe.observe(rtt, sample.inflight, this.estimate, this.minLimit, sample.at, sample.burst === true, weight)
    this.cap = this.probe.cap
    // Only a process with peers to lend to or borrow from reports what it left unused, and whether
    // it turned requests away. A probe turns requests away by design.
    if (!probing && this.peers > 1) {
      this.usedSum += sample.inflight
      this.usedCount++
      if (sample.limited === true && !this.probedLast) this.turnedAway = true
    }
    this.probedLast = probing
    // Until the first window of samples closed there is no no-load RTT to compare with.
    if (this.probe.excess > 0) {
      // A probe just showed latency scaling with concurrency: the limit is above what the backend
      // serves without a queue by about that factor. Cut it now (by at most half) instead of
      // 10 % per round trip, whose round trips are themselves stretched by that queue.
      this.setEstimate(this.estimate * clamp(this.tolerance() / this.probe.excess, 0.5, 1))
      this.probe.excess = 0
    }
    if (probing || !this.probe.known) return

    this.gradient = Math.min(ratio(this.rttTolerance * this.longRtt, mean), ratio(this.tolerance() * this.probe.rtt, mean))
    // With a shared clock (other processes may share the backend), no doubling until a probe has
    // confirmed the baseline: a first window taken in others' queue would read it as no load.
    const unconfirmed = sample.at !== undefined && !this.probe.confirmed && this.gradient === 1
    if (!unconfirmed && this.slowStartStep(sample, this.gradient < 1)) return
    if (this.appLimited(sample)) return

    const limit = this.estimate
    if (this.gradient === 1) {
      this.setEstimate(limit + weight * this.smoothing * (this.queueSize / (limit * this.peers) + this.headroom))
    } else {
      // One smoothing step per round trip (L samples), not per sample: a loop stall or a GC
      // pause delays every request in flight at once, and L slow samples each taking 20 % off
      // would cut the limit by (0.8 + 0.2 g)^L (to a third for L = 16, g = 2/3) for one blip.
      // Per sample the limit moves smoothing * (g L - L) / L; over a round trip, smoothing * (g L - L).
      this.setEstimate(limit - weight * this.smoothing * (1 - this.gradient))
    }
  }

  /**
   * The recent mean latency, with this sample. Every sample counts once in the mean, so requests
   * that never wait (cached answers, reading "no queue") dilute the waiting ones' inflation by
   * their share, which the per-route classes' traffic-weighted reference amplifies by the same
   * share: the mean reads the pool's queue whatever the mix, and a slow route's own spread, which
   * one of its samples reads as a queue against the traffic's mean service time, averages out.
   * The mean forgets by weight, not by count: it spans about a quarter of a round trip whether one
   * request in ten or every one holds its permit for the round trip.
   */
  private recentMean (rtt: number, weight: number): number {
    const keep = 1 - weight / Math.max(MIN_SPAN, SPAN * this.estimate)
    this.meanSum = this.meanSum * keep + rtt
    this.meanCount = this.meanCount * keep + 1
    return this.meanSum / this.meanCount
  }

  /** noLoadTolerance, or the group's while coordinated with other processes. */
  private tolerance (): number {
    return this.peers > 1 ? this.groupTolerance : this.noLoadTolerance
  }

  report (): PeerReport {
    // Only a process that turned requests away needs more permits (spare 0: it may borrow); one
    // that did not lends what it leaves unused beyond KEPT_SPARE, or neither lends nor borrows.
    // Little spare alone does not mean need: a process just under its limit that refuses nothing
    // has all it needs, and counted as a borrower it takes a share of what is lent from the one
    // that refuses (measured in a rolling deploy's replacement: two such processes took two
    // thirds of what the newcomer lent while a third refused 60 % of its traffic).
    const unused = this.usedCount === 0 ? NaN : this.estimate - this.usedSum / this.usedCount
    this.spare = this.turnedAway ? 0 : unused > KEPT_SPARE ? unused : NaN
    this.usedSum = 0
    this.usedCount = 0
    this.turnedAway = false
    // Borrowed permits are not this process's part of the budget: the median the group holds its
    // limits under must not rise with them, or lending would ratchet every limit up.
    const own = this.borrowed > 0 ? this.estimate - clamp(this.estimate - this.heldAt, 0, this.borrowed) : this.estimate
    return { limit: own, settled: this.probe.known, warming: this.probe.warming, spare: this.spare }
  }

  /**
   * Coordination (the plugin's `coordination` option) treats the limits of the processes that
   * share a backend as one budget: the constant headroom is split among them (the proportional
   * one already adds up to a share of their total), each interval holds this process's limit
   * within [0.95, 1] x the group's median, and a process starts from a share, not from
   * initialLimit on top of the others' (see docs/algorithms.md). A process whose limit turned
   * requests away may go above the median by its part of the permits the others leave unused:
   * with traffic spread unevenly (a newcomer gets only the connections opened after it listens),
   * the busy processes use what the idle ones hold, and the group's total stays what it was.
   */
  coordinate (view: PeerView | undefined): void {
    this.borrowed = 0
    this.heldAt = NaN
    if (view === undefined) {
      this.peers = 1
      this.dither = 0
      this.probe.group(1)
      this.probe.groupWarming = false
      return
    }
    this.peers = Math.max(1, view.processes)
    this.probe.group(this.peers)
    this.probe.groupWarming = view.warming
    // N limits of about 2.5 each, all rounded down, would admit 2 x N: a sum of floors loses up
    // to one request per process. Offsets spread over [0, 1) make the sum of the N limits the
    // sum of their estimates (within one), and rotating them each interval gives every process
    // the same limit on average.
    this.dither = this.peers > 1 ? ((view.rank + this.rounds++) % this.peers + 0.5) / this.peers : 0
    if (!this.probe.known && view.processes > 1) {
      // Nothing measured yet. Joining a running group: a settled peer's limit, and no slow start
      // (doubling from there, on the baseline of a route taken in the group's queue, is what
      // pushes a rolling deploy's queue up at each new process). Starting together, each as it
      // learns how many they are: initialLimit split.
      if (Number.isNaN(view.settledLimit)) {
        this.setEstimate(Math.min(this.estimate, this.initialLimit / view.processes))
      } else {
        this.setEstimate(Math.min(this.estimate, view.settledLimit))
        this.inSlowStart = false
      }
      return
    }
    if (view.medianLimit > 0 && !this.probe.probing) {
      // Within [(1 - SPREAD) x median, median] of the group's limits: a process that reads the
      // queue as smaller than the others do (a newcomer whose route baselines were learned in the
      // group's queue) cannot grow away from them, and the group follows the ones that see the
      // queue, which all share; none falls more than SPREAD behind.
      if (this.spare <= KEPT_SPARE && view.borrowers > 0) this.borrowed = view.lent / view.borrowers
      this.heldAt = view.medianLimit
      this.setEstimate(clamp(this.estimate, (1 - SPREAD) * view.medianLimit, view.medianLimit + this.borrowed))
    }
  }

  private updateLongRtt (rtt: number): void {
    if (this.longCount < WARMUP_SAMPLES) {
      this.longCount++
      this.longRtt += (rtt - this.longRtt) / this.longCount
    } else {
      this.longRtt += (rtt - this.longRtt) * this.decay
    }
    // After a latency spike the average stays high for a long window and would hide the next
    // queue; when RTT is back well below it, let it fall faster.
    if (this.longRtt > 2 * rtt) this.longRtt *= 0.95
  }

  override state (): Record<string, number | string> {
    return {
      ...super.state(),
      rtt: round3(this.lastRtt),
      longRtt: round3(this.longRtt),
      minRtt: this.probe.rtt === Infinity ? 0 : round3(this.probe.rtt),
      gradient: round3(this.gradient),
      probing: this.probe.probing ? 'on' : 'off',
      probes: this.probe.probes,
      peers: this.peers
    }
  }
}

/** clamp(reference / rtt, 0.5, 1), with a zero RTT (or reference) meaning "no queue". */
function ratio (reference: number, rtt: number): number {
  return rtt <= reference ? 1 : clamp(reference / rtt, 0.5, 1)
}
