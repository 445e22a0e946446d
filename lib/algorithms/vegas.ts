// Vegas: estimate the queue in front of the service from the RTT against the no-load RTT,
// queue = ceil(L * (1 - noLoadRtt / rtt)), and steer it between alpha and beta.
//
// The reference estimates the queue from each sample alone and takes a step on every one. That
// fails on real traffic in three ways, each measured (see docs/algorithms.md):
// - When part of the traffic never waits (cached answers, health checks: with per-route classes
//   their samples read exactly "no queue"), those samples vote "grow by beta" whatever the queue,
//   the others "shrink by log10 L", and the limit creeps up without bound. So the queue is
//   estimated from the mean latency of a block of samples: with per-route classes that mean is
//   the waiting requests' inflation, diluted by the share that never waits, and the classes'
//   traffic-weighted reference amplifies the waiting ones by the same share, so the mean reads
//   the pool's queue whatever the mix. A block closes once it holds `rttWindow` samples that
//   could show a queue (at or above the no-load level): answers that never wait cannot, and a
//   block of mostly cached answers would be decided before the slow requests admitted under the
//   last decision came back, and read "no queue" again and again.
// - The baseline is a low quantile (the fastest quarter's slowest), but a mean without any queue
//   sits above it by the service's own spread (+-20 % jitter: ~15 %), which the reference reads
//   as a standing queue of 15 % of L: at L = 16 that is 3 = alpha, and the limit stops growing
//   below the pool. So the no-load level is `noLoadTolerance` x the baseline.
// - One decision per block (TCP Vegas decides once per round trip, for the same reason): a step
//   per sample on an average that lags keeps stepping after the queue is gone, and the limit
//   falls far below the pool (20 -> 8 measured). A block past beta sheds its whole excess
//   (queue - beta, at most half the limit) at once, and samples admitted above the new limit,
//   which still carry the queue just removed, are left out of the next block.
// The baseline is fed the lower of the sample and the block means, so that a window of samples
// from the slower classes alone cannot lift it. rttWindow 1 with noLoadTolerance 1 is the
// reference rule: each sample decides, one log10(L) step down.
import { ADAPTIVE_KEYS, AdaptiveLimit, OptionReader, readAdaptive, round3 } from './common'
import { BaselineProbe, PROBE_KEYS, readProbe, type ProbeOptions } from './baseline'
import { invalidOption } from '../errors'
import type { BaseLimitOptions, Sample } from './types'

export interface VegasLimitOptions extends BaseLimitOptions, ProbeOptions {
  /** Grow by log10(L) while the estimated queue is below alpha. Default 3 * log10(L). */
  alpha?: number
  /** Shrink by log10(L) once the estimated queue exceeds beta. Default 6 * log10(L). */
  beta?: number
  /** Grow fast (by beta) while the queue is at most this. Default log10(L). */
  threshold?: number
  /** Weight of the new limit, in (0, 1]. Default 1. */
  smoothing?: number
  /** Multiplier applied on a drop, in [0.5, 1). Default 0.9. */
  backoffRatio?: number
  /** Double the limit per fully-used round trip until the queue exceeds threshold. Default true. */
  slowStart?: boolean
  /**
   * The queue is estimated once per block of samples, from their mean latency; a block closes
   * once this many of its samples are at or above the no-load level (or after 10x as many
   * samples in all), integer >= 1. Default 30; 1 is the reference: each sample decides alone.
   */
  rttWindow?: number
  /**
   * The no-load level is this many times the baseline (a low quantile), >= 1: a mean latency
   * without any queue sits above the fastest quarter by the service's own spread. Default 1.1;
   * 1 is the reference.
   */
  noLoadTolerance?: number
}

/** A block closes after at most this many times rttWindow samples, even if few could show a queue. */
const MAX_BLOCK = 10

/** max(1, floor(log10(L))): the reference's scale for every Vegas step. */
function log10Step (limit: number): number {
  return Math.max(1, Math.floor(Math.log10(Math.floor(limit))))
}

export class VegasLimit extends AdaptiveLimit {
  readonly name = 'vegas'
  private readonly alpha: number | undefined
  private readonly beta: number | undefined
  private readonly threshold: number | undefined
  private readonly smoothing: number
  private readonly probe: BaselineProbe
  private queue = 0
  private readonly window: number
  private readonly tolerance: number
  /** Mean latency of the last block, which the queue was estimated from; NaN before the first. */
  private rtt = Number.NaN
  // The running block: sum and count of its latencies, how many could show a queue, the most
  // in flight at admission among them.
  private sum = 0
  private count = 0
  private above = 0
  private maxInflight = 0
  /** After a decrease: samples admitted above this were admitted before it... */
  private skipAbove = Infinity
  /** ...and at most this many of them are left out (the requests in flight at the decision). */
  private skipLeft = 0
  /** The block's summary, as a sample, for slow start (reused: no allocation per block). */
  private readonly summary: Sample = { rtt: 0, inflight: 0, dropped: false }

