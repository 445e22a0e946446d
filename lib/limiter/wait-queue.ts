// A bounded queue of requests waiting for a concurrency permit.
//
// Why this shape:
// - Every waiter is a node of intrusive doubly-linked lists, so enqueue, service and removal of
//   an arbitrary waiter (a client that disconnects) are O(1): no array splicing, no scans.
// - Priority levels are a small fixed array of lists (level 0 is served first). Inside a level the
//   queue serves the newest waiter (LIFO: its client is the most likely to still be waiting) or
//   the oldest (FIFO).
// - A full queue refuses an arrival unless it holds a less important waiter: then that one is
//   evicted (settled as 'queue-full') and the arrival takes its place, so low-priority waiters can
//   never lock critical requests out. The victim is the least important level's waiter that would
//   be served last (the oldest under LIFO, the newest under FIFO): the end of one list, O(1) per
//   level looked at, and the number of levels is fixed by configuration (at most 64).
// - Timeouts use ONE timer for the whole queue, armed for the earliest expiry, which
//   expiry-index.ts knows in O(1).
// - Expiry is also checked lazily when a permit is granted, so a timer that fires late (busy event
//   loop) can never let an expired waiter receive a permit.
// - Controlled delay (optional `standingTimeout` + `interval`), after Facebook's server queues
//   and CoDel: standing.ts tells a burst (absorbed: waiters may wait `timeout`, in the configured
//   order) from a standing backlog (every waiter's timeout becomes `standingTimeout`, those that
//   already waited longer expire at once, and service turns LIFO, so the permits go to the
//   freshest requests, whose clients are still there). With priority levels, the first keeps
//   its timeout.
// - Callbacks (onExpire) run only after every list is consistent again, so they may re-enter the
//   queue (enqueue, cancel, grantNext) safely.
import { CANCELLED, EVICTED, EXPIRED, GRANTED, QUEUED, ServiceList, Waiter } from './waiter'
import { ExpiryIndex } from './expiry-index'
import { systemTimers, type TimerApi } from './timers'
import { WaitStats } from './wait-stats'
import { DEFAULT_INTERVAL_MS, StandingDetector, TURNED_ABSORBING, TURNED_STANDING } from './standing'
import { resolveWaitQueueOptions, type ExpiryReason, type QueueOrder, type WaitQueueOptions } from './wait-queue-options'

export { Waiter, systemTimers, type TimerApi, DEFAULT_INTERVAL_MS, type ExpiryReason, type QueueOrder, type WaitQueueOptions }

export class WaitQueue<T> {
  readonly size: number
  readonly timeout: number
  readonly order: QueueOrder
  readonly standingTimeout: number | undefined
  /** Controlled delay only: burst or backlog. */
  private readonly detector: StandingDetector | undefined
  /** LIFO now: the configured order, or LIFO while standing. */
  private lifo: boolean
  /** The waiters' timeout now: `timeout`, or `standingTimeout` while standing. */
  private timeoutNow: number
  private readonly levels: Array<ServiceList<T>> = []
  private readonly expiries: ExpiryIndex<T>
  /** The first of several priority levels keeps `timeout` while standing (see the constructor). */
  private readonly keepFirst: boolean
  private readonly timers: TimerApi
  private readonly onExpire: (value: T, reason: ExpiryReason, level: number) => void
  private timer: unknown = undefined
  private armedFor = Infinity
  private readonly fire = (): void => { this.onTimer() }
  private readonly take = (w: Waiter<T>): void => { this.takeExpired(w) }
  private readonly waits = new WaitStats()
  // Waiters expired by the current sweep, linked through `next`, settled once the sweep is done.
  private chainHead: Waiter<T> | null = null
  private chainTail: Waiter<T> | null = null
  private _length = 0
  /** When the event-loop gate last refused a request (shedUpstream). */
  private upstreamShedAt = -Infinity
  // Lifetime counters, for status.
  enqueued = 0
  granted = 0
  rejectedFull = 0
  /** Waiters pushed out of the full queue by a more important arrival. */
  evicted = 0
  timedOut = 0
  deadlineExpired = 0
  cancelled = 0

