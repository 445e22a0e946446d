// Queue waits for the status (p99 over a window, see lib/backlog/status.ts): an HDR histogram of
// fixed size, O(1) per record.
import { build } from 'hdr-histogram-js'
import type { Histogram } from 'hdr-histogram-js'

// Waits are recorded in µs so sub-millisecond waits still count; an hour is far past any timeout.
const MAX_RECORDED_WAIT_US = 3_600_000_000

export class WaitStats {
  private readonly histogram: Histogram = build({
    lowestDiscernibleValue: 1, highestTrackableValue: MAX_RECORDED_WAIT_US, numberOfSignificantValueDigits: 2, autoResize: false
  })

  /** Record one wait of `ms`. Values are clamped to the trackable range, so the histogram never resizes. */
  record (ms: number): void {
    const us = Math.round(ms * 1000)
    this.histogram.recordValue(Math.min(Math.max(us, 0), MAX_RECORDED_WAIT_US))
  }

  /** Wait percentile in ms over every wait recorded since the last reset. */
  percentile (percentile: number): number {
    return this.histogram.getValueAtPercentile(percentile) / 1000
  }

  get count (): number { return this.histogram.totalCount }

  reset (): void { this.histogram.reset() }
}
