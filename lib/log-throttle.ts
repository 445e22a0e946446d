// "At most once per interval" for a log line that could otherwise fire on every request (a
// failing session store, a broken observer). It counts what it held back, so the line that does
// get through can say how many were suppressed. No timer: time comes from the caller's clock.
export class LogThrottle {
  private readonly interval: number
  private readonly clock: () => number
  private last = -Infinity
  private held = 0

  constructor (interval: number, clock: () => number = Date.now) {
    this.interval = interval
    this.clock = clock
  }

  /**
   * Call at each occurrence. Returns how many occurrences were suppressed since the last one let
   * through (log now, and say so), or -1 to stay quiet.
   */
  pass (): number {
    const t = this.clock()
    if (t - this.last < this.interval) {
      this.held++
      return -1
    }
    this.last = t
    const held = this.held
    this.held = 0
    return held
  }
}
