// The sessions part of the Fastify wiring, kept out of lib/plugin.ts so the plugin
// only makes a few calls: classify before the limiter, seat a new session once a permit is
// held, give the policy its bookkeeping at release, refuse, drain.
//
// Order matters: the overload policy and the limiter decide BEFORE a new session asks the
// store for a seat, so a request shed under overload never costs a Redis round trip; and a
// seat is only taken by a request that is actually going to be served.
//
// Per-request state lives in two per-registration symbol slots on the raw response (as the
// permit does), so nothing is allocated per request: whether it belongs to an active session
// (the policy counts those in flight) and the key of a new session (to seat it later, possibly
// after the request waited for its permit).
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { invalidOption } from '../errors'
import type { Limiter } from '../limiter/limiter'
import type { Permit } from '../limiter/permit'
import type { RefuseFunction } from '../refusal'
import { describe, functionOption, knownKeys, numberOption, objectOption } from '../validate'
import { SessionOverloadPolicy, type OverloadPolicyOptions } from './overload-policy'
import { assertStoreFree, claimStore, isPromise, type SessionStore } from './store'
import {
  SessionTracker, type Admission, type DrainOptions, type DrainResult, type DrainTimers,
  type SessionRefusal, type SessionStats, type SessionTrackerOptions
} from './tracker'

/** Returns the request's VERIFIED identity (signed cookie, session id, JWT subject), or undefined. */
export type SessionKeyFunction = (request: FastifyRequest) => string | undefined
/**
 * Answers a refused new session (or, while draining, any new request) in place of
 * `onLimitExceeded`. Return `reply` once you sent something (a redirect to a waiting page, say),
 * any other value to send it as the body, or nothing for the default refusal.
 */
export type OnSessionRefusedFunction = (request: FastifyRequest, reply: FastifyReply, reason: SessionRefusal) => unknown

export interface SessionsOptions {
  key: SessionKeyFunction
  /** A key seen within this many ms belongs to an active session. */
  idleTimeout: number
  /** Cap on concurrent sessions (cluster-wide with a shared store); beyond it new sessions are refused. */
  maxSessions?: number
  /** Hard cap on keys remembered per process (default 20000, at least maxSessions). */
  maxTracked?: number
  /** Longer keys count as no key (default 128). */
  maxKeyLength?: number
  /** Seat registry for maxSessions: a MemoryStore (default) or a RedisStore shared by processes. */
  store?: SessionStore
  onRefused?: OnSessionRefusedFunction
  /** Tuning of the active-sessions-first rule under overload. */
  overload?: OverloadPolicyOptions
  /** Epoch-ms clock, for tests (default Date.now). */
  clock?: () => number
  /** Timers for the drain wait, for tests (default Node's, unref'd). */
  timers?: DrainTimers
}

export interface DrainOnCloseOptions {
  /** Longest time fastify.close() waits for active sessions to go idle, ms (default 10000). */
  timeout?: number
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000
const SESSION_OPTION_NAMES = [
  'key', 'idleTimeout', 'maxSessions', 'maxTracked', 'maxKeyLength', 'store', 'onRefused', 'overload', 'clock', 'timers'
]

type Slots = ServerResponse & Record<symbol, unknown>

export class SessionWiring {
  /** Also present without `sessions`: fastify.concurrency.drain() works for sessionless apps. */
  readonly tracker: SessionTracker
  /** True when the `sessions` option is set. */
  readonly enabled: boolean
  /** enabled, or a drain was started: the plugin calls screen() only then. */
  screening: boolean
  private readonly policy: SessionOverloadPolicy | undefined
  private readonly keyOf: SessionKeyFunction | undefined
  /** `sessions.onRefused`: the plugin's refusal function calls it for session refusals. */
  readonly onRefused: OnSessionRefusedFunction | undefined
  private readonly limiter: Limiter
  private readonly refuse: RefuseFunction
  private readonly kActive = Symbol('adaptive-concurrency.session-active')
  private readonly kNewKey = Symbol('adaptive-concurrency.session-key')
  private drainCalled = false

  constructor (input: unknown, limiter: Limiter, refuse: RefuseFunction) {
    this.limiter = limiter
    this.refuse = refuse
    if (input === undefined) {
      this.enabled = false
      this.screening = false
      // Only its drain state is used: no key is ever classified.
      this.tracker = new SessionTracker({ idleTimeout: 1 })
      return
    }
    const opts = objectOption('sessions', input) as Record<string, unknown>
    knownKeys('sessions', opts, SESSION_OPTION_NAMES)
    this.keyOf = functionOption<SessionKeyFunction>('sessions.key', opts.key) ??
      invalidOption('sessions.key', 'required: a function (request) => string | undefined returning a verified identity')
    this.onRefused = functionOption<OnSessionRefusedFunction>('sessions.onRefused', opts.onRefused)
    const { key: _key, onRefused: _onRefused, overload, ...trackerOptions } = opts
    // Before the tracker takes the store's onSeatLost over; claimed once the tracker accepted it.
    assertStoreFree(opts.store)
    this.tracker = new SessionTracker(trackerOptions as unknown as SessionTrackerOptions)
    if (opts.store !== undefined) claimStore(opts.store as SessionStore)
    this.policy = new SessionOverloadPolicy(overload as OverloadPolicyOptions | undefined)
    this.enabled = true
    this.screening = true
  }