  constructor (options: WaitQueueOptions<T>) {
    const o = resolveWaitQueueOptions(options)
    this.size = o.size
    this.timeout = o.timeout
    this.order = o.order
    this.lifo = this.order === 'lifo'
    this.standingTimeout = o.standingTimeout
    this.detector = o.standingTimeout === undefined ? undefined : new StandingDetector(o.interval)
    this.timeoutNow = this.timeout
    for (let i = 0; i < o.levels; i++) this.levels.push(new ServiceList<T>())
    // With priority levels, the first is the one its user declared must get through, and it is
    // served first: its waiters wait only while that level alone asks for more than the limit.
    // A standing queue shortens the others' waits (LIFO, standingTimeout), never its own.
    this.keepFirst = o.levels > 1 && o.standingTimeout !== undefined
    this.expiries = new ExpiryIndex<T>(this.keepFirst)
    this.timers = options.timers ?? systemTimers
    this.onExpire = options.onExpire
  }

  /** Waiters queued now. */
  get length (): number { return this._length }

  get levelCount (): number { return this.levels.length }

  /**
   * True while the queue is standing (controlled delay only): short timeouts, LIFO. Read-only: a
   * standing queue that has not shed for an interval reads false, and turns absorbing for real on
   * the next enqueue or grant.
   */
  get standing (): boolean {
    return this.detector !== undefined && this.detector.isStanding(this.timers.now())
  }

  /**
   * True while waiters ride out a burst: queued, and the queue not standing. Never without
   * controlled delay (`standingTimeout: false`): a plain queue cannot tell a burst from a backlog.
   */
  get absorbing (): boolean {
    return this.detector !== undefined && this.length > 0 && !this.detector.isStanding(this.timers.now())
  }

  /**
   * Requests were refused before they could queue, for overload (an event-loop gate): a standing
   * queue stays standing, as if it had shed them itself. Otherwise, with most of the overload
   * refused upstream, the queue would see no shedding for an interval, turn absorbing, and hold
   * the next requests for its full timeout while the overload lasts.
   */
  shedUpstream (): void {
    const now = this.timers.now()
    this.upstreamShedAt = now
    if (this.detector !== undefined && this.detector.overload(now) === TURNED_STANDING) this.turnStanding(now)
  }

  /**
   * True if the event-loop gate shed within the last interval: the loop itself is the queue, and
   * the gate holds its wait to `maxWait`. A request that then waited here as well would wait
   * twice, and the CPU spent holding and expiring it would go to nobody's handler, so the caller
   * refuses it instead, and that refusal counts as this queue's shedding: once the gate stops, the
   * queue stays standing (short waits) for as long as the limit still turns requests away.
   */
  bypass (): boolean {
    const now = this.timers.now()
    if (now - this.upstreamShedAt >= (this.detector === undefined ? DEFAULT_INTERVAL_MS : this.detector.interval)) return false
    this.detector?.shed(now)
    return true
  }

  /**
   * True if a waiter at `level` that expects to wait `wait` ms would expire first: while standing,
   * a request whose permit is not expected within standingTimeout (few permits, slow service:
   * service time / limit longer than it) would only hold its client that long before its refusal,
   * and spend the CPU of a waiter on it. The caller refuses it at once; that counts as shedding.
   */
  wouldExpire (wait: number, level: number): boolean {
    const detector = this.detector
    if (detector === undefined || wait <= (this.standingTimeout as number)) return false
    if (this.keeps(level)) return false
    const now = this.timers.now()
    if (!detector.isStanding(now)) return false
    detector.shed(now)
    return true
  }

  /** Whether waiters at this level keep `timeout` while standing. */
  private keeps (level: number): boolean { return this.keepFirst && level === 0 }

  /** The window (ms) that tells a burst from a backlog; undefined for a plain queue. */
  get interval (): number | undefined { return this.detector?.interval }

  /** Times the queue turned standing. */
  get standingEpisodes (): number { return this.detector === undefined ? 0 : this.detector.episodes }

  /** Waiters queued now at one priority level. */
  levelLength (level: number): number { return this.levels[level].length }

  /**
   * How many queued waiters would be served before a new waiter at `level`: everyone at a more
   * important level, plus (FIFO only) everyone already at the same level. The wait estimate uses it.
   */
  aheadOf (level: number): number {
    let ahead = 0
    for (let i = 0; i < level; i++) ahead += this.levels[i].length
    if (!this.lifo) ahead += this.levels[level].length
    return ahead
  }