  constructor (options: VegasLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options,
      [...ADAPTIVE_KEYS, ...PROBE_KEYS, 'alpha', 'beta', 'threshold', 'smoothing', 'rttWindow', 'noLoadTolerance'])
    super(readAdaptive(r, { initialLimit: 20, minLimit: 1, maxLimit: 1000 }))
    const optional = (key: string): number | undefined =>
      r.raw(key) === undefined ? undefined : r.number(key, 0, 0, Infinity)
    this.alpha = optional('alpha')
    this.beta = optional('beta')
    this.threshold = optional('threshold')
    if (this.alpha !== undefined && this.beta !== undefined && this.beta < this.alpha) {
      invalidOption(r.name('beta'), `expected a number in [alpha=${this.alpha}, Infinity], got ${this.beta}`)
    }
    this.smoothing = r.fraction('smoothing', 1)
    this.window = r.integer('rttWindow', 30, 1, 100_000)
    this.tolerance = r.number('noLoadTolerance', 1.1, 1, Infinity)
    this.probe = new BaselineProbe(readProbe(r))
  }

  protected update (sample: Sample): void {
    const rtt = sample.rtt
    // The higher of the last block's mean and the running block's (with this sample): a block
    // that just began with a few freak answers cannot drag the baseline down, and a block of one
    // (rttWindow 1) is the sample itself.
    const running = (this.sum + rtt) / (this.count + 1)
    const average = Number.isNaN(this.rtt) || running > this.rtt ? running : this.rtt
    const before = this.probe.rtt
    const probing = this.probe.observe(rtt < average ? rtt : average, sample.inflight, this.estimate, this.minLimit, sample.at, sample.burst === true)
    this.cap = this.probe.cap
    // A lower baseline only moves the baseline (reference behaviour): it is not evidence about
    // the limit, and until the first window closed there is nothing to compare against.
    if (probing || this.probe.rtt < before || !this.probe.known) {
      this.resetBlock()
      return
    }
    // Samples admitted above a limit just lowered were admitted before the decision: they
    // still carry the queue it removed.
    if (this.skipLeft > 0 && sample.inflight > this.skipAbove) {
      this.skipLeft--
      return
    }
    const noLoad = this.probe.rtt * this.tolerance
    this.sum += rtt
    this.count++
    if (rtt >= noLoad) this.above++
    if (sample.inflight > this.maxInflight) this.maxInflight = sample.inflight
    // A block of one (rttWindow 1) is each sample alone, the reference.
    if (this.window > 1 && this.above < this.window && this.count < MAX_BLOCK * this.window) return
    const mean = this.sum / this.count
    const summary = this.summary
    summary.rtt = mean
    summary.inflight = this.maxInflight
    this.rtt = mean
    this.resetBlock()

    const limit = this.estimate
    this.queue = mean <= noLoad ? 0 : Math.ceil(limit * (1 - noLoad / mean))
    const step = log10Step(limit)
    const threshold = this.threshold ?? step
    if (this.slowStartStep(summary, this.queue > threshold)) return
    if (this.appLimited(summary)) return

    const alpha = this.alpha ?? 3 * step
    const beta = this.beta ?? 6 * step
    let next: number
    if (this.queue <= threshold) next = limit + beta
    else if (this.queue < alpha) next = limit + step
    else if (this.queue > beta) next = limit - this.decrease(step, this.queue - beta, limit)
    else return
    next = next < this.minLimit ? this.minLimit : next > this.maxLimit ? this.maxLimit : next
    this.setEstimate((1 - this.smoothing) * limit + this.smoothing * next)
    if (this.estimate < limit) {
      this.skipAbove = Math.floor(this.estimate)
      this.skipLeft = Math.ceil(limit)
    }
  }

  /**
   * The reference sheds log10(L) per sample, so a queue well past beta is gone within a few
   * samples. One decision per block sheds the whole excess over beta instead, at most half the
   * limit: a loop stall that slows one block must not take the limit to the floor.
   */
  private decrease (step: number, excess: number, limit: number): number {
    if (this.window === 1 || excess <= step) return step
    return excess < limit / 2 ? excess : limit / 2
  }

  private resetBlock (): void {
    this.sum = 0
    this.count = 0
    this.above = 0
    this.maxInflight = 0
    this.skipAbove = Infinity
    this.skipLeft = 0
  }

  override state (): Record<string, number | string> {
    return {
      ...super.state(),
      minRtt: this.probe.rtt === Infinity ? 0 : round3(this.probe.rtt),
      rtt: round3(this.rtt),
      queue: this.queue,
      probing: this.probe.probing ? 'on' : 'off',
      probes: this.probe.probes
    }
  }
}
