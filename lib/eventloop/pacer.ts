// Keeps loop iterations short while the loop is the queue, so that new connections get in.
//
// libuv (>= 1.45, Node >= 20) accepts ONE connection per readiness of the listening socket,
// that is, one per loop iteration (src/unix/stream.c, uv__server_io; see
// docs/new-connections.md). A CPU-bound overload makes every iteration as long as the
// requests its poll phase runs: with 40 ms iterations, the 200th connection of a burst is
// accepted 8 s later, and every new client waits seconds even for its 503.
//
// So while the event-loop gate sheds, admitted requests are not run in the poll phase that
// parsed them. They wait here, in arrival order, and run from the check phase (setImmediate) in
// batches of about BATCH_BUDGET_MS (at least one request). Each batch's iteration accepts one
// connection; if its poll phase did accept one (the server's 'connection' events, counted), more
// are probably waiting, and the loop goes round without handlers for as long as each round
// accepts another, for at most as long as the batch ran (REST_BUDGET_MS at least). An empty round
// costs microseconds, so a burst of new connections is taken in at up to half of the loop's time
// instead of one per batch; without new connections the handlers lose nothing.

// The queue is bounded in time by the gate, which asks expectedWait() before it admits: the
// number waiting times the measured time per request (the interval between the starts of a full
// batch and the next one divided by the requests of the full batch, so poll phases and rest
// iterations are included while the handlers are the bottleneck).
// Pacing stops when the loop keeps up: the queue is found empty after a batch that ran within
// its budget, or the loop was idle for `maxWait` (the gate tells). Requests then run inline, as
// without the pacer. Not pacing, the pacer costs one boolean test per admitted request.

import type { LoopTurnOptions } from './loop-turn'

/** Handler time run per check phase before the loop is let go round (at least one request). */
export const BATCH_BUDGET_MS = 5
/**
 * Iterations without handlers continue while connections arrive, for as long as the batch before
 * them ran and at least this long (ms): new connections get at most half of the loop.
 */
export const REST_BUDGET_MS = 1
/** Weight of a new per-request time measurement. */
const SMOOTHING = 0.25

/** How a queued item runs: a plain continuation is called. */
function callIt (item: unknown): void {
  (item as () => void)()
}

/**
 * `T`: what waits in the queue. The plugin queues its per-request record and runs each one through
 * one shared `proceed`, so pacing allocates no closure per request.
 */
export class LoopPacer<T = () => void> {
  /** Set once the gate sheds or sees a slow turn; cleared when the loop keeps up again. */
  active = false
  /** Requests run from the queue since creation (for tests and diagnostics). */
  paced = 0
  private queue: Array<T | undefined> = []
  private head = 0
  private scheduled = false
  private resting = false
  private batchEnd = -Infinity
  private lastBatchFull = false
  private restBudget = REST_BUDGET_MS
  private connections = 0
  private seenConnections = 0
  private perRequest = 0
  private lastBatchStart = -1
  private lastBatchSize = 0
  private readonly now: () => number
  private readonly defer: (fn: () => void) => void
  private readonly drain: () => void
  private readonly proceed: (item: T) => void

  constructor (options: LoopTurnOptions = {}, proceed: (item: T) => void = callIt) {
    this.proceed = proceed
    this.now = options.now ?? performance.now.bind(performance)
    this.defer = options.defer ?? setImmediate
    // One bound function for the life of the pacer: no closure per batch or per request.
    this.drain = () => this.runBatch()
    this.countConnection = () => { this.connections++ }
  }

  private readonly countConnection: () => void

  /** Counts the server's new connections: while they keep coming, the loop rests longer. */
  watch (server: { on: (event: 'connection', listener: () => void) => unknown }): void {
    server.on('connection', this.countConnection)
  }

  /** Start pacing (the gate found a sustained queue). */
  start (): void {
    if (this.active) return
    this.active = true
    this.lastBatchStart = -1
    this.perRequest = 0
    this.resting = false
    this.lastBatchFull = false
    this.batchEnd = -Infinity
  }

