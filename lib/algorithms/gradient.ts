// Gradient (v1): compare each RTT with the no-load RTT, g = clamp(rttTolerance * noLoad / rtt,
// 0.5, 1), and move the limit to g * L + queueSize. While RTT stays within the tolerance the
// limit grows by queueSize per sample; past it the limit shrinks toward the level that
// brings RTT back within tolerance.
import { ADAPTIVE_KEYS, AdaptiveLimit, OptionReader, clamp, readAdaptive, round3 } from './common'
import { BaselineProbe, PROBE_KEYS, readProbe, type ProbeOptions } from './baseline'
import type { BaseLimitOptions, Sample } from './types'

export interface GradientLimitOptions extends BaseLimitOptions, ProbeOptions {
  /** RTT may reach rttTolerance x the no-load RTT before the limit shrinks, >= 1. Default 2. */
  rttTolerance?: number
  /** Weight of a lower limit, in (0, 1] (growth is not smoothed). Default 0.2. */
  smoothing?: number
  /** Headroom added per sample, >= 0. Default max(4, sqrt(L)). */
  queueSize?: number
  /** Multiplier applied on a drop, in [0.5, 1). Default 0.9. */
  backoffRatio?: number
  /** Double the limit per fully-used round trip until RTT exceeds the tolerance. Default true. */
  slowStart?: boolean
}

export class GradientLimit extends AdaptiveLimit {
  readonly name = 'gradient'
  private readonly rttTolerance: number
  private readonly smoothing: number
  private readonly queueSize: number | undefined
  private readonly probe: BaselineProbe
  private gradient = 1

  constructor (options: GradientLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options,
      [...ADAPTIVE_KEYS, ...PROBE_KEYS, 'rttTolerance', 'smoothing', 'queueSize'])
    super(readAdaptive(r, { initialLimit: 50, minLimit: 1, maxLimit: 1000 }))
    this.rttTolerance = r.number('rttTolerance', 2, 1, Infinity)
    this.smoothing = r.fraction('smoothing', 0.2)
    this.queueSize = r.raw('queueSize') === undefined ? undefined : r.number('queueSize', 0, 0, Infinity)
    this.probe = new BaselineProbe(readProbe(r))
  }

  protected update (sample: Sample): void {
    const probing = this.probe.observe(sample.rtt, sample.inflight, this.estimate, this.minLimit, sample.at)
    this.cap = this.probe.cap
    // Until the first window of samples closed there is no no-load RTT to compare with.
    if (probing || !this.probe.known) return

    const noLoad = this.probe.rtt
    this.gradient = sample.rtt <= noLoad ? 1 : clamp(this.rttTolerance * noLoad / sample.rtt, 0.5, 1)
    if (this.slowStartStep(sample, this.gradient < 1)) return
    if (this.appLimited(sample)) return

    const limit = this.estimate
    const next = this.gradient * limit + (this.queueSize ?? Math.max(4, Math.sqrt(limit)))
    // Smooth decreases only: one slow sample should not halve the limit, but growth after
    // a healthy sample need not wait.
    this.setEstimate(next < limit ? (1 - this.smoothing) * limit + this.smoothing * next : next)
  }

  override state (): Record<string, number | string> {
    return {
      ...super.state(),
      minRtt: this.probe.rtt === Infinity ? 0 : round3(this.probe.rtt),
      gradient: round3(this.gradient),
      probing: this.probe.probing ? 'on' : 'off',
      probes: this.probe.probes
    }
  }
}
