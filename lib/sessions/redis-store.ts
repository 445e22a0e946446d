// Seat registry shared by several processes through Redis (ioredis), so `maxSessions` is one
// cap for the whole cluster. Only NEW sessions pay a round trip (an atomic Lua
// check-and-register); activity of known sessions is collected in a Map and flushed as one
// heartbeat script every `heartbeatInterval` ms by a single unref'd timer. Seats expire on
// Redis's clock: the store sends how long a seat must live, measured as a difference between
// two readings of the caller's clock, so no host's clock is ever compared with another's.
//
// Every Redis call is bounded by `storeTimeout`; on error or timeout the `onStoreError` policy
// decides: 'open' grants the seat (and warns at most once per `warnInterval`), 'closed' answers
// 'unavailable' so the caller refuses the new session, and gives back the seat if the register
// runs after all, late. Existing sessions never depend on Redis.
import { invalidOption } from '../errors'
import { enumOption, functionOption, numberOption, objectOption, knownKeys, describe } from '../validate'
import { Deadlines, StoreTimeoutError } from './deadline'
import { LogThrottle } from '../log-throttle'
import { COUNT_SCRIPT, HEARTBEAT_SCRIPT, REGISTER_SCRIPT, RELEASE_SCRIPT, decodeMember, encodeMember } from './redis-scripts'
import type { Seat, SessionStore, StoreLogger } from './store'

export type StoreErrorPolicy = 'open' | 'closed'

/**
 * What the store needs of an ioredis client (`Redis` or `Cluster`), typed by its shape: ioredis is
 * an optional peer, and naming its types here would break the type check of every app that does
 * not install it. Both real clients satisfy this (checked in test/types/entries.tst.ts).
 */
export interface RedisClient {
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
  zrem (key: string, ...members: string[]): Promise<number>
}

export interface RedisStoreOptions {
  /** A connected ioredis client (Redis or Cluster). The store never closes it. */
  client: RedisClient
  /** Redis key of the seat pool; processes sharing a cap must use the same key. */
  key?: string
  /** Longest a Redis call may take, in ms (default 100). */
  storeTimeout?: number
  /** What a failing store answers for a new session (default 'open'). */
  onStoreError?: StoreErrorPolicy
  /** How often batched activity is flushed, in ms (default 1000). */
  heartbeatInterval?: number
  /** Minimum ms between two warnings about a failing store (default 60000). */
  warnInterval?: number
  logger?: StoreLogger
  /** Clock for the warning interval and timeouts (default performance.now). */
  clock?: () => number
}

interface SeatCommands {
  fastifyConcurrencyRegister (pool: string, life: number, max: number, member: string, poolTtl: number): Promise<[number, number, number]>
  fastifyConcurrencyRelease (pool: string, member: string, score: number): Promise<number>
  fastifyConcurrencyHeartbeat (pool: string, ...args: Array<string | number>): Promise<[number, string[]]>
  fastifyConcurrencyCount (pool: string): Promise<number>
}

/** Max (expiresAt, member) pairs per heartbeat script call, so one call stays short. */
const HEARTBEAT_CHUNK = 500
const OPTION_NAMES = ['client', 'key', 'storeTimeout', 'onStoreError', 'heartbeatInterval', 'warnInterval', 'logger', 'clock']

export class RedisStore implements SessionStore {
  readonly policy: StoreErrorPolicy
  readonly storeTimeout: number
  readonly heartbeatInterval: number
  onSeatLost: ((keys: readonly string[]) => void) | undefined = undefined
  lastCount: number | undefined = undefined
  /** Failures seen (errors and timeouts), for tests and diagnostics. */
  failures = 0

  private readonly client: RedisClient & SeatCommands
  private readonly pool: string
  private readonly warnInterval: number
  private readonly logger: StoreLogger | undefined
  private readonly clock: () => number
  private readonly deadlines: Deadlines
  private readonly timer: NodeJS.Timeout
  /** Key -> when its session goes idle, on the caller's clock (latest activity + ttl). */
  private pending = new Map<string, number>()
  private flushing: Promise<void> | undefined
  /** The batch being flushed: remove() drops its key here too, so a retry cannot re-seat it. */
  private sending: Map<string, number> | undefined
  private readonly warnThrottle: LogThrottle
  private maxSessions = Infinity
  private ttl = 0
  private closed = false
  /**
   * Latest caller time seen. A heartbeat gives each key `idleAt - latestNow` (+ grace) to live
   * from Redis's now: latestNow is at most the true time, so a seat is never shortened.
   */
  private latestNow = 0

