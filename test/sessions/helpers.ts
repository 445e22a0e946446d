// Test doubles for the sessions module: a manual clock with timers that fire only when the
// test advances time, so drain and expiry are checked without sleeping.
import type { DrainTimers } from '../../lib/sessions/tracker'

export class ManualClock implements DrainTimers {
  time: number
  private timers = new Map<number, { at: number, fn: () => void }>()
  private nextId = 1

  constructor (start = 1_000_000) {
    this.time = start
  }

  readonly now = (): number => this.time

  setTimeout (fn: () => void, ms: number): unknown {
    const id = this.nextId++
    this.timers.set(id, { at: this.time + ms, fn })
    return id
  }

  clearTimeout (handle: unknown): void {
    this.timers.delete(handle as number)
  }

  get pendingTimers (): number {
    return this.timers.size
  }

  /** Move time forward, firing due timers in time order. */
  advance (ms: number): void {
    const end = this.time + ms
    for (;;) {
      let due: [number, { at: number, fn: () => void }] | undefined
      for (const entry of this.timers) {
        if (entry[1].at <= end && (due === undefined || entry[1].at < due[1].at)) due = entry
      }
      if (due === undefined) break
      this.timers.delete(due[0])
      this.time = Math.max(this.time, due[1].at)
      due[1].fn()
    }
    this.time = end
  }
}
