// Which requests belong to an active session, whether a new session gets in, and the drain
// state machine. Framework-agnostic: the caller extracts the key and maps verdicts to replies.
//
// Local state is one Map key -> last-seen time, kept in last-seen order (a touch deletes and
// re-inserts), so the least recently seen entry is always first: idle expiry and eviction
// both pop from the front, lazily, without timers. The Map never holds more than `maxTracked`
// keys of at most `maxKeyLength` characters, so a flood of made-up keys cannot grow memory.
import { invalidOption } from '../errors'
import { describe, functionOption, numberOption, objectOption } from '../validate'
import { MemoryStore } from './memory-store'
import { isPromise, type Seat, type SessionStore } from './store'

/** 'active': seen within idleTimeout; 'new': a valid key not active; 'none': no usable key. */
export type SessionClass = 'active' | 'new' | 'none'
/** Why a new session (or, while draining, a sessionless request) is refused. */
export type SessionRefusal = 'session-cap' | 'draining' | 'store-unavailable'
export type Admission = 'admitted' | SessionRefusal

export interface DrainOptions {
  /** Longest time to wait for active sessions to go idle, in ms. */
  timeout: number
}
export interface DrainResult {
  /** 'idle': every session went idle; 'timeout': timeout passed first; 'cancelled': resume() was called. */
  reason: 'idle' | 'timeout' | 'cancelled'
  /** Sessions still active when the drain ended. */
  remaining: number
}

export interface DrainTimers {
  setTimeout (fn: () => void, ms: number): unknown
  clearTimeout (handle: unknown): void
}

export interface SessionTrackerOptions {
  /** A key seen within this many ms belongs to an active session. */
  idleTimeout: number
  /** Cap on concurrent sessions (across processes when the store is shared). Default: no cap. */
  maxSessions?: number
  /** Hard cap on locally tracked keys; the least recently seen is evicted beyond it. */
  maxTracked?: number
  /** Longer keys are treated as no key, bounding memory per entry. */
  maxKeyLength?: number
  /** Seat registry for maxSessions; default a MemoryStore. */
  store?: SessionStore
  /** Epoch milliseconds (the store may compare times across processes). Default Date.now. */
  clock?: () => number
  /** Timer functions for the drain wait; injectable for tests. Default Node's, unref'd. */
  timers?: DrainTimers
}

export interface SessionStats {
  /** Locally tracked sessions seen within idleTimeout. */
  active: number
  /** Live seats in the store (cluster-wide with a shared store), when known without I/O. */
  seats: number | undefined
  /** Refusals of new sessions or, while draining, sessionless requests. */
  refused: number
  refusedByReason: Record<SessionRefusal, number>
  draining: boolean
  /** Keys dropped because maxTracked was reached (a sign of a key flood or a too-small cap). */
  evicted: number
}

const DEFAULT_MAX_TRACKED = 20_000
const DEFAULT_MAX_KEY_LENGTH = 128

