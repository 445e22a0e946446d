// Every refusal, whatever its reason (the limiter, its gates, the queue, a deadline, the
// sessions overload rule, a session cap, a drain, a failing store), is answered here, by one set
// of rules, so no path can drift from the others:
// - the status is the `statusCode` option (503 or 429);
// - `Retry-After` is the `retryAfter` option, or with 'auto' the estimated wait behind the queue;
// - the default answer is an FST_ error handed to `done`, so the app's error handler formats it;
// - `onLimitExceeded` (or, for a session refusal, `sessions.onRefused`) may answer instead, by
//   Fastify's hook convention: return `reply` once it sent something, a value to send it, or
//   nothing for the default answer.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errors } from './errors'
import type { RejectReason } from './limiter/events'
import type { SessionRefusal } from './sessions/tracker'
import type { OnSessionRefusedFunction } from './sessions/wiring'
import type { OnLimitExceededFunction } from './types'

export interface RefusalOptions {
  statusCode: 503 | 429
  /** The Retry-After value of a refusal now: the fixed one, or the estimate with 'auto'. */
  retryAfter: () => string
  onLimitExceeded: OnLimitExceededFunction | undefined
  /** Answers session refusals in place of onLimitExceeded when set. */
  onRefused: OnSessionRefusedFunction | undefined
  /** The limiter's figures handed to onLimitExceeded. */
  stats: { readonly limit: number, readonly inflight: number }
}

export type RefuseFunction = (request: FastifyRequest, reply: FastifyReply, reason: RejectReason, done: HookHandlerDoneFunction) => void

/** The reasons that concern sessions (new ones refused, or every new request while draining). */
const SESSION_REFUSALS: ReadonlySet<RejectReason> = new Set<SessionRefusal>(['session-cap', 'draining', 'store-unavailable'])

export function createRefusal (options: RefusalOptions): RefuseFunction {
  const { statusCode, retryAfter, onLimitExceeded, onRefused, stats } = options
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
        : (onLimitExceeded as OnLimitExceededFunction)(request, reply, { limit: stats.limit, inflight: stats.inflight, reason })
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