  /**
   * Before the limiter: classify the request and apply the drain and the overload rule.
   * Returns why it must be refused (counted as a limiter rejection), or undefined to go on to
   * the limiter. An active-session request is never refused here: at the limit the limiter
   * itself refuses (or queues) it.
   */
  screen (request: FastifyRequest, raw: ServerResponse): 'draining' | 'limit' | undefined {
    const tracker = this.tracker
    if (!this.enabled) {
      // Without sessions only a drain turns screening on, and every request is a new one.
      tracker.refusedByDrain('none')
      return this.limiter.reject('draining', undefined) as 'draining'
    }
    const key = this.keyFor(request)
    const cls = tracker.classify(key)
    const active = cls === 'active'
    ;(raw as Slots)[this.kActive] = active
    ;(raw as Slots)[this.kNewKey] = cls === 'new' ? key : undefined
    const limiter = this.limiter
    if (tracker.refusedByDrain(cls)) return limiter.reject('draining', undefined) as 'draining'
    const admitted = (this.policy as SessionOverloadPolicy).admits(active, limiter.limit, limiter.inflight)
    return admitted || active ? undefined : limiter.reject('limit', undefined) as 'limit'
  }

  /**
   * A permit is held (at once or after waiting): count an active-session request in flight
   * and seat a new session. Calls `done` when the request may go on, or answers the refusal.
   */
  admit (request: FastifyRequest, reply: FastifyReply, permit: Permit<FastifyReply>, done: HookHandlerDoneFunction): void {
    const slots = reply.raw as Slots
    ;(this.policy as SessionOverloadPolicy).started(slots[this.kActive] === true)
    const key = slots[this.kNewKey] as string | undefined
    if (key === undefined) return done()
    slots[this.kNewKey] = undefined
    const admission = this.tracker.admit(key)
    if (!isPromise(admission)) return this.settle(request, reply, permit, admission, done)
    // Only the first request of a new session with a remote store gets here: it waits for I/O
    // anyway, so this closure is not on the hot path.
    admission.then((a) => this.settle(request, reply, permit, a, done), /* c8 ignore start -- stores never reject */ (err: Error) => {
      this.release(permit)
      done(err)
    }) /* c8 ignore stop */
  }

  /** The request's permit was released: the policy counts active-session requests in flight. */
  finished (raw: ServerResponse): void {
    (this.policy as SessionOverloadPolicy).finished((raw as Slots)[this.kActive] === true)
  }

  drain (options: DrainOptions): Promise<DrainResult> {
    this.drainCalled = true
    this.screening = true
    return this.tracker.drain(options)
  }

  /** Status: present when sessions are configured or a drain was started. */
  stats (): SessionStats | undefined {
    return this.enabled || this.drainCalled ? this.tracker.stats() : undefined
  }

  close (): Promise<void> {
    return this.tracker.close()
  }

  private keyFor (request: FastifyRequest): string | undefined {
    try {
      const key = (this.keyOf as SessionKeyFunction)(request)
      return typeof key === 'string' ? key : undefined
    } catch (err) {
      // The limiter must not turn a broken key() into 500s for everyone: the request counts
      // as sessionless, and the bug is logged.
      request.log.error({ err }, 'adaptive-concurrency: sessions.key threw; the request counts as sessionless')
      return undefined
    }
  }

  private settle (request: FastifyRequest, reply: FastifyReply, permit: Permit<FastifyReply>, admission: Admission, done: HookHandlerDoneFunction): void {
    if (admission === 'admitted') return done()
    // The permit was never used for work: give it back without a latency sample.
    this.release(permit)
    this.limiter.reject(admission, permit.partition)
    this.refuse(request, reply, admission, done)
  }

  private release (permit: Permit<FastifyReply>): void {
    // False when the client already left and the 'close' listener released it.
    if (this.limiter.release(permit as Permit, 'ignore')) this.finished(permit.context.raw)
  }
}

/** `drainOnClose`: the drain timeout in ms, or undefined when off. */
export function resolveDrainOnClose (value: unknown): number | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return DEFAULT_DRAIN_TIMEOUT_MS
  const opts = objectOption('drainOnClose', value) ??
    /* c8 ignore next -- objectOption throws for anything but an object */
    invalidOption('drainOnClose', `expected a boolean or { timeout }, got ${describe(value)}`)
  knownKeys('drainOnClose', opts, ['timeout'])
  return numberOption('drainOnClose.timeout', opts.timeout, DEFAULT_DRAIN_TIMEOUT_MS, 0, 2 ** 31 - 1)
}

/**
 * Fastify answers every request with 503 as soon as close() starts (before preClose hooks)
 * unless `return503OnClosing: false`: a drain on close could not serve active sessions then.
 * Fastify does not expose that option publicly, so it is read from its options object; when
 * it cannot be found (a future Fastify), the check is skipped rather than guessed.
 */
export function checkDrainOnClose (fastify: FastifyInstance): void {
  for (let o: object | null = fastify; o !== null; o = Object.getPrototypeOf(o) as object | null) {
    const symbol = Object.getOwnPropertySymbols(o).find((s) => s.description === 'fastify.options')
    if (symbol === undefined) continue
    const options = (o as Record<symbol, { return503OnClosing?: unknown } | undefined>)[symbol]
    if (options?.return503OnClosing !== false) {
      invalidOption('drainOnClose', 'requires Fastify({ return503OnClosing: false }): otherwise Fastify answers 503 to active sessions too once close() starts')
    }
    return
  }
}
