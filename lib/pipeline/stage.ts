// The interface every admission stage implements. The pipeline (pipeline.ts) runs the stages in
// the order it was given them:
//   1. route opt-out and bypass   (lib/pipeline/opt-out.ts)
//   2. drain and sessions         (lib/sessions/stage.ts)
//   3. the event-loop gate        (lib/eventloop/stage.ts)
//   4. the limiter, with its queue and partitions (lib/backlog/stage.ts)
// Each feature module exports an `attach...(ctx)` that builds its stage from resolved options and
// a complete context: nothing is set on a stage after it is built.
import type { FastifyInstance } from 'fastify'
import type { Limiter } from '../limiter/limiter'
import type { Permit } from '../limiter/permit'
import type { Waiter } from '../limiter/wait-queue'
import type { ResolvedOptions } from '../options'
import type { RejectReason } from '../refusal'
import type { RequestState } from './request-state'

/** The request goes through without a permit and is not counted (opt-out) or counted as bypassed. */
export const PASS = 1
export type Pass = typeof PASS

/** What the capacity stage decided: a permit now, a place in the queue, or why not. */
export type Acquired = Permit<RequestState> | Waiter<RequestState> | RejectReason

export interface AdmissionStage extends StageLifecycle {
  /** Before a permit is taken: undefined goes on, PASS lets the request through, a reason refuses it. */
  enter (state: RequestState): RejectReason | Pass | undefined
  /**
   * The request holds a permit. True: go on to the next stage. False: this stage took the
   * request over and later calls `ctx.resume(state, this)` or `ctx.withdraw(state, reason)`.
   */
  admitted? (state: RequestState): boolean
  /** The request's permit was released (its response closed). */
  released? (state: RequestState): void
}

/** The last stage: it decides on capacity. */
export interface CapacityStage extends StageLifecycle {
  acquire (state: RequestState): Acquired
}

/**
 * What a stage does as the server starts and stops. The plugin runs each hook over the stages in
 * pipeline order, so the order of shutdown steps is the order of the stages: the drain (sessions)
 * runs before the queue is emptied (capacity).
 */
export interface StageLifecycle {
  /** A route is added: check its config (an error fails `ready()`). */
  onRoute? (route: { method: string | string[], url: string, config?: unknown }): void
  /** fastify.close() started, before the server stops accepting. */
  preClose? (): void | Promise<void>
  /** The server closed. */
  onClose? (): void | Promise<void>
}

/** What every stage is built with. */
export interface StageContext {
  readonly fastify: FastifyInstance
  readonly options: ResolvedOptions
  readonly limiter: Limiter<RequestState>
  /** Continue an admitted request after `stage`, which held it. */
  resume (state: RequestState, stage: AdmissionStage): void
  /** Answer a refusal; the rejection was already counted. */
  refuse (state: RequestState, reason: RejectReason): void
  /** The request holds a permit but will not run: give it back without a sample, count and answer the refusal. */
  withdraw (state: RequestState, reason: RejectReason): void
}
