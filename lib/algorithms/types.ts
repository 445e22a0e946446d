/** One completed request, as seen by a limit algorithm. */
export interface Sample {
  /** Latency of one request, in ms. */
  rtt: number
  /** Requests in flight when this one was admitted, itself included. */
  inflight: number
  /** The request failed in a way that signals overload (5xx, timeout). */
  dropped: boolean
  /** Completion time in ms (any monotonic origin). Used by windows and probes. */
  at?: number
}

/**
 * A pure limit algorithm: latency samples in, a concurrency limit out.
 * No timers, no I/O: time only enters through `Sample.at` (or an injected clock).
 */
export interface LimitAlgorithm {
  readonly name: string
  /** Always a finite integer in [minLimit, maxLimit]. */
  readonly limit: number
  onSample (sample: Sample): void
  /** Internals for the status object (minRtt, gradient, ...). */
  state (): Record<string, number | string>
}

/** Options every built-in algorithm accepts. */
export interface BaseLimitOptions {
  initialLimit?: number
  minLimit?: number
  maxLimit?: number
}
