// A hand-driven clock and one-shot timers implementing TimerApi, so queue tests control time exactly.
import type { TimerApi } from '../../lib/limiter/wait-queue'

interface FakeTimer { id: number, at: number, fn: () => void }

export class FakeTimers implements TimerApi {
  time: number
  private nextId = 1
  private pending: FakeTimer[] = []
  /** Every delay passed to setTimer, to check that the queue arms one timer, not one per waiter. */
  readonly delays: number[] = []

  constructor (start = 0) {
    this.time = start
  }

  now (): number {
    return this.time
  }

  setTimer (fn: () => void, delayMs: number): unknown {
    const id = this.nextId++
    this.delays.push(delayMs)
    this.pending.push({ id, at: this.time + delayMs, fn })
    return id
  }

  clearTimer (handle: unknown): void {
    this.pending = this.pending.filter(t => t.id !== handle)
  }

  /** Timers armed and not yet fired or cleared. */
  get armed (): number {
    return this.pending.length
  }

  /** Move time forward by `ms`, firing due timers in order, each at its own time. */
  advance (ms: number): void {
    const target = this.time + ms
    for (;;) {
      let due: FakeTimer | undefined
      for (const t of this.pending) if (t.at <= target && (due === undefined || t.at < due.at)) due = t
      if (due === undefined) break
      const fired = due
      this.pending = this.pending.filter(t => t !== fired)
      this.time = Math.max(this.time, fired.at)
      fired.fn()
    }
    this.time = target
  }

  /** Move the clock without firing anything: a timer that runs late on a busy event loop. */
  jump (ms: number): void {
    this.time += ms
  }
}
