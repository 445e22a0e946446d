// WindowedLimit: feed the wrapped algorithm one aggregated sample per window instead of one per
// request (average or percentile RTT, max in-flight, any drop), which smooths noise and makes
// the update rate independent of the request rate.
//
// A window opens at its first sample and closes on the first sample that finds it
//   - at least minWindow old with at least minSamples samples, or
//   - at least maxWindow old, whatever its count (a quiet window still updates: the reference
//     discards it, so at low traffic -- slow requests, few of them -- the limit never moves).
// Time comes from `sample.at`, else from the injected `clock`; with neither, windows are
// counted in samples only (a window closes at minSamples).
import { functionOption } from '../validate'
import { OptionReader, isValidSample } from './common'
import type { LimitAlgorithm, Sample } from './types'

export interface WindowedLimitOptions {
  /** Shortest window (ms). Default 1000. */
  minWindow?: number
  /** Longest window (ms): an older window closes even with fewer than minSamples. Default 5000. */
  maxWindow?: number
  /** Samples needed to close a window before maxWindow. Default 10. */
  minSamples?: number
  /** RTT of the window: undefined for the average, or a percentile in (0, 100]. Default average. */
  percentile?: number
  /** Non-dropped samples faster than this (ms) are ignored (cache hits, early errors). Default 0. */
  minRttThreshold?: number
  /** Samples kept for the percentile; beyond it the oldest are overwritten. Default 1000. */
  bufferSize?: number
  /** Time source (ms) for samples without `at`. */
  clock?: () => number
}

export const WINDOW_KEYS = ['minWindow', 'maxWindow', 'minSamples', 'percentile', 'minRttThreshold', 'bufferSize', 'clock'] as const

export class WindowedLimit implements LimitAlgorithm {
  readonly delegate: LimitAlgorithm
  readonly minWindow: number
  readonly maxWindow: number
  readonly minSamples: number
  readonly percentile: number | undefined
  readonly minRttThreshold: number
  private readonly clock: (() => number) | undefined
  private readonly rtts: Float64Array | undefined
  /** Reused for every aggregated sample: no allocation per window. */
  private readonly aggregate: Sample = { rtt: 0, inflight: 0, dropped: false, at: 0 }
  private start = 0
  private count = 0
  private rttSum = 0
  private maxInflight = 0
  private anyDrop = false
  private windows = 0

  constructor (delegate: LimitAlgorithm, options: WindowedLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options, WINDOW_KEYS)
    this.delegate = delegate
    this.minWindow = r.number('minWindow', 1000, 0, Infinity)
    this.maxWindow = r.number('maxWindow', Math.max(5000, this.minWindow), this.minWindow, Infinity)
    this.minSamples = r.integer('minSamples', 10, 1, 1_000_000)
    this.percentile = r.raw('percentile') === undefined
      ? undefined
      : r.number('percentile', 50, 0, 100, { minExclusive: true })
    this.minRttThreshold = r.number('minRttThreshold', 0, 0, Infinity)
    const bufferSize = r.integer('bufferSize', 1000, 1, 10_000_000)
    this.rtts = this.percentile === undefined ? undefined : new Float64Array(bufferSize)
    this.clock = functionOption<() => number>(r.name('clock'), r.raw('clock'))
  }

  get name (): string {
    return this.delegate.name
  }

  get limit (): number {
    return this.delegate.limit
  }

  onSample (sample: Sample): void {
    if (!isValidSample(sample)) return
    if (sample.dropped !== true && sample.rtt < this.minRttThreshold) return
    const now = sample.at ?? this.clock?.()
    if (now !== undefined && !Number.isFinite(now)) return
    if (this.count === 0) this.start = now ?? 0
    this.add(sample)
    if (now === undefined) {
      if (this.count >= this.minSamples) this.flush(undefined)
      return
    }
    const age = now - this.start
    if ((age >= this.minWindow && this.count >= this.minSamples) || age >= this.maxWindow) this.flush(now)
  }

  private add (sample: Sample): void {
    if (this.rtts !== undefined) this.rtts[this.count % this.rtts.length] = sample.rtt
    this.count++
    this.rttSum += sample.rtt
    if (sample.inflight > this.maxInflight) this.maxInflight = sample.inflight
    if (sample.dropped === true) this.anyDrop = true
  }

  private flush (now: number | undefined): void {
    const a = this.aggregate
    a.rtt = this.rtts === undefined ? this.rttSum / this.count : this.percentileRtt(this.rtts)
    a.inflight = this.maxInflight
    a.dropped = this.anyDrop
    a.at = now
    this.count = 0
    this.rttSum = 0
    this.maxInflight = 0
    this.anyDrop = false
    this.windows++
    this.delegate.onSample(a)
  }

  /** Nearest-rank percentile of the window's RTTs; sorted once per window, in place. */
  private percentileRtt (rtts: Float64Array): number {
    const n = Math.min(this.count, rtts.length)
    const sorted = rtts.subarray(0, n).sort()
    const rank = Math.ceil((this.percentile as number) / 100 * n)
    return sorted[Math.max(0, rank - 1)]
  }

  state (): Record<string, number | string> {
    return { ...this.delegate.state(), windowSamples: this.count, windows: this.windows }
  }
}
