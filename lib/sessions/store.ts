// The seat registry behind `sessions.maxSessions`. A store answers one question on the
// admission path of a NEW session — "is there a free seat for this key?" — and is told about
// activity of existing sessions in batches, so a request from a known session never waits on it.
//
// Methods may answer synchronously (MemoryStore) or with a promise (RedisStore); callers check
// for a thenable instead of always awaiting, so the in-process default costs no promise.

import { invalidOption } from '../errors'

/**
 * The answer to a seat request:
 * - 'granted': the key holds a seat (newly taken, or it already had one);
 * - 'full': every seat is taken by a live session;
 * - 'unavailable': the store could not answer (error or storeTimeout) and the failure policy
 *   is 'closed'. With policy 'open' a failing store answers 'granted' instead.
 */
export type Seat = 'granted' | 'full' | 'unavailable'

export interface SessionStore {
  /**
   * Take a seat for `key` unless `maxSessions` live seats are already taken. A seat lives until
   * `now + ttl` and is extended by `touch`. Expired seats are freed before counting. Taking a
   * seat the key already holds succeeds and extends it. `now` is the caller's clock: a store
   * shared by hosts keeps time by its own clock and uses `now` only for differences.
   */
  register (key: string, now: number, ttl: number, maxSessions: number): Seat | Promise<Seat>
  /**
   * Activity of a key that already holds a seat. Must not do I/O per call: remote stores
   * batch these and flush them periodically (heartbeat).
   */
  touch (key: string, now: number, ttl: number): void
  /** Give the seat back (logout, drain). Never rejects. */
  remove (key: string): void | Promise<void>
  /** Live seats across everyone sharing the store; undefined when the store cannot tell. */
  count (now: number): number | undefined | Promise<number | undefined>
  /**
   * Keys whose seat the store found gone when it flushed activity (expired and taken by
   * someone else, or deleted). The tracker forgets them so their next request asks again.
   * Stores that cannot lose seats behind the tracker's back leave this unset.
   */
  onSeatLost?: ((keys: readonly string[]) => void) | undefined
  /**
   * The most recent live-seat count the store learned as a side effect of its own traffic
   * (remote stores), so a status page can show it without I/O. Undefined until known.
   */
  readonly lastCount?: number | undefined
  /** Flush pending activity and release resources. Does not close a client it was given. */
  close (): Promise<void>
}

/** What a store needs to report a degraded backend; Fastify's (pino) logger fits. */
export interface StoreLogger {
  warn (obj: object, msg: string): void
}

const claimed = new WeakSet<object>()

/**
 * A store serves one registration: it reports lost seats to one tracker (onSeatLost) and is
 * closed with its app. Throws if `store` already serves one; call before the tracker takes it.
 */
export function assertStoreFree (store: unknown): void {
  if (typeof store === 'object' && store !== null && claimed.has(store)) {
    invalidOption('sessions.store', 'this store instance is already used by another registration: create one store per registration (RedisStores may share one ioredis client and key, and so one cap)')
  }
}

/** Mark `store` as serving a registration (see assertStoreFree). */
export function claimStore (store: SessionStore): void {
  claimed.add(store)
}

export function isPromise<T> (value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}
