// Vegas: estimate the queue in front of the service from the RTT against the no-load RTT,
// queue = ceil(L * (1 - noLoadRtt / rtt)), and steer it between alpha and beta.
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

  constructor (options: VegasLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options,
      [...ADAPTIVE_KEYS, ...PROBE_KEYS, 'alpha', 'beta', 'threshold', 'smoothing'])
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
    this.probe = new BaselineProbe(readProbe(r))
  }

  protected update (sample: Sample): void {
    const rtt = sample.rtt
    const before = this.probe.rtt
    const probing = this.probe.observe(rtt, sample.inflight, this.estimate, this.minLimit, sample.at)
    this.cap = this.probe.cap
    // A lower baseline only moves the baseline (reference behaviour): it is not evidence about
    // the limit, and until the first window closed there is nothing to compare against.
    if (probing || this.probe.rtt < before || !this.probe.known) return

    const limit = this.estimate
    const noLoad = this.probe.rtt
    this.queue = rtt <= noLoad ? 0 : Math.ceil(limit * (1 - noLoad / rtt))
    const step = log10Step(limit)
    const threshold = this.threshold ?? step
    if (this.slowStartStep(sample, this.queue > threshold)) return
    if (this.appLimited(sample)) return

    const alpha = this.alpha ?? 3 * step
    const beta = this.beta ?? 6 * step
    let next: number
    if (this.queue <= threshold) next = limit + beta
    else if (this.queue < alpha) next = limit + step
    else if (this.queue > beta) next = limit - step
    else return
    next = next < this.minLimit ? this.minLimit : next > this.maxLimit ? this.maxLimit : next
    this.setEstimate((1 - this.smoothing) * limit + this.smoothing * next)
  }

  override state (): Record<string, number | string> {
    return {
      ...super.state(),
      minRtt: this.probe.rtt === Infinity ? 0 : round3(this.probe.rtt),
      queue: this.queue,
      probing: this.probe.probing ? 'on' : 'off',
      probes: this.probe.probes
    }
  }
}
