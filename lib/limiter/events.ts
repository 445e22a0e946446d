// The contract between the limiter (admission and accounting) and everything that watches it:
// metrics, diagnostics_channel, logs, history. Observers are plain objects with optional methods,
// called synchronously; the limiter calls each only when it is set, so an absent feature costs
// one property check.
import type { Sample } from '../algorithms/types'

/** Why a request was not admitted. */
export type RejectReason =
  | 'limit' //            in-flight reached the concurrency limit
  | 'partition' //        the request's partition is at its guaranteed share while the global limit is reached
  | 'event-loop' //       the event loop itself is the queue (CPU-bound overload)
  | 'queue-full' //       the wait queue is full
  | 'queue-timeout' //    waited in the queue longer than queue.timeout
  | 'estimated-wait' //   the estimated wait exceeds maxEstimatedWait
  | 'deadline' //         the client's deadline cannot be met
  | 'session-cap' //      a new session beyond maxSessions
  | 'draining' //         the server is draining: no new users
  | 'store-unavailable' // the session store failed and onStoreError is 'closed'

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
