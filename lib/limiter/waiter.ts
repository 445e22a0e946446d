// A waiter of the wait queue and the two intrusive lists it is linked into (see wait-queue.ts).
// Every waiter is a node of a doubly-linked service list (its priority level) and of one expiry
// list, so enqueue, service and removal of an arbitrary waiter are O(1): no splicing, no scans.

/** Why a waiter of this queue expires on its own: its queue timeout or its client's deadline. */
export type TimeoutReason = 'queue-timeout' | 'deadline'

export const QUEUED = 0
export const GRANTED = 1
export const EXPIRED = 2
export const CANCELLED = 3
/** Pushed out of a full queue by a more important arrival. */
export const EVICTED = 4
export type WaiterState = typeof QUEUED | typeof GRANTED | typeof EXPIRED | typeof CANCELLED | typeof EVICTED

/** A queued request: the handle returned by enqueue() and accepted by cancel(). */
export class Waiter<T> {
  readonly value: T
  readonly level: number
  readonly enqueuedAt: number
  /**
   * min(enqueuedAt + timeout, client deadline). Lowered once, when the queue turns standing and
   * every waiter's timeout is cut (see expiry-index.ts); never raised.
   */
  expiresAt: number
  reason: TimeoutReason
  state: WaiterState = QUEUED
  // Links in the level's service list (reused as a private chain once the waiter is detached).
  prev: Waiter<T> | null = null
  next: Waiter<T> | null = null
  // Links in one of the two expiry lists.
  expPrev: Waiter<T> | null = null
  expNext: Waiter<T> | null = null
  /** On the unsorted "client deadline first" list rather than the arrival-ordered one. */
  readonly early: boolean

  constructor (value: T, level: number, enqueuedAt: number, expiresAt: number, reason: TimeoutReason, early: boolean) {
    this.value = value
    this.level = level
    this.enqueuedAt = enqueuedAt
    this.expiresAt = expiresAt
    this.reason = reason
    this.early = early
  }

  get queued (): boolean { return this.state === QUEUED }
  get granted (): boolean { return this.state === GRANTED }
  get expired (): boolean { return this.state === EXPIRED }
  get cancelled (): boolean { return this.state === CANCELLED }
  get evicted (): boolean { return this.state === EVICTED }
}

/** A list through the service links (prev/next). */
export class ServiceList<T> {
  head: Waiter<T> | null = null
  tail: Waiter<T> | null = null
  length = 0

  push (w: Waiter<T>): void {
    w.prev = this.tail
    w.next = null
    if (this.tail === null) this.head = w
    else this.tail.next = w
    this.tail = w
    this.length++
  }

  remove (w: Waiter<T>): void {
    if (w.prev === null) this.head = w.next
    else w.prev.next = w.next
    if (w.next === null) this.tail = w.prev
    else w.next.prev = w.prev
    w.prev = w.next = null
    this.length--
  }
}

/** A list through the expiry links (expPrev/expNext). */
export class ExpiryList<T> {
  head: Waiter<T> | null = null
  tail: Waiter<T> | null = null

  push (w: Waiter<T>): void {
    w.expPrev = this.tail
    w.expNext = null
    if (this.tail === null) this.head = w
    else this.tail.expNext = w
    this.tail = w
  }

  remove (w: Waiter<T>): void {
    if (w.expPrev === null) this.head = w.expNext
    else w.expPrev.expNext = w.expNext
    if (w.expNext === null) this.tail = w.expPrev
    else w.expNext.expPrev = w.expPrev
    w.expPrev = w.expNext = null
  }
}
