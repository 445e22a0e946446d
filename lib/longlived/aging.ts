// Requests that hold a permit, oldest first: how an undeclared long-poll stops crowding the limit
// before its route has been learned.
//
// A route is learned long-lived from its samples (lib/limiter/sample-classes.ts), and a long-poll
// gives its sample only when it ends: a route of 8 s polls would hold up to the whole limit for
// 8 s, and more, before the plugin knew. So when a request finds the limit full, the oldest
// requests are looked at first: one that has held its permit for `signal.longLivedAfter` or more,
// on a route whose own no-load latency is long or not known yet, gives its permit back (no
// sample: it is counted open as a waiting request) and teaches its route a sample of its age so
// far. A window of such samples learns the route long-lived, so later requests are admitted as
// long-lived from the start.
//
// A route that is fast (its baseline under a quarter of the threshold) or latched ordinary is not
// asked: its requests that grow old are a downstream that hangs, an overload, and keep their
// permits. Those
// are unlinked when first seen old, so each request is looked at once past the threshold: the
// walk costs O(1) per request over its life, and nothing at all while the limit has room.
//
// The list is intrusive (two fields on the request's record): linking and unlinking allocate
// nothing, and a request in admission order needs no sorting (permits start in that order).
import type { Permit } from '../limiter/permit'
import type { LongLivedRoute } from './tracker'

export interface Aging {
  /** The request's permit, while it holds one. */
  permit: Permit<unknown> | undefined
  route: LongLivedRoute | undefined
  older: Aging | undefined
  newer: Aging | undefined
  /** In the list now. */
  aging: boolean
}

export class AgingList<T extends Aging> {
  private oldest: T | undefined = undefined
  private newest: T | undefined = undefined
  /** From which permit age (ms) a request may be long-lived; Infinity: never. */
  private readonly after: number

  constructor (after: number) {
    this.after = after
  }

  /** True when there is something to look at: the list is not empty and ageing is on. */
  get active (): boolean {
    return this.oldest !== undefined
  }

  /** A request now holds its permit past admission. */
  link (item: T): void {
    if (this.after === Infinity) return
    item.aging = true
    item.older = this.newest
    item.newer = undefined
    if (this.newest === undefined) this.oldest = item
    else this.newest.newer = item
    this.newest = item
  }

  /** Its permit is released (or it is no longer a candidate). */
  unlink (item: T): void {
    if (!item.aging) return
    item.aging = false
    const { older, newer } = item
    if (older === undefined) this.oldest = newer as T | undefined
    else older.newer = newer
    if (newer === undefined) this.newest = older as T | undefined
    else newer.older = older
    item.older = undefined
    item.newer = undefined
  }

  /**
   * Hand every request whose permit is at least `after` old at `now` to `convert` (it gives the
   * permit back) if its route may be long-lived, and stop looking at the others. Returns how many
   * were converted.
   */
  reclaim (now: number, convert: (item: T, age: number) => void): number {
    let converted = 0
    let item = this.oldest
    while (item !== undefined) {
      const permit = item.permit as Permit<unknown>
      const age = now - permit.start
      if (age < this.after) break
      const next = item.newer as T | undefined
      this.unlink(item)
      if (mayBeLongLived(item.route)) {
        convert(item, age)
        converted++
      }
      item = next
    }
    return converted
  }

  /**
   * `route` was just learned long-lived: every request of it that still holds a permit is handed
   * to `convert`, whatever its age. Once per route for the life of the process, O(permits held).
   * Not from within reclaim(), whose walk it would cut.
   */
  releaseRoute (route: LongLivedRoute, convert: (item: T) => void): void {
    let item = this.oldest
    while (item !== undefined) {
      const next = item.newer as T | undefined
      if (item.route === route) {
        this.unlink(item)
        convert(item)
      }
      item = next
    }
  }
}

/** An undeclared route whose class may have long-lived requests (SampleClass.mayBeLongLived). */
function mayBeLongLived (route: LongLivedRoute | undefined): boolean {
  if (route === undefined || route.declared !== undefined) return false
  const cls = route.cls
  return cls != null && cls.mayBeLongLived
}
