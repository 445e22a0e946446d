// A tiny hand-made LimitAlgorithm, so limiter tests do not depend on the real algorithms:
// the limit drops by one on every drop and grows by one on every success above `growAbove` ms.
import type { LimitAlgorithm, Sample } from '../../lib/algorithms/types'

export class StepAlgorithm implements LimitAlgorithm {
  readonly name = 'step'
  limit: number
  readonly samples: Sample[] = []
  constructor (limit: number, private readonly growBelow = Infinity) {
    this.limit = limit
  }

  onSample (sample: Sample): void {
    this.samples.push({ rtt: sample.rtt, inflight: sample.inflight, dropped: sample.dropped, at: sample.at })
    if (sample.dropped) this.limit = Math.max(1, this.limit - 1)
    else if (sample.rtt < this.growBelow) this.limit++
  }

  state (): Record<string, number | string> {
    return { samples: this.samples.length }
  }
}

/** A manual clock in ms. */
export function manualClock (start = 0): { now: () => number, advance: (ms: number) => void } {
  let t = start
  return { now: () => t, advance: (ms: number) => { t += ms } }
}
