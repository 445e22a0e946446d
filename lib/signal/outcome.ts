// How a finished request counts: 'success' and 'drop' are latency samples for the algorithm,
// 'ignore' says nothing about capacity.
import type { FastifyReply } from 'fastify'
import type { Outcome } from '../limiter/events'
import type { SampleClass } from '../limiter/sample-classes'
import type { ResolvedSignal } from '../options'
import type { RequestClasses } from './request-class'
import type { UnderPressureReadings } from '../types'

/**
 * The @fastify/under-pressure decorators, found lazily: that plugin may register after us, so
 * the plugin looks for them at registration and again at onReady.
 */
export interface PressureProbe {
  isUnderPressure: (() => boolean) | undefined
  memoryUsage: (() => UnderPressureReadings) | undefined
}

/**
 * The default classification. `done`: the server did its work while the client was there -- the
 * response headers went out (or the response ended) before the connection closed. A response cut
 * short (client abort, destroyed stream) says nothing about capacity: no sample. A 4xx or a 304 is
 * answered before (or instead of) the work a route does -- a validation error, a missing
 * resource, a cache that still holds -- so its latency says nothing about queueing, and a fast one
 * would read as "no queue at all": no sample either. Slower than `timeout` is overload whatever
 * the status.
 */
export function defaultOutcome (done: boolean, statusCode: number, rtt: number, timeout: number): Outcome {
  if (!done) return 'ignore'
  if (statusCode >= 500 || rtt > timeout) return 'drop'
  if ((statusCode >= 400 && statusCode < 500) || statusCode === 304) return 'ignore'
  return 'success'
}

/** How much slower than its class's no-load latency a request must be, past `signal.timeout`, to be a drop. */
export const TIMEOUT_FACTOR = 4

/**
 * `signal.timeout` for a request of this class: a drop means "far slower than this route usually
 * is" -- past the timeout AND past TIMEOUT_FACTOR times the class's no-load latency. A class with
 * no baseline yet cannot be "far slower than usual": no timeout drop (a route that is slow from
 * its first request is a long-poll as likely as a hang, and a hang fills the limit anyway).
 * Without classes (undefined: `sampleClass: false`; null: past the cap), the timeout alone.
 */
export function classTimeout (timeout: number, cls: SampleClass | null | undefined): number {
  if (cls == null) return timeout
  const baseline = cls.baseline
  if (baseline === Infinity) return Infinity
  const far = TIMEOUT_FACTOR * baseline
  return far > timeout ? far : timeout
}

/**
 * The user's `classify` first (undefined: the default); a throwing or wrong one counts as 'ignore'.
 * `classes`: the request's class is looked up only for a request past `signal.timeout`.
 */
export function outcomeOf (
  signal: ResolvedSignal, reply: FastifyReply, done: boolean, statusCode: number, rtt: number, classes: RequestClasses | undefined
): Outcome {
  const classify = signal.classify
  try {
    const custom = classify === undefined ? undefined : classify(reply.request, reply)
    if (custom !== undefined) return checkOutcome(custom, reply)
    const timeout = signal.timeout
    return defaultOutcome(done, statusCode, rtt, rtt > timeout && classes !== undefined ? classTimeout(timeout, classes.classOf(reply.request)) : timeout)
  } catch (err) {
    reply.log.error({ err }, 'adaptive-concurrency: classify threw; the request counts as ignored')
    return 'ignore'
  }
}

const OUTCOMES = new Set<unknown>(['success', 'drop', 'ignore'])

function checkOutcome (value: unknown, reply: FastifyReply): Outcome {
  if (OUTCOMES.has(value)) return value as Outcome
  reply.log.error(`adaptive-concurrency: classify returned ${String(value)}, expected 'success', 'drop', 'ignore' or undefined; the request counts as ignored`)
  return 'ignore'
}
