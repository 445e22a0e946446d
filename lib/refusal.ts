// Every refusal, whatever its reason (the limiter, its gates, the queue, a deadline, the
// sessions overload rule, a session cap, a drain, a failing store), is answered here, by one set
// of rules, so no path can drift from the others:
// - the status is `rejection.statusCode` (503 or 429);
// - `Retry-After` is `rejection.retryAfter`, or with 'auto' the estimated wait behind the queue;
// - the default answer is an FST_ error handed to `done`, so the app's error handler formats it;
// - `rejection.onLimitExceeded` (or, for a session refusal, `sessions.onRefused`) may answer instead, by
//   Fastify's hook convention: return `reply` once it sent something, a value to send it, or
//   nothing for the default answer.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errors, invalidOption } from './errors'
import type { LimiterRejectReason } from './limiter/events'
import { retryAfterSeconds } from './limiter/wait-estimate'
import type { SessionRefusal } from './sessions/tracker'
import type { OnSessionRefusedFunction } from './sessions/options'
import type { OnLimitExceededFunction, RejectionOptions } from './types'
import { describe, functionOption, knownKeys, numberOption, objectOption } from './validate'

/**
 * Why a request was refused: the limiter's own reasons (capacity, queue, deadline), the
 * event-loop gate's, and those of sessions and the drain.
 */
export type RejectReason = LimiterRejectReason | 'event-loop' | SessionRefusal

export const DEFAULT_RETRY_AFTER_S = 1

export interface ResolvedRejection {
  statusCode: 503 | 429
  /** Whole seconds; with `retryAfter: 'auto'` the value used when there is no estimate. */
  retryAfter: number
  retryAfterAuto: boolean
  onLimitExceeded: OnLimitExceededFunction | undefined
}

export function resolveRejection (value: unknown): ResolvedRejection {
  const opts = objectOption('rejection', value) ?? {}
  knownKeys('rejection', opts, ['statusCode', 'retryAfter', 'onLimitExceeded'] satisfies Array<keyof RejectionOptions>)
  const statusCode = opts.statusCode
  if (statusCode !== undefined && statusCode !== 503 && statusCode !== 429) {
    invalidOption('rejection.statusCode', `expected 503 or 429, got ${describe(statusCode)}`)
  }
  const retryAfter = opts.retryAfter
  if (typeof retryAfter === 'string' && retryAfter !== 'auto') {
    invalidOption('rejection.retryAfter', `expected an integer in [0, 86400] or 'auto', got ${describe(retryAfter)}`)
  }
  return {
    statusCode: statusCode ?? 503,
    retryAfter: retryAfter === 'auto' ? DEFAULT_RETRY_AFTER_S : numberOption('rejection.retryAfter', retryAfter, DEFAULT_RETRY_AFTER_S, 0, 86400, { integer: true }),
    retryAfterAuto: retryAfter === 'auto',
    onLimitExceeded: functionOption<OnLimitExceededFunction>('rejection.onLimitExceeded', opts.onLimitExceeded)
  }
}

export interface RefusalOptions {
  rejection: ResolvedRejection
  /** Answers session refusals in place of onLimitExceeded when set. */
  onRefused: OnSessionRefusedFunction | undefined
  /** The limiter's figures handed to onLimitExceeded, and its wait estimate for Retry-After 'auto'. */
  limiter: { readonly limit: number, readonly inflight: number, estimatedBacklogWait (): number }
}

// Retry-After 'auto' is capped at 60 s: the header strings are made once, not per rejection.
const RETRY_AFTER_MAX_S = 60
const RETRY_AFTER_STRINGS = Array.from({ length: RETRY_AFTER_MAX_S + 1 }, (_, i) => String(i))

export type RefuseFunction = (request: FastifyRequest, reply: FastifyReply, reason: RejectReason, done: HookHandlerDoneFunction) => void

/** The reasons that concern sessions (new ones refused, or every new request while draining). */
const SESSION_REFUSALS: ReadonlySet<RejectReason> = new Set<SessionRefusal>(['session-cap', 'draining', 'store-unavailable'])

export function createRefusal (options: RefusalOptions): RefuseFunction {
  const { onRefused, limiter } = options
  const { statusCode, onLimitExceeded, retryAfterAuto } = options.rejection
  const fixedRetryAfter = String(options.rejection.retryAfter)
  function retryAfter (): string {
    return retryAfterAuto ? RETRY_AFTER_STRINGS[retryAfterSeconds(limiter.estimatedBacklogWait(), RETRY_AFTER_MAX_S)] : fixedRetryAfter
  }
  // Building an Error captures a stack: ~6-8 µs each, measured, against < 1 ns to reuse one.
  // Refusals are the hot path under overload, so each reason gets one shared instance.
  const refusalErrors = new Map<RejectReason, Error>()
  function refusalError (reason: RejectReason): Error {
    let err = refusalErrors.get(reason)
    if (err === undefined) {
      err = SESSION_REFUSALS.has(reason)
        ? new errors.FST_CONCURRENCY_SESSION_REFUSED(reason)
        : new errors.FST_CONCURRENCY_LIMIT_EXCEEDED(reason)
      ;(err as Error & { statusCode: number }).statusCode = statusCode
      refusalErrors.set(reason, err)
    }
    return err
  }

  function defaultAnswer (reply: FastifyReply, reason: RejectReason, done: HookHandlerDoneFunction): void {
    reply.code(statusCode)
    done(refusalError(reason))
  }

  function after (reply: FastifyReply, value: unknown, reason: RejectReason, done: HookHandlerDoneFunction): void {
    if (value === reply || reply.sent) return
    if (value !== undefined) {
      reply.send(value)
      return
    }
    defaultAnswer(reply, reason, done)
  }

  return function refuse (request, reply, reason, done) {
    reply.header('retry-after', retryAfter())
    // A draining process wants HTTP/1.1 clients to reconnect elsewhere. HTTP/2 forbids
    // connection headers (Node drops them with a process warning).
    if (reason === 'draining' && request.raw.httpVersionMajor < 2) reply.header('connection', 'close')
    const sessionOverride = onRefused !== undefined && SESSION_REFUSALS.has(reason)
    if (!sessionOverride && onLimitExceeded === undefined) return defaultAnswer(reply, reason, done)
    let result: unknown
    try {
      result = sessionOverride
        ? (onRefused as OnSessionRefusedFunction)(request, reply, reason as SessionRefusal)
        : (onLimitExceeded as OnLimitExceededFunction)(request, reply, { limit: limiter.limit, inflight: limiter.inflight, reason })
    } catch (err) {
      return done(err as Error)
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(value => after(reply, value, reason, done), done)
    } else {
      after(reply, result, reason, done)
    }
  }
}
