// Additive increase, multiplicative decrease: +1 per sample while the limit is at least half
// used, x backoffRatio on a drop or a timeout. Blind to latency below the timeout, so it
// finds the limit only by hitting it; useful when drops are the only reliable signal.
import { ADAPTIVE_KEYS, AdaptiveLimit, OptionReader, readAdaptive } from './common'
import type { BaseLimitOptions, Sample } from './types'

export interface AIMDLimitOptions extends BaseLimitOptions {
  /** Multiplier applied on a drop or timeout, in [0.5, 1). Default 0.9. */
  backoffRatio?: number
  /** A sample slower than this (ms) counts as a drop. Default 5000. */
  timeout?: number
  /** Double the limit per fully-used round trip until the first drop or timeout. Default true. */
  slowStart?: boolean
}

export class AIMDLimit extends AdaptiveLimit {
  readonly name = 'aimd'
  readonly timeout: number

  constructor (options: AIMDLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options, [...ADAPTIVE_KEYS, 'timeout'])
    super(readAdaptive(r, { initialLimit: 20, minLimit: 20, maxLimit: 200 }))
    this.timeout = r.number('timeout', 5000, 0, Infinity, { minExclusive: true })
  }

  protected override onDrop (_sample: Sample): void {
    // Integer steps, as in the reference definition: floor(L * ratio).
    this.setEstimate(Math.floor(this.estimate * this.backoffRatio))
  }

  protected update (sample: Sample): void {
    if (sample.rtt > this.timeout) {
      this.inSlowStart = false
      this.onDrop(sample)
      return
    }
    if (this.slowStartStep(sample, false)) return
    if (!this.appLimited(sample)) this.setEstimate(this.estimate + 1)
  }
}
