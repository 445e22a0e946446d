// One-second history of the limiter for the status object and the live page: a ring buffer of
// the last N seconds (default 300 = five minutes) of limit, peak in-flight, admitted/s,
// rejected/s and sample RTT p50/p99.
//
// No clock read per request. Reading the clock is the dearest thing an observer could do here
// (Date.now measured at 60-190 ns on the CI box, against a few ns for the counting itself), so
// the event handlers only count into the open second, and seconds are closed by `tick()`:
// from a timer armed for each second boundary (`start()`, unref'd, one wake per second) and on
// every read (`points()`, `lastRttP50()`). Without `start()` the buffer is purely lazy, as in
// the tests, which drive an injected wall clock and call `tick()` where a second ends.
// The price: an event that lands between a boundary and the (late) timer counts in the
// second before; timers run first in each loop turn, so that is at most one loop turn's worth.
import { build, type Histogram } from 'hdr-histogram-js'
import type { LimiterObserver, LimiterStats, RejectReason } from '../limiter/events'
import type { Sample } from '../algorithms/types'

export interface HistoryPoint {
  /** Start of the second, epoch ms. */
  t: number
  /** Limit at the end of the second. */
  limit: number
  /** Highest in-flight count seen during the second. */
  inflight: number
  /** Requests admitted during the second. */
  admitted: number
  /** Requests rejected during the second. */
  rejected: number
  /** Sample RTT percentiles over the second, ms; null when there was no sample. */
  rttP50: number | null
  rttP99: number | null
}

export interface HistoryOptions {
  stats: Pick<LimiterStats, 'limit' | 'inflight'>
  /** Wall clock in ms. Default Date.now. */
  now?: () => number
  /** Seconds kept. Default 300. */
  seconds?: number
}

const NO_VALUE = NaN

export class History {
  readonly observer: LimiterObserver
  private readonly stats: Pick<LimiterStats, 'limit' | 'inflight'>
  private readonly now: () => number
  private readonly capacity: number
  // Parallel typed arrays: closing a second writes numbers, it allocates nothing.
  private readonly t: Float64Array
  private readonly limits: Float64Array
  private readonly inflights: Float64Array
  private readonly admittedCounts: Float64Array
  private readonly rejectedCounts: Float64Array
  private readonly p50s: Float64Array
  private readonly p99s: Float64Array
  private next = 0 //  ring slot the next closed second goes to
  private size = 0
  // The open second.
  private second: number
  private admitted = 0
  private rejected = 0
  private peakInflight: number
  // Tracked from onLimitChange rather than read from stats: the limiter updates the limit
  // before notifying, so reading stats while closing an earlier second would leak the new value.
  private limit: number
  private readonly rtt: Histogram
  private timer: NodeJS.Timeout | undefined = undefined

  constructor (options: HistoryOptions) {
    this.stats = options.stats
    this.now = options.now ?? Date.now
    // Checked once, with the other options (observability/options.ts).
    this.capacity = options.seconds ?? 300
    const n = this.capacity
    this.t = new Float64Array(n)
    this.limits = new Float64Array(n)
    this.inflights = new Float64Array(n)
    this.admittedCounts = new Float64Array(n)
    this.rejectedCounts = new Float64Array(n)
    this.p50s = new Float64Array(n)
    this.p99s = new Float64Array(n)
    // RTT recorded in integer microseconds; 2 significant digits (1 %) is plenty for a chart.
    this.rtt = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 2 })
    this.second = Math.floor(this.now() / 1000)
    this.limit = this.stats.limit
    this.peakInflight = this.stats.inflight

    const observer: LimiterObserver = {
      onAdmit: (): void => {
        this.admitted++
        const inflight = this.stats.inflight
        if (inflight > this.peakInflight) this.peakInflight = inflight
      },
      onReject: (_reason: RejectReason): void => {
        this.rejected++
      },
      onSample: (sample: Sample): void => {
        this.rtt.recordValue(Math.max(1, Math.round(sample.rtt * 1000)))
      },
      onLimitChange: (_old: number, newLimit: number): void => {
        this.limit = newLimit
      }
    }
    this.observer = observer
  }

  /** Close seconds at each second boundary from a timer (unref'd: it never keeps the process alive). */
  start (): void {
    if (this.timer !== undefined) return
    this.arm()
  }

  stop (): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm (): void {
    // A fresh timeout per second, aimed 1 ms past the boundary, so timer drift never accumulates.
    const delay = 1001 - (this.now() % 1000)
    this.timer = setTimeout(this.onTimer, delay)
    this.timer.unref()
  }

  private readonly onTimer = (): void => {
    this.tick()
    this.arm()
  }

  /** Completed seconds, oldest first (the open second is not included). */
  points (): HistoryPoint[] {
    this.tick()
    const out: HistoryPoint[] = new Array(this.size)
    const start = (this.next - this.size + this.capacity) % this.capacity
    for (let i = 0; i < this.size; i++) {
      const k = (start + i) % this.capacity
      out[i] = {
        t: this.t[k],
        limit: this.limits[k],
        inflight: this.inflights[k],
        admitted: this.admittedCounts[k],
        rejected: this.rejectedCounts[k],
        rttP50: orNull(this.p50s[k]),
        rttP99: orNull(this.p99s[k])
      }
    }
    return out
  }

  /** Sample RTT p50 of the last completed second (ms); undefined before the first second ends or when it had no sample. */
  lastRttP50 (): number | undefined {
    this.tick()
    if (this.size === 0) return undefined
    const v = this.p50s[(this.next - 1 + this.capacity) % this.capacity]
    return Number.isNaN(v) ? undefined : v
  }

  /** Refusals in the open second and the last completed one: "shedding now" without a clock read per refusal. */
  recentRejections (): number {
    this.tick()
    const last = this.size === 0 ? 0 : this.rejectedCounts[(this.next - 1 + this.capacity) % this.capacity]
    return this.rejected + last
  }

  /** Close every second that has ended. A clock that steps back is treated as "same second". */
  tick (): void {
    const current = Math.floor(this.now() / 1000)
    if (current <= this.second) return
    const hasSamples = this.rtt.totalCount > 0
    this.push(
      this.second,
      this.admitted,
      this.rejected,
      hasSamples ? this.rtt.getValueAtPercentile(50) / 1000 : NO_VALUE,
      hasSamples ? this.rtt.getValueAtPercentile(99) / 1000 : NO_VALUE,
      this.peakInflight
    )
    // Idle seconds in between: nothing was admitted, so in-flight can only have stayed or fallen.
    const idleInflight = this.stats.inflight
    const firstIdle = Math.max(this.second + 1, current - this.capacity)
    for (let s = firstIdle; s < current; s++) this.push(s, 0, 0, NO_VALUE, NO_VALUE, idleInflight)
    this.second = current
    this.admitted = 0
    this.rejected = 0
    this.peakInflight = idleInflight
    if (hasSamples) this.rtt.reset()
  }

  private push (second: number, admitted: number, rejected: number, p50: number, p99: number, inflight: number): void {
    const k = this.next
    this.t[k] = second * 1000
    this.limits[k] = this.limit
    this.inflights[k] = inflight
    this.admittedCounts[k] = admitted
    this.rejectedCounts[k] = rejected
    this.p50s[k] = p50
    this.p99s[k] = p99
    this.next = (k + 1) % this.capacity
    if (this.size < this.capacity) this.size++
  }
}

function orNull (v: number): number | null {
  return Number.isNaN(v) ? null : v
}
