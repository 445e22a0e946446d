// How long a new request would wait, and whether its client's deadline can still be met.
//
// The model: a request is queued only when the server is saturated, i.e. `limit` requests are in
// flight. Each completes after about one service time, so permits free up at a rate of
// limit / serviceTime (Little's law), and the request at position k (k - 1 waiters served before
// it) waits about k * serviceTime / limit. It is an estimate for shedding decisions, not a promise:
// it ignores that LIFO lets later arrivals overtake, and that the limit itself moves.
//
// Deadline header decision: a malformed value (not a plain non-negative decimal number of ms, a
// repeated header, or more than MAX_DEADLINE_MS) is IGNORED, as if absent, rather than answered
// with 400. The header is advisory and is usually set by a proxy or client library: a bug there
// should cost the request its deadline check, not turn every request into an error.

import { numberOption } from '../validate'

/** Largest accepted budget: the longest delay a Node timer takes (~24.8 days). */
export const MAX_DEADLINE_MS = 2_147_483_647

// A plain decimal number: no sign, no exponent, no hex, no "Infinity". Length-capped first, so
// the check is cheap whatever a client sends.
const DECIMAL_MS = /^\d+(?:\.\d+)?$/
const MAX_HEADER_LENGTH = 24

/** Estimated wait (ms) for a request that would have `ahead` waiters served before it. */
export function estimateWait (ahead: number, limit: number, serviceTime: number): number {
  // No latency measured yet (cold start): no basis to shed on, so the estimate is 0.
  if (!(serviceTime > 0) || !(limit > 0)) return 0
  return ((ahead + 1) * serviceTime) / limit
}

/**
 * True when a request with `budget` ms left cannot finish in time: it would wait `estimatedWait`
 * and then take about `serviceTime`. A budget of 0 is already spent.
 */
export function deadlineUnreachable (budget: number, estimatedWait: number, serviceTime: number): boolean {
  return budget <= 0 || estimatedWait + serviceTime > budget
}

/** The remaining budget in ms carried by the deadline header, or undefined when absent or malformed. */
export function parseDeadlineHeader (value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined // absent, or repeated (ambiguous)
  const text = value.trim()
  if (text.length === 0 || text.length > MAX_HEADER_LENGTH || !DECIMAL_MS.test(text)) return undefined
  const ms = Number(text)
  return ms <= MAX_DEADLINE_MS ? ms : undefined
}

/**
 * Retry-After (whole seconds) for `retryAfter: 'auto'`: the estimated wait rounded up, at least 1
 * (0 would invite an immediate retry into the same overload) and at most `maxSeconds`.
 */
export function retryAfterSeconds (estimatedWaitMs: number, maxSeconds = 60): number {
  if (!(estimatedWaitMs > 0)) return 1
  return Math.min(maxSeconds, Math.max(1, Math.ceil(estimatedWaitMs / 1000)))
}

/**
 * Recent typical service time: an exponentially weighted moving average of request latency.
 * O(1) per sample, no allocation. `halfLife` is the number of samples after which an old sample
 * weighs half as much, so the estimate follows a latency change within a few dozen requests.
 */
export class ServiceTimeEwma {
  private readonly alpha: number
  private _value = 0
  private _samples = 0

  constructor (halfLife = 20) {
    this.alpha = 1 - Math.pow(2, -1 / numberOption('halfLife', halfLife, 20, 1))
  }

  /** 0 until the first sample. */
  get value (): number { return this._value }

  get samples (): number { return this._samples }

  update (rtt: number): void {
    if (!(rtt >= 0) || !Number.isFinite(rtt)) return
    this._value = this._samples === 0 ? rtt : this._value + this.alpha * (rtt - this._value)
    this._samples++
  }
}
