// Deterministic sample sequences for algorithm tests.
import type { LimitAlgorithm, Sample } from '../../lib/algorithms'

/** Feed `n` samples built from the current limit; returns the limits seen after each. */
export function feed (alg: LimitAlgorithm, n: number, make: (limit: number, i: number) => Sample): number[] {
  const seen: number[] = []
  for (let i = 0; i < n; i++) {
    alg.onSample(make(alg.limit, i))
    seen.push(alg.limit)
  }
  return seen
}

/** A healthy sample at full use: `rtt` ms with the limit fully in flight. */
export function fullUse (rtt: number): (limit: number) => Sample {
  return limit => ({ rtt, inflight: limit, dropped: false })
}

/**
 * A downstream with `slots` parallel slots of `serviceMs` each, offered more than it can take:
 * the limiter's limit is always full, and the excess over `slots` queues, so
 * rtt = serviceMs * max(1, inflight / slots) (Little's law at saturation).
 */
export function saturatedQueue (slots: number, serviceMs: number): (limit: number) => Sample {
  return limit => ({ rtt: serviceMs * Math.max(1, limit / slots), inflight: limit, dropped: false })
}

export function last (xs: number[]): number {
  return xs[xs.length - 1]
}
