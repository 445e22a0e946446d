// Vegas: estimate the queue in front of the service from the RTT against the no-load RTT,
// queue = ceil(L * (1 - noLoadRtt / rtt)), and steer it between alpha and beta.
//
// The reference estimates the queue from each sample alone and takes a step on every one. When
// part of the traffic never waits (cached answers, health checks: with per-route classes their
// samples read exactly "no queue"), those samples vote "grow by beta" whatever the queue, the
// others "shrink by log10 L", and the limit creeps up without bound. So the queue is estimated
// from the average latency of about `rttWindow` recent samples: with per-route classes that
// average is the waiting requests' inflation, diluted by the share that never waits, and the
// classes' traffic-weighted reference amplifies the waiting ones by the same share, so the
// average reads the pool's queue whatever the mix. The baseline is fed the lower of the sample
// and the average, so that a window of samples from the slower classes alone cannot lift it.
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
   * The queue is estimated from the average latency of about this many recent samples (an
   * exponential average with factor 1 / rttWindow), and each increase is divided by it, integer
   * >= 1. Default 50; 1 is the reference: each sample's own latency, a full step per sample.
   */
  rttWindow?: number
}

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
  private readonly rttFactor: number
  /** Average latency the queue is estimated from; NaN before the first sample. */
  private rtt = Number.NaN

  constructor (options: VegasLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options,
      [...ADAPTIVE_KEYS, ...PROBE_KEYS, 'alpha', 'beta', 'threshold', 'smoothing', 'rttWindow'])
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
    this.rttFactor = 1 / r.integer('rttWindow', 50, 1, 100_000)
    this.probe = new BaselineProbe(readProbe(r))
  }

  protected update (sample: Sample): void {
    const rtt = sample.rtt
    this.rtt = Number.isNaN(this.rtt) ? rtt : this.rtt + (rtt - this.rtt) * this.rttFactor
    const before = this.probe.rtt
    const average = this.rtt
    const probing = this.probe.observe(rtt < average ? rtt : average, sample.inflight, this.estimate, this.minLimit, sample.at)
    this.cap = this.probe.cap
    // A lower baseline only moves the baseline (reference behaviour): it is not evidence about
    // the limit, and until the first window closed there is nothing to compare against.
    if (probing || this.probe.rtt < before || !this.probe.known) return

    const limit = this.estimate
    const noLoad = this.probe.rtt
    this.queue = average <= noLoad ? 0 : Math.ceil(limit * (1 - noLoad / average))
    const step = log10Step(limit)
    const threshold = this.threshold ?? step
    if (this.slowStartStep(sample, this.queue > threshold)) return
    if (this.appLimited(sample)) return

    const alpha = this.alpha ?? 3 * step
    const beta = this.beta ?? 6 * step
    let next: number
    // Consecutive samples read the same average, so a step repeated on each would count one
    // reading rttWindow times: growth is divided among them. Decreases are not, so a real queue
    // still sheds at the reference's pace.
    const growth = this.rttFactor
    if (this.queue <= threshold) next = limit + beta * growth
    else if (this.queue < alpha) next = limit + step * growth
    else if (this.queue > beta) next = limit - step
    else return
    next = next < this.minLimit ? this.minLimit : next > this.maxLimit ? this.maxLimit : next
    this.setEstimate((1 - this.smoothing) * limit + this.smoothing * next)
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
