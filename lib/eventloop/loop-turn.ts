// Sees Node's own queue: the event loop.
//
// A CPU-bound handler finishes within one tick, so in-flight never exceeds 1 and handler
// latency looks flat, while new requests wait in socket buffers before `onRequest` runs. Those
// waiting requests are all handed to JavaScript in the same loop turn (libuv's poll phase
// drains every readable socket), one after another. So the time since the current loop turn
// began is a direct reading of how long the request now in `onRequest` has been queued behind
// the others: the 50th request of a turn that runs 2 ms handlers has waited ~100 ms.
//
// We mark the turn's start at its first request and schedule one `setImmediate` (the check
// phase, which runs right after poll) to mark its end. That is one callback per *busy* turn,
// never per request, and nothing at all while the process is idle: no timer keeps it awake.
//
// The previous busy turn's length and the idle gap before the current turn are kept too, so a
// caller can tell a sustained queue (long turns back to back) from one slow turn (a cold
// start, a GC pause, one slow request) that the loop has already recovered from.

export interface LoopTurnOptions {
  /** Monotonic clock in ms. Injected for tests. */
  now?: () => number
  /** Runs `fn` once the current loop turn's I/O callbacks are done. Injected for tests. */
  defer?: (fn: () => void) => void
}

export class LoopTurnTracker {
  private turnStart = 0
  private inTurn = false
  private lastTurnLength = 0
  private lastTurnEnd = -Infinity
  private idleGap = Infinity
  private readonly now: () => number
  private readonly defer: (fn: () => void) => void
  private readonly endTurn: () => void

  constructor (options: LoopTurnOptions = {}) {
    this.now = options.now ?? performance.now.bind(performance)
    this.defer = options.defer ?? setImmediate
    // One bound function for the life of the tracker: no closure per turn or per request.
    this.endTurn = () => {
      this.inTurn = false
      const end = this.now()
      this.lastTurnLength = end - this.turnStart
      this.lastTurnEnd = end
    }
  }

  /**
   * How long, in ms, the work being done now has been queued behind earlier work of the
   * same loop turn. Call once per incoming request; the first call of a turn returns 0.
   */
  age (now: number = this.now()): number {
    if (!this.inTurn) {
      this.inTurn = true
      this.turnStart = now
      this.idleGap = now - this.lastTurnEnd
      this.defer(this.endTurn)
      return 0
    }
    return now - this.turnStart
  }

  /** When the current (or last) busy turn started: identifies a turn. */
  get currentTurn (): number {
    return this.turnStart
  }

  /** Length of the last completed busy turn, in ms. */
  get previousTurn (): number {
    return this.lastTurnLength
  }

  /** Idle time between the previous busy turn's end and the current turn's start, in ms. */
  get gap (): number {
    return this.idleGap
  }
}
