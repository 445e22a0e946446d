// The contract between the limiter (admission and accounting) and everything that watches it:
// metrics, diagnostics_channel, logs, history. Observers are plain objects with optional methods,
// called synchronously; the limiter calls each only when it is set, so an absent feature costs
// one property check.
import type { Sample } from '../algorithms/types'

/** Why the limiter itself did not admit a request. */
export type LimiterRejectReason =
  | 'limit' //            in-flight reached the concurrency limit
  | 'partition' //        the request's partition is at its guaranteed share while the global limit is reached
  | 'queue-full' //       the wait queue is full
  | 'queue-timeout' //    waited in the queue longer than the queue timeout
  | 'estimated-wait' //   the estimated wait exceeds maxEstimatedWait
  | 'deadline' //         the client's deadline cannot be met

/**
 * A rejection the limiter counts: one of its own, or one named by an admission gate or by the
 * caller's own admission step (Limiter.reject). The Fastify plugin adds 'event-loop',
 * 'session-cap', 'draining' and 'store-unavailable'.
 */
export type RejectReason = LimiterRejectReason | (string & Record<never, never>)

/** How a completed request is counted. */
export type Outcome = 'success' | 'drop' | 'ignore'

export interface LimiterObserver {
  /** The algorithm moved the limit. `reason` is a short word: 'sample', 'drop', 'probe', ... */
  onLimitChange? (oldLimit: number, newLimit: number, reason: string): void
  onAdmit? (partition: string | undefined): void
  onReject? (reason: RejectReason, partition: string | undefined): void
  /** A sample was handed to the algorithm (success or drop; never for 'ignore'). */
  onSample? (sample: Sample, partition: string | undefined): void
  /** A permit was released. `rtt` in ms. */
  onRelease? (outcome: Outcome, rtt: number, partition: string | undefined): void
}

/** Live counters, readable at any time at no cost. */
export interface LimiterStats {
  readonly limit: number
  readonly inflight: number
  readonly admitted: number
  readonly rejected: number
  readonly succeeded: number
  readonly dropped: number
  readonly ignored: number
  readonly bypassed: number
}