const nodeTimers: DrainTimers = {
  setTimeout (fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clearTimeout (handle) { clearTimeout(handle as NodeJS.Timeout) }
}

export class SessionTracker {
  readonly idleTimeout: number
  readonly maxSessions: number | undefined
  readonly maxTracked: number
  readonly maxKeyLength: number
  readonly store: SessionStore | undefined
  evicted = 0
  refusedByReason: Record<SessionRefusal, number> = { 'session-cap': 0, draining: 0, 'store-unavailable': 0 }

  private readonly lastSeen = new Map<string, number>()
  private readonly clock: () => number
  private readonly timers: DrainTimers
  private latestActivity = -Infinity
  private drainState: { deadline: number, promise: Promise<DrainResult>, resolve: (r: DrainResult) => void, timer: unknown } | undefined
  private isDraining = false

  constructor (options: SessionTrackerOptions) {
    const opts = objectOption('sessions', options) ?? invalidOption('sessions', 'expected an object')
    this.idleTimeout = numberOption('sessions.idleTimeout', opts.idleTimeout, NaN, 1, 2 ** 31 - 1)
    if (Number.isNaN(this.idleTimeout)) invalidOption('sessions.idleTimeout', 'required: a number of ms in [1, 2147483647]')
    this.maxSessions = opts.maxSessions === undefined
      ? undefined
      : numberOption('sessions.maxSessions', opts.maxSessions, 0, 1, Number.MAX_SAFE_INTEGER, { integer: true })
    this.maxTracked = numberOption('sessions.maxTracked', opts.maxTracked,
      Math.max(DEFAULT_MAX_TRACKED, this.maxSessions ?? 0), 1, 10_000_000, { integer: true })
    this.maxKeyLength = numberOption('sessions.maxKeyLength', opts.maxKeyLength, DEFAULT_MAX_KEY_LENGTH, 1, 4096, { integer: true })
    const store = opts.store as SessionStore | undefined
    if (store !== undefined && typeof store?.register !== 'function') {
      invalidOption('sessions.store', `expected a SessionStore (register, touch, remove, count, close), got ${describe(store)}`)
    }
    this.store = store ?? (this.maxSessions !== undefined ? new MemoryStore() : undefined)
    if (this.store !== undefined) {
      // Seats a remote store found gone: forget them so their next request asks for a seat again.
      this.store.onSeatLost = (keys) => { for (const key of keys) this.lastSeen.delete(key) }
    }
    this.clock = functionOption<() => number>('sessions.clock', opts.clock) ?? Date.now
    this.timers = (opts.timers as DrainTimers | undefined) ?? nodeTimers
  }

  /**
   * Classify a request by its session key. An active session's activity is recorded here
   * (locally and as a batched store heartbeat), so this is the only call its requests need.
   */
  classify (key: string | undefined, now: number = this.clock()): SessionClass {
    if (key === undefined || key.length === 0 || key.length > this.maxKeyLength) return 'none'
    const seen = this.lastSeen.get(key)
    if (seen !== undefined) {
      if (now - seen < this.idleTimeout) {
        this.remember(key, now)
        if (this.maxSessions !== undefined) this.store?.touch(key, now, this.idleTimeout)
        return 'active'
      }
      this.lastSeen.delete(key)
    }
    this.expire(now, 2) // amortised cleanup: at most two stale entries per new key
    return 'new'
  }

  /** While draining, anything but an active session is refused; counts the refusal. */
  refusedByDrain (cls: SessionClass): boolean {
    if (!this.isDraining || cls === 'active') return false
    this.refusedByReason.draining++
    return true
  }

  /**
   * Admit a key classified 'new': take a seat when maxSessions is set (may wait for the
   * store, never longer than its storeTimeout) and start tracking it.
   */
  admit (key: string, now: number = this.clock()): Admission | Promise<Admission> {
    if (this.isDraining) return this.refuse('draining')
    if (this.maxSessions === undefined) {
      this.remember(key, now)
      return 'admitted'
    }
    const seat = (this.store as SessionStore).register(key, now, this.idleTimeout, this.maxSessions)
    if (isPromise(seat)) return seat.then((s) => this.settle(key, s, now))
    return this.settle(key, seat, now)
  }

  /** Forget a session at once and free its seat (logout). */
  end (key: string): void | Promise<void> {
    this.lastSeen.delete(key)
    return this.store?.remove(key)
  }

  /** The sessions' clock (epoch ms). */
  now (): number {
    return this.clock()
  }

  /** Active sessions tracked by this process (drops expired entries first). */
  activeSessions (now: number = this.clock()): number {
    this.expire(now, Infinity)
    return this.lastSeen.size
  }

  get tracked (): number {
    return this.lastSeen.size
  }

  get draining (): boolean {
    return this.isDraining
  }

  get refused (): number {
    const r = this.refusedByReason
    return r['session-cap'] + r.draining + r['store-unavailable']
  }

  stats (now: number = this.clock()): SessionStats {
    const seats = this.store?.lastCount ?? this.syncStoreCount(now)
    return {
      active: this.activeSessions(now),
      seats,
      refused: this.refused,
      refusedByReason: { ...this.refusedByReason },
      draining: this.isDraining,
      evicted: this.evicted
    }
  }

  /**
   * Stop admitting new sessions and sessionless requests; resolve once every active session
   * went idle, or `timeout` ms passed. Calling it again while draining returns the same wait.
   */
  drain (options: DrainOptions): Promise<DrainResult> {
    const opts = objectOption('drain', options) ?? invalidOption('drain', 'expected { timeout }')
    const timeout = numberOption('drain.timeout', opts.timeout, NaN, 0, 2 ** 31 - 1)
    if (Number.isNaN(timeout)) invalidOption('drain.timeout', 'required: a number of ms in [0, 2147483647]')
    if (this.drainState !== undefined) return this.drainState.promise
    this.isDraining = true
    let settle!: (r: DrainResult) => void
    const promise = new Promise<DrainResult>((resolve) => { settle = resolve })
    this.drainState = { deadline: this.clock() + timeout, promise, resolve: settle, timer: undefined }
    this.checkDrain()
    return promise
  }

  /** Leave the draining state (an aborted shutdown); a pending drain() resolves 'cancelled'. */
  resume (): void {
    this.isDraining = false
    this.finishDrain('cancelled', this.clock())
  }

  async close (): Promise<void> {
    const state = this.drainState
    if (state !== undefined) this.timers.clearTimeout(state.timer)
    await this.store?.close()
  }

  private checkDrain (): void {
    const state = this.drainState as NonNullable<SessionTracker['drainState']>
    const now = this.clock()
    if (this.activeSessions(now) === 0) return this.finishDrain('idle', now)
    if (now >= state.deadline) return this.finishDrain('timeout', now)
    // No session can stay active past its last activity + idleTimeout; look again then
    // (or at the deadline). New activity just pushes the next look further out.
    const allIdleAt = this.latestActivity + this.idleTimeout
    const wake = Math.min(state.deadline, allIdleAt)
    state.timer = this.timers.setTimeout(() => this.checkDrain(), Math.max(1, wake - now))
  }

  private finishDrain (reason: DrainResult['reason'], now: number): void {
    const state = this.drainState
    if (state === undefined) return
    this.timers.clearTimeout(state.timer)
    this.drainState = reason === 'cancelled' ? undefined : { ...state, timer: undefined }
    state.resolve({ reason, remaining: this.activeSessions(now) })
  }

  private settle (key: string, seat: Seat, now: number): Admission {
    // A drain may have started while the store answered.
    if (this.isDraining) {
      // remove() never rejects; nobody needs to wait for it.
      if (seat === 'granted') this.store?.remove(key)
      return this.refuse('draining')
    }
    if (seat === 'granted') {
      this.remember(key, now)
      return 'admitted'
    }
    return this.refuse(seat === 'full' ? 'session-cap' : 'store-unavailable')
  }

  private refuse (reason: SessionRefusal): SessionRefusal {
    this.refusedByReason[reason]++
    return reason
  }

  private remember (key: string, now: number): void {
    this.lastSeen.delete(key)
    this.lastSeen.set(key, now)
    if (now > this.latestActivity) this.latestActivity = now
    if (this.lastSeen.size > this.maxTracked) {
      // Map iteration order is insertion order: the first key is the least recently seen.
      this.lastSeen.delete(this.lastSeen.keys().next().value as string)
      this.evicted++
    }
  }

  /** Drop up to `limit` entries idle for idleTimeout or longer, oldest first. */
  private expire (now: number, limit: number): void {
    let n = 0
    for (const [key, seen] of this.lastSeen) {
      if (n >= limit || now - seen < this.idleTimeout) return
      this.lastSeen.delete(key)
      n++
    }
  }

  private syncStoreCount (now: number): number | undefined {
    const count = this.store?.count(now)
    // A remote store's count needs I/O; stats stay synchronous and report what is known.
    return isPromise(count) ? undefined : count
  }
}
