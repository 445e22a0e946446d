// How a finished request counts: 'success' and 'drop' are latency samples for the algorithm,
// 'ignore' says nothing about capacity.
import type { ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import type { Outcome } from '../limiter/events'
import type { ResolvedSignal } from '../options'
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
 * The default classification. A response the server never ended was cut short (client abort,
 * destroyed stream): its latency means nothing, so no sample. `writableEnded` rather than
 * `writableFinished`: the server's work is done once it ended the response, even if the last
 * bytes were still being flushed when the socket closed. A 4xx or a 304 is answered before
 * (or instead of) the work a route does -- a validation error, a missing resource, a cache
 * that still holds -- so its latency says nothing about queueing, and a fast one would read as
 * "no queue at all": no sample either. Slower than `timeout` is overload whatever the status.
 */
export function defaultOutcome (raw: ServerResponse, statusCode: number, rtt: number, timeout: number): Outcome {
  if (!raw.writableEnded) return 'ignore'
  if (statusCode >= 500 || rtt > timeout) return 'drop'
  if ((statusCode >= 400 && statusCode < 500) || statusCode === 304) return 'ignore'
  return 'success'
}

/** The user's `classify` first (undefined: the default); a throwing or wrong one counts as 'ignore'. */
export function outcomeOf (signal: ResolvedSignal, reply: FastifyReply, raw: ServerResponse, rtt: number): Outcome {
  const classify = signal.classify
  try {
    const custom = classify === undefined ? undefined : classify(reply.request, reply)
    return custom === undefined ? defaultOutcome(raw, reply.statusCode, rtt, signal.timeout) : checkOutcome(custom, reply)
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
