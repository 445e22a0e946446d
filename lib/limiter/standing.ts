// Controlled delay: when a wait queue is absorbing a burst and when it is a standing backlog
// (after Facebook's server queues and CoDel). The wait queue (wait-queue.ts) applies the
// consequences: the waiters' timeout and the service order.
//
// A burst and the onset of an overload look the same while they last: the queue grows. They
// differ afterwards: a burst's queue drains, a backlog's does not. So the queue is watched over
// windows of `interval` ms, the first starting when it becomes non-empty:
// - ABSORBING: a window at whose end the queue is empty or draining was a burst; a new window
//   begins. Waiters may wait the queue's full timeout. Draining means below 15/16 of the
//   reference: for the window that opened on an empty queue, its peak (the burst has ended and
//   its queue is going down); for later windows, the queue's length when the window began. Not
//   the peak then: a server that works in batches (a synchronous handler, one loop turn at a
//   time) takes its arrivals in at the start of each turn and grants permits during it, so the
//   window's end usually falls at a trough below the turn's peak while the backlog grows from
//   trough to trough (measured: waits of 0.8 s at cpu-bound 2x with a peak reference).
// - STANDING: the queue stayed non-empty for a whole window and did not drain: arrivals outpace
//   service. Waiters get the short standing timeout, newest first.
// - A refusal by the event-loop gate (the loop itself is the queue) makes the queue standing at
//   once, and counts as shedding.
// - A standing queue goes back to absorbing once a whole `interval` passes without shedding (no
//   waiter timed out, none refused or evicted for a full queue): service keeps up again. Not
//   merely when it empties: a server that works in batches (a synchronous handler) empties its
//   queue every loop turn while the overload lasts, and a queue that went back to absorbing each
//   time would hold requests for a whole window again and again.
// The interval must outlast the longest burst to absorb: with 100 ms, a burst of 100 ms ends its
// first window at its peak (see lib/backlog/options.ts for the default). Everything here is O(1):
// a window start, a peak and the time of the last shed.

/** See lib/backlog/options.ts for why. */
export const DEFAULT_INTERVAL_MS = 250
// A window ends "draining" when the queue is below 15/16 of the window's peak: arrivals that
// merely fluctuate around a growing backlog must not pass for a drain.
const DRAIN_NUM = 15
const DRAIN_DEN = 16

/** evaluate(): nothing changed, the queue just turned standing, or it just went back to absorbing. */
export const UNCHANGED = 0
export const TURNED_STANDING = 1
export const TURNED_ABSORBING = 2

export class StandingDetector {
  readonly interval: number
  /** Standing now (see isStanding for the read-only view). */
  standing = false
  /** Times the queue turned standing. */
  episodes = 0
  /** Start of the current window (absorbing, non-empty queue). */
  private windowStart = 0
  /** Most waiters queued at once in the current window. */
  private windowPeak = 0
  /** Waiters queued when the current window began (0: it opened on an empty queue). */
  private windowBase = 0
  /** While standing: the last time a waiter was shed. */
  private lastShedAt = 0

  constructor (interval: number) {
    this.interval = interval
  }

  /** When the current window ends; Infinity while standing. */
  get windowEnd (): number {
    return this.standing ? Infinity : this.windowStart + this.interval
  }

  /**
   * A waiter joins a queue of `length` waiters. Returns true when that opens a window (the queue
   * was empty): the caller arms its timer for windowEnd.
   */
  arrival (length: number, now: number): boolean {
    if (this.standing) return false
    const opens = length === 0
    if (opens) {
      this.windowStart = now
      this.windowPeak = 0
      this.windowBase = 0
    }
    if (length >= this.windowPeak) this.windowPeak = length + 1
    return opens
  }

  /** A waiter was shed (timed out, refused or evicted for a full queue). */
  shed (now: number): void {
    if (this.standing) this.lastShedAt = now
  }

  /**
   * Requests were refused upstream because the event loop itself is the queue: a sustained
   * overload, whatever this queue saw. Returns TURNED_STANDING if that made it standing.
   */
  overload (now: number): number {
    this.lastShedAt = now
    if (this.standing) return UNCHANGED
    this.standing = true
    this.episodes++
    return TURNED_STANDING
  }

  /** The state machine, given the queue's length now. */
  evaluate (length: number, now: number): number {
    if (this.standing) {
      if (now - this.lastShedAt < this.interval) return UNCHANGED
      this.standing = false
      this.windowStart = now
      this.windowPeak = length
      this.windowBase = length
      return TURNED_ABSORBING
    }
    if (length === 0 || now < this.windowStart + this.interval) return UNCHANGED
    const reference = this.windowBase === 0 ? this.windowPeak : this.windowBase
    if (length * DRAIN_DEN >= reference * DRAIN_NUM) {
      this.standing = true
      this.episodes++
      this.lastShedAt = now
      return TURNED_STANDING
    }
    // Draining: a burst. A new window, measured against the queue as it is.
    this.windowStart = now
    this.windowPeak = length
    this.windowBase = length
    return UNCHANGED
  }

  /** Read-only: standing, unless an interval passed without shedding (evaluate() then turns it). */
  isStanding (now: number): boolean {
    return this.standing && now - this.lastShedAt < this.interval
  }
}