  /**
   * Queue `value` at `level`, or return 'full'. `deadline` is the client's absolute deadline on the
   * same clock (ms); the waiter expires at the earlier of it and now + timeout. When the queue is
   * full and holds a waiter of a less important level (higher number), that waiter is evicted
   * (onExpire with 'queue-full') and the new one queued instead.
   */
  enqueue (value: T, level = 0, deadline = Infinity): Waiter<T> | 'full' {
    let now = this.timers.now()
    if (this.evaluate(now)) {
      this.sweep(now)
      now = this.timers.now()
    }
    // A late timer may leave expired waiters behind: they must not cost a live request its place.
    if (this._length >= this.size) this.sweep(now)
    if (this._length >= this.size) {
      const victim = this.leastValuableBelow(level)
      if (victim !== undefined) {
        // The victim is settled BEFORE the arrival is queued: its callback sees consistent lists
        // and cannot reach the arrival (not yet queued, nor yet returned to the caller).
        this.evict(victim, now)
        now = this.timers.now()
      }
      // Same or lower priority than everyone queued; or onExpire re-entered and took the place.
      if (this._length >= this.size) {
        this.rejectedFull++
        this.detector?.shed(now)
        return 'full'
      }
    }
    // A new busy period opens a window: the timer is armed for its end.
    const detector = this.detector
    if (detector !== undefined && detector.arrival(this._length, now)) this.arm(detector.windowEnd, now)
    const timeoutAt = now + (this.keeps(level) ? this.timeout : this.timeoutNow)
    const early = deadline < timeoutAt
    const expiresAt = early ? deadline : timeoutAt
    const w = new Waiter(value, level, now, expiresAt, early ? 'deadline' : 'queue-timeout', early)
    this.levels[level].push(w)
    this.expiries.add(w)
    this._length++
    this.enqueued++
    this.arm(expiresAt, now)
    return w
  }

  /**
   * Remove a waiter whose client went away. Returns true if it was still queued (nothing will be
   * called for it); false if it had already left: granted (the caller now owns a permit and must
   * release it), expired, or cancelled before.
   */
  cancel (w: Waiter<T>): boolean {
    if (w.state !== QUEUED) return false
    this.detach(w)
    w.state = CANCELLED
    this.cancelled++
    const now = this.timers.now()
    this.recordWait(w, now)
    this.resetIfEmpty(now)
    return true
  }

  /**
   * Hand one released permit to the next live waiter: the most important eligible level first,
   * newest (LIFO) or oldest (FIFO) inside it. Expired waiters met on the way are settled through
   * onExpire and never receive the permit. Returns the waiter's value, or undefined when no live
   * eligible waiter exists (the permit then goes back to the pool: the caller decrements in-flight).
   * `eligible(level)` lets partitions refuse a level that is at its guaranteed share.
   */
  grantNext (eligible?: (level: number) => boolean): T | undefined {
    const w = this.grantNextWaiter(eligible)
    return w === undefined ? undefined : w.value
  }

  /** As grantNext, but returns the granted Waiter itself, so the caller also learns its level. */
  grantNextWaiter (eligible?: (level: number) => boolean): Waiter<T> | undefined {
    if (this._length === 0) return undefined
    const now = this.timers.now()
    // Turning standing cuts expiresAt: the loop below then settles the waiters it meets that are past it.
    this.evaluate(now)
    let expiredHead: Waiter<T> | null = null
    let expiredTail: Waiter<T> | null = null
    let winner: Waiter<T> | null = null
    const levels = this.levels
    for (let level = 0; level < levels.length && winner === null; level++) {
      const list = levels[level]
      if (list.length === 0 || (eligible !== undefined && !eligible(level))) continue
      while (list.length > 0) {
        const w = (this.lifo ? list.tail : list.head) as Waiter<T>
        this.detach(w)
        if (w.expiresAt <= now) {
          w.state = EXPIRED
          if (expiredTail === null) expiredHead = w
          else expiredTail.next = w
          expiredTail = w
          continue
        }
        w.state = GRANTED
        winner = w
        break
      }
    }
    if (winner !== null) {
      this.granted++
      this.recordWait(winner, now)
    }
    this.resetIfEmpty(now)
    this.settleExpired(expiredHead, now)
    return winner === null ? undefined : winner
  }

  /**
   * The waiter a full queue gives up for an arrival at `level`: from the least important level
   * below it that has waiters, the one its order would serve last. undefined if there is none.
   */
  private leastValuableBelow (level: number): Waiter<T> | undefined {
    const levels = this.levels
    for (let l = levels.length - 1; l > level; l--) {
      const list = levels[l]
      if (list.length > 0) return (this.lifo ? list.head : list.tail) as Waiter<T>
    }
    return undefined
  }

  private evict (w: Waiter<T>, now: number): void {
    this.detach(w)
    w.state = EVICTED
    this.evicted++
    this.detector?.shed(now)
    this.recordWait(w, now)
    this.resetIfEmpty(now)
    this.onExpire(w.value, 'queue-full', w.level)
  }

  /** Remove every waiter (server closing), stop the timer, and return the values for the caller to settle. */
  removeAll (): T[] {
    return this.removeAllWaiters().map(w => w.value)
  }

