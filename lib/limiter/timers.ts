// The clock and the one-shot timer of the wait queue (and the limiter's clock), injected so that
// tests drive time by hand (see lib/internal.ts).

/** Clock and one-shot timer. Times in ms. */
export interface TimerApi {
  now (): number
  /** Run `fn` once after `delayMs`. The timer should not keep the process alive (unref). */
  setTimer (fn: () => void, delayMs: number): unknown
  clearTimer (handle: unknown): void
}

export const systemTimers: TimerApi = {
  // Monotonic, in epoch milliseconds: the processes of one service then share a clock, on which
  // Gradient2 lines up its baseline probes (a shared backend drains only when all probe at once).
  now: () => performance.timeOrigin + performance.now(),
  setTimer: (fn, delayMs) => setTimeout(fn, delayMs).unref(),
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout)
}
