// The drain-and-sessions stage: before the limiter it applies the drain and the
// active-sessions-first rule; once a request holds a permit it seats a new session; at release
// it gives the overload rule its bookkeeping.
//
// Order matters: the overload rule and the limiter decide BEFORE a new session asks the store
// for a seat, so a request shed under overload never costs a Redis round trip, and a seat is
// only taken by a request that is actually going to be served.
//
// The stage is there without the `sessions` option too: fastify.concurrency.drain() works for
// sessionless apps. Until a drain starts it then costs one boolean check per request.
import type { FastifyInstance } from 'fastify'
import { invalidOption } from '../errors'
import type { Permit } from '../limiter/permit'
import type { RequestState } from '../pipeline/request-state'
import type { AdmissionStage, StageContext } from '../pipeline/stage'
import type { SessionOverloadPolicy } from './overload-policy'
import type { ResolvedSessions, SessionKeyFunction } from './options'
import { callUser } from '../user-callback'
import { claimStore, isPromise } from './store'
import { SessionTracker, type Admission, type DrainOptions, type DrainResult, type SessionStats } from './tracker'

export interface SessionsStage extends AdmissionStage {
  /** Stop admitting new sessions and sessionless requests; resolves once active sessions went idle. */
  drain (options: DrainOptions): Promise<DrainResult>
  /** Present when sessions are configured or a drain was started. */
  stats (): SessionStats | undefined
}

export function attachSessionsStage (ctx: StageContext): SessionsStage {
  const sessions = ctx.options.sessions
  const drainTimeout = ctx.options.drainOnClose
  if (drainTimeout !== undefined) checkDrainOnClose(ctx.fastify)
  if (sessions?.store !== undefined) claimStore(sessions.store)
  return new Sessions(ctx, sessions, drainTimeout)
}

class Sessions implements SessionsStage {
  private readonly ctx: StageContext
  /** Also present without `sessions`: only its drain state is used then. */
  private readonly tracker: SessionTracker
  private readonly policy: SessionOverloadPolicy | undefined
  private readonly keyOf: SessionKeyFunction | undefined
  private readonly drainTimeout: number | undefined
  /** Sessions are configured, or a drain was started: enter() has work to do only then. */
  private screening: boolean
  private drainCalled = false
  /** Set while a new session refused after taking its permit gives the permit back. */
  private withdrawing = false

  constructor (ctx: StageContext, sessions: ResolvedSessions | undefined, drainTimeout: number | undefined) {
    this.ctx = ctx
    this.tracker = sessions?.tracker ?? new SessionTracker({ idleTimeout: 1 })
    this.policy = sessions?.policy
    this.keyOf = sessions?.key
    this.drainTimeout = drainTimeout
    this.screening = sessions !== undefined
  }

  /**
   * Classify the request and apply the drain and the overload rule. An active-session request
   * is never refused here: at the limit the limiter itself refuses (or queues) it.
   */
  enter (state: RequestState): 'draining' | 'limit' | undefined {
    if (!this.screening) return undefined
    const tracker = this.tracker
    const policy = this.policy
    if (policy === undefined) {
      // Without sessions only a drain turns screening on, and every request is a new one.
      tracker.refusedByDrain('none')
      return 'draining'
    }
    const key = this.keyFor(state)
    const now = tracker.now()
    const cls = tracker.classify(key, now)
    const active = cls === 'active'
    state.activeSession = active
    state.newSessionKey = cls === 'new' ? key : undefined
    if (tracker.refusedByDrain(cls)) return 'draining'
    const limiter = this.ctx.limiter
    return policy.admits(active, limiter.limit, limiter.inflight, now) || active ? undefined : 'limit'
  }

  /** Count an active-session request in flight and seat a new session. */
  admitted (state: RequestState): boolean {
    if (this.policy === undefined) return true
    this.policy.started(state.activeSession)
    const key = state.newSessionKey
    if (key === undefined) return true
    state.newSessionKey = undefined
    const admission = this.tracker.admit(key)
    if (!isPromise(admission)) return this.settle(state, admission)
    // Only the first request of a new session with a remote store gets here: it waits for I/O
    // anyway, so this closure is not on the hot path.
    admission.then((a) => { if (this.settle(state, a)) this.ctx.resume(state, this) }, /* c8 ignore start -- stores never reject */ (err: Error) => {
      this.ctx.withdraw(state, 'store-unavailable')
      state.reply.log.error({ err }, 'adaptive-concurrency: the session store failed')
    }) /* c8 ignore stop */
    return false
  }

  released (state: RequestState): void {
    const policy = this.policy
    if (policy === undefined) return
    // A withdrawn request never ran: its time is no service time.
    policy.finished(state.activeSession, this.withdrawing ? Number.NaN : this.ctx.limiter.elapsed(state.permit as Permit<RequestState>))
  }

  drain (options: DrainOptions): Promise<DrainResult> {
    this.drainCalled = true
    this.screening = true
    return this.tracker.drain(options)
  }

  stats (): SessionStats | undefined {
    return this.policy !== undefined || this.drainCalled ? this.tracker.stats() : undefined
  }

  async preClose (): Promise<void> {
    if (this.drainTimeout === undefined) return
    const result = await this.drain({ timeout: this.drainTimeout })
    this.ctx.fastify.log.info({ drain: result }, 'adaptive-concurrency: drained before close')
  }

  /** Flushes pending store heartbeats; a Redis client the user passed in stays open. */
  onClose (): Promise<void> {
    return this.tracker.close()
  }

  /** A throwing key() makes the request sessionless rather than failing it. */
  private keyFor (state: RequestState): string | undefined {
    const key = callUser(this.keyOf as SessionKeyFunction, state.request, undefined, 'sessions.key threw; the request counts as sessionless')
    return typeof key === 'string' ? key : undefined
  }

  /** True when the request may go on; otherwise its permit is given back and it is refused. */
  private settle (state: RequestState, admission: Admission): boolean {
    if (admission === 'admitted') return true
    // The permit was never used for work: give it back without a latency sample. The release
    // runs inside withdraw(), synchronously.
    this.withdrawing = true
    try {
      this.ctx.withdraw(state, admission)
    } finally {
      this.withdrawing = false
    }
    return false
  }
}

/**
 * Fastify answers every request with 503 as soon as close() starts (before preClose hooks)
 * unless `return503OnClosing: false`: a drain on close could not serve active sessions then.
 * Fastify does not expose that option publicly, so it is read from its options object; when
 * it cannot be found (a future Fastify), the check is skipped rather than guessed.
 */
function checkDrainOnClose (fastify: FastifyInstance): void {
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
