// A deterministic model of an overloaded service whose routes share one downstream pool, for
// signal tests: the limiter is always full (offered load above capacity), the pool has `slots`
// parallel slots, and the in-flight requests beyond them queue. Each class has its own service
// time; classes that skip the pool (health checks, fast errors) never wait for it.
import type { LimitAlgorithm, Sample } from '../../lib/algorithms'
import type { SampleClasses } from '../../lib/limiter/sample-classes'

export interface TrafficClass {
  name: string
  serviceMs: number
  /** Relative weight in the mix. */
  share: number
  /** Uses the shared pool (and waits for it). */
  pool: boolean
  /**
   * Answered at once without the pool (a cached answer): such a request holds its permit for
   * microseconds, so the full limit is held by the other classes. Only with `pool: false`.
   */
  instant?: boolean
}

export interface ModelOptions {
  slots: number
  mix: TrafficClass[]
  /** Uniform jitter of service times, as a fraction (0.2: +-20 %). */
  jitter: number
  rand: () => number
  /** Probability that a sample is a freak 0.001 ms answer. */
  freakRate?: number
  /** The first `coldSamples` samples are up to `coldFactor` x slower, decaying linearly. */
  coldSamples?: number
  coldFactor?: number
  /** From this sample on, use `nextMix` instead (a shift of the route mix). */
  shiftAt?: number
  nextMix?: TrafficClass[]
}

function pick (mix: TrafficClass[], r: number): TrafficClass {
  const total = mix.reduce((n, c) => n + c.share, 0)
  let x = r * total
  for (const c of mix) {
    x -= c.share
    if (x < 0) return c
  }
  return mix[mix.length - 1]
}

/**
 * Mean queue wait at the pool with `inflight` requests in flight under this mix (Little's law).
 * In-flight requests are of the classes that hold their permits (all but `instant` ones), in
 * proportion to their shares.
 */
export function poolWait (mix: TrafficClass[], slots: number, inflight: number): number {
  const pooled = mix.filter(c => c.pool)
  const holding = mix.filter(c => c.instant !== true)
  const share = pooled.reduce((n, c) => n + c.share, 0) / holding.reduce((n, c) => n + c.share, 0)
  const mean = pooled.reduce((n, c) => n + c.share * c.serviceMs, 0) / pooled.reduce((n, c) => n + c.share, 0)
  return Math.max(0, inflight * share - slots) * mean / slots
}

/**
 * Runs `n` samples through `classes` (when given) into `alg`, the way Limiter.release does, and
 * returns the limit after each sample. Time advances 0.5 ms per sample.
 */
export function runModel (alg: LimitAlgorithm, classes: SampleClasses | undefined, o: ModelOptions, n: number): number[] {
  const limits: number[] = []
  for (let i = 0; i < n; i++) {
    const mix = o.shiftAt !== undefined && i >= o.shiftAt && o.nextMix !== undefined ? o.nextMix : o.mix
    const limit = alg.limit
    const cls = pick(mix, o.rand())
    const cold = o.coldSamples === undefined ? 1 : 1 + ((o.coldFactor ?? 1) - 1) * Math.max(0, 1 - i / o.coldSamples)
    let rtt = cls.serviceMs * cold * (1 + o.jitter * (2 * o.rand() - 1)) + (cls.pool ? poolWait(mix, o.slots, limit) : 0)
    if (o.freakRate !== undefined && o.rand() < o.freakRate) rtt = 0.001
    const raw: Sample = { rtt, inflight: limit, dropped: false, at: i * 0.5 }
    const sample = classes === undefined ? raw : classes.normalize(raw, classes.get(cls.name), limit)
    if (sample !== undefined) alg.onSample(sample)
    limits.push(alg.limit)
  }
  return limits
}

export function median (xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}
