// A low quantile of a fixed-size window of samples: the robust "no-load latency" statistic that
// both the per-class baselines and the algorithms' own baselines are built from.
//
// A minimum is pinned by one freak sample (a cached answer, a timer that fired early); a low
// quantile of a window needs a quarter of the window to be freak before it moves. The window is a
// preallocated buffer sorted in place once it is full, so adding a sample is O(1) amortised and
// allocates nothing.

/** Which order statistic of a window counts as its "no-load" latency. */
export const BASELINE_QUANTILE = 0.25

export class WindowQuantile {
  private readonly buffer: Float64Array
  private readonly rank: number
  private count = 0

  constructor (size: number, quantile = BASELINE_QUANTILE) {
    this.buffer = new Float64Array(size)
    // Nearest rank, at least the first: a window of 20 at 0.25 answers its 5th smallest value.
    this.rank = Math.max(0, Math.ceil(quantile * size) - 1)
  }

  get size (): number {
    return this.buffer.length
  }

  /** Samples in the open window. */
  get filled (): number {
    return this.count
  }

  /** Adds a sample; returns the window's quantile when this sample completed it, NaN otherwise. */
  add (value: number): number {
    const buffer = this.buffer
    buffer[this.count++] = value
    if (this.count < buffer.length) return NaN
    this.count = 0
    buffer.sort()
    return buffer[this.rank]
  }

  /** Drops the open window's samples. */
  clear (): void {
    this.count = 0
  }
}
