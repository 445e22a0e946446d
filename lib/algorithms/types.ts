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
  /**
   * The share of a round trip this sample stands for, in (0, 1]; absent: 1. Per-route classes set
   * it to the route's no-load latency over the traffic's mean (at most 1): a cached answer next to
   * 100 ms requests stands for almost none of the time the permits are held.
   */
  weight?: number
  /**
   * Requests were waiting for a permit when this one completed, in a queue absorbing a burst (not
   * a standing backlog). A capped probe then would halve admissions while the burst's backlog
   * drains, so Vegas and Gradient2 hold their probes until a sample without it.
   */
  burst?: boolean
  /**
   * The limit turned requests away (refused them, or they timed out waiting for a permit) since
   * the previous completion: this process had more requests than permits. Refusals by the caller's
   * own admission steps (the event-loop gate, a drain, a session cap) do not count: more permits
   * would not have admitted them. Gradient2 reports it to its peers (PeerReport.spare).
   */
  limited?: boolean
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

/** What one process tells the others that share its backend, once per coordination interval. */
export interface PeerReport {
  /** The limit estimate (real-valued). */
  limit: number
  /** Whether the algorithm has learned its no-load latency (it runs on its own measurements). */
  settled: boolean
  /** Whether it is in its first seconds, when it probes often. */
  warming: boolean
  /**
   * Permits it left unused since its last report: its limit estimate minus the mean number in
   * flight when its requests completed (probes left out). At most KEPT_SPARE (Gradient2: 0) when
   * its limit turned requests away (Sample.limited): it needs more, and may borrow. NaN or absent
   * when it neither needs more nor has more than KEPT_SPARE to give, or when unknown (nothing
   * completed, or no peers yet): it then neither lends nor borrows.
   */
  spare?: number
}

/**
 * A process keeps this many unused permits for its own bursts and lends the rest of its spare
 * (PeerView.lent); one that reports at most this much spare needs more permits and may borrow.
 */
export const KEPT_SPARE = 1

/** What the processes on one backend reported, as one of them sees it. */
export interface PeerView {
  /** Processes that reported recently, this one included (>= 1). */
  processes: number
  /** Sum of their limits. */
  totalLimit: number
  /** Median of their limits, this one's included. */
  medianLimit: number
  /** Mean limit of the other processes that have settled; NaN when none has. */
  settledLimit: number
  /** This process's share of the requests all of them were offered, in [0, 1]; NaN when none were. */
  share: number
  /** This process's place among them, in [0, processes): the same order in every process. */
  rank: number
  /** Whether another of them is warming up: all then probe as often as it does, together. */
  warming: boolean
  /** Permits the processes with room to spare leave unused, beyond KEPT_SPARE each (see PeerReport.spare). */
  lent: number
  /** Processes that need more permits (a spare of at most KEPT_SPARE), this one included if it does. */
  borrowers: number
}

/** An algorithm whose processes can share one budget (the `coordination` option). */
export interface CoordinatedLimit extends LimitAlgorithm {
  report (): PeerReport
  /** A fresh view of the peers; undefined when coordination is unavailable (run on local control). */
  coordinate (view: PeerView | undefined): void
}

export function isCoordinated (algorithm: LimitAlgorithm): algorithm is CoordinatedLimit {
  const a = algorithm as Partial<CoordinatedLimit>
  return typeof a.report === 'function' && typeof a.coordinate === 'function'
}