  /** As removeAll, but returns the Waiters (in service-level order), so the caller also learns their levels. */
  removeAllWaiters (): Array<Waiter<T>> {
    const out: Array<Waiter<T>> = []
    const now = this.timers.now()
    for (const list of this.levels) {
      while (list.head !== null) {
        const w = list.head
        this.detach(w)
        w.state = CANCELLED
        this.cancelled++
        this.recordWait(w, now)
        out.push(w)
      }
    }
    this.resetIfEmpty(now)
    this.clearTimer() // closing: no wake-up left behind
    return out
  }

  /** Queue-wait percentile in ms over every waiter that left the queue since the last reset. */
  waitPercentile (percentile: number): number {
    return this.waits.percentile(percentile)
  }

  get waitCount (): number { return this.waits.count }

  resetWaitStats (): void { this.waits.reset() }

  private detach (w: Waiter<T>): void {
    this.levels[w.level].remove(w)
    this.expiries.remove(w)
    this._length--
  }

  private recordWait (w: Waiter<T>, now: number): void {
    this.waits.record(now - w.enqueuedAt)
  }

  /** Arm the shared timer for `at` unless it already fires no later than that. */
  private arm (at: number, now: number): void {
    if (at >= this.armedFor) return
    this.clearTimer()
    this.armedFor = at
    // Timers take whole ms and never fire early; at least 1 ms so a fractional remainder cannot spin.
    this.timer = this.timers.setTimer(this.fire, Math.max(1, Math.ceil(at - now)))
  }

  // The timer is deliberately NOT cleared when the queue empties: a queue that keeps going from
  // 0 to 1 waiter would otherwise pay a setTimeout + clearTimeout per request (measured ~1 µs).
  // Left armed, it fires at most once more, finds nothing, and is not re-armed.
  private resetIfEmpty (_now: number): void {
    if (this._length !== 0) return
    this.expiries.clear()
  }

  /**
   * Runs the controlled-delay state machine (standing.ts) and applies a change. Returns true if
   * the queue just turned standing; the caller then settles the waiters now past their cut expiry
   * (sweep, or the grant loop).
   */
  private evaluate (now: number): boolean {
    const detector = this.detector
    if (detector === undefined) return false
    const change = detector.evaluate(this._length, now)
    if (change === TURNED_STANDING) {
      this.turnStanding(now)
      return true
    }
    if (change === TURNED_ABSORBING) {
      // Waiters queued while standing keep their short expiry: they are at most standingTimeout old.
      this.lifo = this.order === 'lifo'
      this.timeoutNow = this.timeout
      if (this._length > 0) this.arm(detector.windowEnd, now)
    }
    return false
  }

  private turnStanding (now: number): void {
    const cut = this.standingTimeout as number
    this.lifo = true
    this.timeoutNow = cut
    this.expiries.cut(cut)
    this.arm(this.expiries.next, now)
  }

  private clearTimer (): void {
    if (this.timer === undefined) return
    this.timers.clearTimer(this.timer)
    this.timer = undefined
    this.armedFor = Infinity
  }

  private onTimer (): void {
    this.timer = undefined
    this.armedFor = Infinity
    const now = this.timers.now()
    this.evaluate(now)
    this.sweep(now)
    // sweep may have re-entered enqueue (from onExpire) and armed already; arm() keeps the earlier.
    if (this._length === 0) return
    let next = this.expiries.next
    if (this.detector !== undefined) next = Math.min(next, this.detector.windowEnd)
    this.arm(next, now)
  }

  /** Expire every waiter whose time has come; callbacks run after the lists are consistent. */
  private sweep (now: number): void {
    this.expiries.takeExpired(now, this.take)
    // Detach the chain before any callback runs: a callback may re-enter sweep (enqueue when full).
    const head = this.chainHead
    this.chainHead = this.chainTail = null
    this.resetIfEmpty(now)
    this.settleExpired(head, now)
  }

  private takeExpired (w: Waiter<T>): void {
    this.detach(w)
    w.state = EXPIRED
    if (this.chainTail === null) this.chainHead = w
    else this.chainTail.next = w
    this.chainTail = w
  }

  private settleExpired (head: Waiter<T> | null, now: number): void {
    let w = head
    while (w !== null) {
      const next = w.next
      w.next = null
      if (w.reason === 'deadline') this.deadlineExpired++
      else {
        this.timedOut++
        this.detector?.shed(now)
      }
      this.recordWait(w, now)
      this.onExpire(w.value, w.reason, w.level)
      w = next
    }
  }
}
