// When the wait queue's waiters expire, and which expire next (wait-queue.ts owns the waiters).
//
// The queue timeout is the same for every waiter and the clock is monotonic, so waiters without
// an earlier client deadline expire in arrival order: that list's head is always the next to
// expire. Waiters whose client deadline comes first sit on a second, unsorted list that is
// scanned only when its earliest deadline passes (cost proportional to the waiters that carry
// deadlines). A standing queue cuts every waiter's timeout at once: one walk per standing
// episode, each waiter present for at most one cut. With `keepFirst`, the first priority level
// is never cut (see wait-queue.ts): its waiters keep their own arrival-ordered list.
import { ExpiryList, type Waiter } from './waiter'

export class ExpiryIndex<T> {
  private readonly byArrival = new ExpiryList<T>()
  /** Level 0's waiters without an earlier deadline, when that level keeps its timeout. */
  private readonly kept = new ExpiryList<T>()
  private readonly keepFirst: boolean
  private readonly early = new ExpiryList<T>()
  /** Lower bound of the earliest deadline on `early` (may be stale-low after removals: harmless). */
  private earlyMin = Infinity

  constructor (keepFirst = false) {
    this.keepFirst = keepFirst
  }

  /** Whether this waiter's timeout is never cut. */
  keeps (w: Waiter<T>): boolean { return this.keepFirst && w.level === 0 }

  add (w: Waiter<T>): void {
    if (w.early) {
      this.early.push(w)
      if (w.expiresAt < this.earlyMin) this.earlyMin = w.expiresAt
    } else {
      this.arrivalList(w).push(w)
    }
  }

  remove (w: Waiter<T>): void {
    if (w.early) this.early.remove(w)
    else this.arrivalList(w).remove(w)
  }

  private arrivalList (w: Waiter<T>): ExpiryList<T> {
    return this.keeps(w) ? this.kept : this.byArrival
  }

  /** The queue is empty: forget the stale bound. */
  clear (): void {
    this.earlyMin = Infinity
  }

  /** The earliest expiry (ms), Infinity when nothing waits. */
  get next (): number {
    const head = this.byArrival.head
    const kept = this.kept.head
    return Math.min(head === null ? Infinity : head.expiresAt, kept === null ? Infinity : kept.expiresAt, this.earlyMin)
  }

  /**
   * Every waiter's timeout becomes `cut` from its arrival (a deadline that comes earlier stays),
   * except a kept level's.
   * Arrival order stays expiry order for the waiters without an earlier deadline.
   */
  cut (cut: number): void {
    for (let w = this.byArrival.head; w !== null; w = w.expNext) {
      w.expiresAt = w.enqueuedAt + cut
      w.reason = 'queue-timeout'
    }
    let min = Infinity
    for (let w = this.early.head; w !== null; w = w.expNext) {
      const at = w.enqueuedAt + cut
      if (at < w.expiresAt && !this.keeps(w)) {
        w.expiresAt = at
        w.reason = 'queue-timeout'
      }
      if (w.expiresAt < min) min = w.expiresAt
    }
    this.earlyMin = min
  }

  /** Hands every waiter whose time has come to `take`, which must remove it from this index. */
  takeExpired (now: number, take: (w: Waiter<T>) => void): void {
    const byArrival = this.byArrival
    const kept = this.kept
    // Arrival order is expiry order on each, so stop at the first waiter still in time.
    while (byArrival.head !== null && byArrival.head.expiresAt <= now) take(byArrival.head)
    while (kept.head !== null && kept.head.expiresAt <= now) take(kept.head)
    if (this.earlyMin > now) return
    let min = Infinity
    let w = this.early.head
    while (w !== null) {
      const next = w.expNext
      if (w.expiresAt <= now) take(w)
      else if (w.expiresAt < min) min = w.expiresAt
      w = next
    }
    this.earlyMin = min
  }
}