  /**
   * Stop pacing if nothing waits and no paced request ran for `idleMs` (the gate saw no request
   * for that long either: the loop was idle).
   */
  stopIfIdle (idleMs: number): void {
    if (this.pending === 0 && this.now() - this.batchEnd > idleMs) this.active = false
  }

  /** Run `item` now, or, while pacing, from a later check phase in arrival order. */
  run (item: T): void {
    if (!this.active) return this.proceed(item)
    this.queue.push(item)
    if (!this.scheduled) {
      this.scheduled = true
      this.defer(this.drain)
    }
  }

  /** Requests waiting to run. */
  get pending (): number {
    return this.queue.length - this.head
  }

  /**
   * How long, in ms, a request admitted now would wait behind the queue. Before the first
   * batch has been measured, only an empty queue is known to be short.
   */
  expectedWait (): number {
    const pending = this.pending
    if (pending === 0) return 0
    if (this.perRequest === 0) return Infinity
    return pending * this.perRequest
  }

  private runBatch (): void {
    this.scheduled = false
    if (this.pending === 0) {
      this.queue.length = 0
      this.head = 0
      // The last batch ran everything within its budget: the loop keeps up. After a full batch,
      // an empty queue may only mean that arrivals paused (a client stalled, a burst ended):
      // stay ready, with nothing scheduled, until the next request or until the gate sees the
      // loop idle. Stopping here would let the next surge run inline, in long turns, until
      // two of them in a row start the shedding again.
      if (!this.lastBatchFull) this.active = false
      return
    }
    if (this.resting && this.keepResting()) {
      this.scheduled = true
      this.defer(this.drain)
      return
    }
    const start = this.now()
    // Only a full batch says how fast the queue moves: one that emptied the queue ran all there
    // was, and the loop time between it and this one went to other work (parsing and refusing a
    // flood, streaming), not to the requests it ran. Measured per request anyway, one request a
    // batch behind a 100 ms poll phase would read as 100 ms each, every queued request would look
    // too late, and the gate would shed nearly everything while its refusals keep the loop busy.
    if (this.lastBatchStart >= 0 && this.lastBatchFull) this.measure((start - this.lastBatchStart) / this.lastBatchSize)
    let ran = 0
    let elapsed = 0
    const queue = this.queue
    try {
      while (this.head < queue.length) {
        const item = queue[this.head] as T
        queue[this.head++] = undefined
        ran++
        this.proceed(item)
        elapsed = this.now() - start
        if (elapsed >= BATCH_BUDGET_MS) break
      }
    } finally {
      // Even if a continuation threw, the requests behind it must still run.
      this.afterBatch(start, ran, elapsed)
    }
  }

  private afterBatch (start: number, ran: number, elapsed: number): void {
    this.paced += ran
    // The first batch of an episode: its handler time is the only measurement yet.
    if (this.lastBatchStart < 0) this.measure(elapsed / ran)
    this.lastBatchStart = start
    this.lastBatchSize = ran
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    this.batchEnd = this.now()
    this.lastBatchFull = elapsed >= BATCH_BUDGET_MS
    this.restBudget = elapsed > REST_BUDGET_MS ? elapsed : REST_BUDGET_MS
    this.resting = true
    this.seenConnections = this.connections
    this.scheduled = true
    this.defer(this.drain)
  }

  // Called at the check phase after a batch or a rest iteration: did the poll phase just before
  // accept a connection? Then more are probably waiting in the kernel's accept queue.
  private keepResting (): boolean {
    const fresh = this.connections !== this.seenConnections
    this.seenConnections = this.connections
    if (fresh && this.now() - this.batchEnd < this.restBudget) return true
    this.resting = false
    return false
  }

  private measure (sample: number): void {
    this.perRequest = this.perRequest === 0 ? sample : this.perRequest + SMOOTHING * (sample - this.perRequest)
  }
}