  constructor (options: RedisStoreOptions) {
    const opts = objectOption('RedisStore', options) ?? invalidOption('RedisStore', 'expected an options object with a client')
    knownKeys('RedisStore', opts, OPTION_NAMES)
    const client = opts.client as { defineCommand?: unknown } | undefined
    if (typeof client?.defineCommand !== 'function') {
      invalidOption('RedisStore.client', `expected an ioredis client, got ${describe(opts.client)}`)
    }
    this.pool = typeof opts.key === 'string' && opts.key !== ''
      ? opts.key
      : opts.key === undefined ? 'fastify-concurrency:sessions' : invalidOption('RedisStore.key', `expected a non-empty string, got ${describe(opts.key)}`)
    this.storeTimeout = numberOption('RedisStore.storeTimeout', opts.storeTimeout, 100, 1, 60_000)
    this.policy = enumOption('RedisStore.onStoreError', opts.onStoreError, ['open', 'closed'] as const, 'open')
    this.heartbeatInterval = numberOption('RedisStore.heartbeatInterval', opts.heartbeatInterval, 1000, 10, 3_600_000)
    this.warnInterval = numberOption('RedisStore.warnInterval', opts.warnInterval, 60_000, 0)
    const logger = objectOption('RedisStore.logger', opts.logger) as StoreLogger | undefined
    if (logger !== undefined && typeof logger.warn !== 'function') {
      invalidOption('RedisStore.logger.warn', `expected a function, got ${describe(logger.warn)}`)
    }
    this.logger = logger
    this.clock = functionOption<() => number>('RedisStore.clock', opts.clock) ?? (() => performance.now())
    this.deadlines = new Deadlines(this.storeTimeout, this.clock)
    this.warnThrottle = new LogThrottle(this.warnInterval, this.clock)

    const redis = options.client
    redis.defineCommand('fastifyConcurrencyRegister', { numberOfKeys: 1, lua: REGISTER_SCRIPT })
    redis.defineCommand('fastifyConcurrencyHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT })
    redis.defineCommand('fastifyConcurrencyCount', { numberOfKeys: 1, lua: COUNT_SCRIPT })
    redis.defineCommand('fastifyConcurrencyRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT })
    this.client = redis as RedisClient & SeatCommands

    this.timer = setInterval(() => { this.flush() }, this.heartbeatInterval)
    // The heartbeat must not keep a process alive that has nothing else to do.
    this.timer.unref()
  }

  async register (key: string, now: number, ttl: number, maxSessions: number): Promise<Seat> {
    this.maxSessions = maxSessions
    this.ttl = ttl
    if (now > this.latestNow) this.latestNow = now
    const member = encodeMember(key)
    const reply = this.client.fastifyConcurrencyRegister(this.pool, this.seatLife(ttl), maxSessions, member, this.seatLife(ttl))
    try {
      const [granted, live] = await this.deadlines.run(reply)
      this.lastCount = live
      return granted === 1 ? 'granted' : 'full'
    } catch (err) {
      this.fail(err as Error, 'register')
      if (this.policy === 'open') return 'granted'
      if (err instanceof StoreTimeoutError) this.releaseLate(reply, member)
      return 'unavailable'
    }
  }

  touch (key: string, now: number, ttl: number): void {
    // Overwrites the key's previous entry: only the latest activity matters.
    this.pending.set(key, now + ttl)
    if (now > this.latestNow) this.latestNow = now
  }

  async remove (key: string): Promise<void> {
    this.pending.delete(key)
    this.sending?.delete(key)
    try {
      await this.deadlines.run(this.client.zrem(this.pool, encodeMember(key)))
    } catch (err) {
      this.fail(err as Error, 'remove')
    }
  }

  async count (now: number): Promise<number | undefined> {
    if (now > this.latestNow) this.latestNow = now
    try {
      const live = await this.deadlines.run(this.client.fastifyConcurrencyCount(this.pool))
      this.lastCount = live
      return live
    } catch (err) {
      this.fail(err as Error, 'count')
      return undefined
    }
  }

  /**
   * Send the batched activity now (also runs every heartbeatInterval). At most one flush is
   * in flight; a call during a flush returns that flush. Never rejects.
   */
  flush (): Promise<void> {
    if (this.flushing !== undefined) return this.flushing
    if (this.pending.size === 0) return Promise.resolve()
    const batch = this.pending
    this.pending = new Map()
    this.sending = batch
    this.flushing = this.sendHeartbeats(batch).finally(() => {
      this.flushing = undefined
      this.sending = undefined
    })
    return this.flushing
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    await this.flush()
  }

  private async sendHeartbeats (batch: Map<string, number>): Promise<void> {
    const now = this.latestNow
    const grace = this.grace()
    let args: Array<string | number> = []
    let keys: string[] = []
    for (const [key, idleAt] of batch) {
      // Whole ms, rounded up: a seat may outlive its session by a fraction, never the reverse.
      const life = Math.ceil(idleAt - now + grace)
      // Idle already, on every host's count: nothing to keep (or to seat again).
      if (life <= 0) continue
      args.push(life, encodeMember(key))
      keys.push(key)
      if (keys.length === HEARTBEAT_CHUNK) {
        await this.sendHeartbeatChunk(args, keys, batch)
        args = []
        keys = []
      }
    }
    if (keys.length > 0) await this.sendHeartbeatChunk(args, keys, batch)
  }

  private async sendHeartbeatChunk (args: Array<string | number>, keys: readonly string[], batch: Map<string, number>): Promise<void> {
    try {
      const [live, lost] = await this.deadlines.run(this.client.fastifyConcurrencyHeartbeat(
        this.pool, this.maxSessions, this.seatLife(this.ttl), ...args))
      this.lastCount = live
      if (lost.length > 0) this.onSeatLost?.(lost.map(decodeMember))
    } catch (err) {
      this.fail(err as Error, 'heartbeat')
      // Dropping the chunk would let these seats expire up to a whole ttl before their
      // sessions go idle (a key active once, then quiet, is not touched again): the next flush
      // carries it, unless newer activity or a remove() came in meanwhile. A chunk that timed
      // out may still run late; sending it again only extends seats to the same times.
      for (const key of keys) {
        const idleAt = batch.get(key)
        if (idleAt === undefined) continue
        const newer = this.pending.get(key)
        if (newer === undefined || newer < idleAt) this.pending.set(key, idleAt)
      }
    }
  }

  /**
   * The register timed out and its session was refused, but Redis may still run it once it
   * catches up: a seat it takes would be held by nobody until it expires. Only a seat that
   * register created is given back; one the key held already belongs to a live session.
   */
  private releaseLate (reply: Promise<[number, number, number]>, member: string): void {
    reply.then(([, , added]) => {
      if (added === 0) return
      this.deadlines.run(this.client.fastifyConcurrencyRelease(this.pool, member, added))
        .catch((err: Error) => { this.fail(err, 'release') })
    }, () => { /* the register failing late is the failure already counted */ })
  }

  /**
   * Seats in Redis outlive local idleness by one heartbeat interval plus one timeout, because
   * activity reaches Redis that late; otherwise a busy session could expire there first.
   */
  private grace (): number {
    return this.heartbeatInterval + this.storeTimeout
  }

  /** A new or re-registered seat lives this long from Redis's now; so does the pool key at least. */
  private seatLife (ttl: number): number {
    return Math.ceil(ttl + this.grace())
  }

  private fail (err: Error, operation: string): void {
    this.failures++
    if (this.logger === undefined) return
    const suppressed = this.warnThrottle.pass()
    if (suppressed < 0) return
    this.logger.warn(
      { err, operation, policy: this.policy, suppressed },
      `session store failing (${operation}): new sessions are ${this.policy === 'open' ? 'admitted without a shared seat' : 'refused'}`
    )
  }
}
