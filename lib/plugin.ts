// The Fastify wiring, kept thin: admission and accounting live in lib/limiter.
// onRequest acquires a permit (or rejects at once, before body parsing and the handler);
// the raw response's 'close' event releases it exactly once. 'close' is used because in
// Fastify 5 onResponse does not fire when the client aborts, which would leak permits.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { errors } from './errors'
import { LogThrottle } from './log-throttle'
import { Limiter } from './limiter/limiter'
import { EventLoopGate } from './eventloop/gate'
import type { Permit } from './limiter/permit'
import type { Outcome, RejectReason } from './limiter/events'
import { resolveOptions } from './options'
import { Status } from './status'
import type { PressureProbe } from './status'
import { registerStatusRoute } from './status-route'
import { routeConfig } from './route-config'
import { SessionWiring, checkDrainOnClose } from './sessions/wiring'
import { attachObservability } from './observability/wiring'
import { BacklogWiring } from './backlog/wiring'
import type { BypassFunction, FastifyAdaptiveConcurrencyOptions, UnderPressureReadings } from './types'

type PermitCarrier = ServerResponse & Record<symbol, Permit<FastifyReply> | undefined>

/** A broken observer (say, a user's metrics hook) is logged at most this often, not per request. */
const OBSERVER_ERROR_LOG_INTERVAL_MS = 10_000

/**
 * The default classification. A response the server never ended was cut short (client abort,
 * destroyed stream): its latency means nothing, so no sample. `writableEnded` rather than
 * `writableFinished`: the server's work is done once it ended the response, even if the last
 * bytes were still being flushed when the socket closed.
 */
export function defaultOutcome (raw: ServerResponse, statusCode: number, rtt: number, timeout: number): Outcome {
  if (!raw.writableEnded) return 'ignore'
  if (statusCode >= 500 || rtt > timeout) return 'drop'
  return 'success'
}

function findUnderPressure (fastify: FastifyInstance, probe: PressureProbe): void {
  if (probe.isUnderPressure !== undefined || !fastify.hasDecorator('isUnderPressure')) return
  const decorated = fastify as unknown as { isUnderPressure: () => boolean, memoryUsage?: () => UnderPressureReadings }
  probe.isUnderPressure = decorated.isUnderPressure
  probe.memoryUsage = decorated.memoryUsage
}

async function adaptiveConcurrency (fastify: FastifyInstance, opts: FastifyAdaptiveConcurrencyOptions): Promise<void> {
  const options = resolveOptions(opts)
  const { classify, timeout, bypass, onLimitExceeded, statusCode } = options
  const retryAfter = String(options.retryAfter)
  // Queue, deadlines, partitions (lib/backlog/wiring.ts). Unconfigured, one boolean check per request.
  const backlog = new BacklogWiring(options.backlog, options.retryAfterAuto, { admit: admitted, reject })
  const observerErrors = new LogThrottle(OBSERVER_ERROR_LOG_INTERVAL_MS)
  function observerFailed (err: unknown): void {
    const suppressed = observerErrors.pass()
    if (suppressed < 0) return
    fastify.log.error({ err, suppressed }, 'adaptive-concurrency: a limiter observer threw; admission and accounting are unaffected (logged at most once per 10 s)')
  }
  const limiter = new Limiter<FastifyReply>({ algorithm: options.algorithm, ...backlog.limiterOptions(), onObserverError: observerFailed })
  // On by default: the only signal that sees a CPU-bound overload (see lib/eventloop/gate.ts).
  const eventLoopGate = options.eventLoop === undefined ? undefined : new EventLoopGate(options.eventLoop.maxWait)
  if (eventLoopGate !== undefined) {
    limiter.addGate(eventLoopGate)
    eventLoopGate.pacer.watch(fastify.server)
    // Priorities hold when the loop is the queue too: the first-declared partition is shed last.
    eventLoopGate.spared = limiter.partitions?.list[0].name
  }
  const pressure: PressureProbe = { isUnderPressure: undefined, memoryUsage: undefined }
  const status = new Status(limiter as Limiter, pressure)
  // Sessions and drain (lib/sessions/wiring.ts). Unconfigured, it costs one boolean check per request.
  const sessions = new SessionWiring(options.sessions, limiter as Limiter, options.retryAfter)
  status.sessionWiring = sessions
  // History, diagnostics_channel, logs, metrics: limiter observers (lib/observability/wiring.ts).
  const observability = attachObservability(limiter, options.observability, fastify.log)
  status.history = observability.history
  fastify.addHook('onClose', function closeObservability (_instance, done) {
    observability.close()
    done()
  })
  if (options.drainOnClose !== undefined) checkDrainOnClose(fastify)
  // Per registration, so two instances of the plugin (say, per prefix) never share a permit slot.
  const kPermit = Symbol('adaptive-concurrency.permit')

  // Building an Error captures a stack: ~6-8 µs each, measured, against < 1 ns to reuse one.
  // Rejections are the hot path under overload, so each reason gets one shared instance.
  const rejectionErrors = new Map<RejectReason, Error & { statusCode: number }>()
  function rejectionError (reason: RejectReason): Error {
    let err = rejectionErrors.get(reason)
    if (err === undefined) {
      err = new errors.FST_CONCURRENCY_LIMIT_EXCEEDED(reason)
      err.statusCode = statusCode
      rejectionErrors.set(reason, err)
    }
    return err
  }

  fastify.decorate('concurrency', status)
  findUnderPressure(fastify, pressure)
  // @fastify/under-pressure may be registered after us: look again once everything is loaded.
  fastify.addHook('onReady', function lookForUnderPressure (done) {
    findUnderPressure(fastify, pressure)
    done()
  })

  // One listener per registration, shared by every request: the permit is read from `this`.
  function onResponseClose (this: ServerResponse): void {
    const permit = (this as PermitCarrier)[kPermit]
    /* c8 ignore next -- defensive: the listener is only attached together with a permit */
    if (permit === undefined || permit.released) return
    if (sessions.enabled) sessions.finished(this)
    const reply = permit.context
    let outcome: Outcome
    try {
      outcome = classify === undefined
        ? defaultOutcome(this, reply.statusCode, limiter.elapsed(permit), timeout)
        : checkOutcome(classify(reply.request, reply), reply)
    } catch (err) {
      reply.log.error({ err }, 'adaptive-concurrency: classify threw; the request counts as ignored')
      outcome = 'ignore'
    }
    // Under-pressure sees event-loop and memory saturation that latency alone may hide.
    if (outcome === 'success' && pressure.isUnderPressure !== undefined && pressure.isUnderPressure()) outcome = 'drop'
    try {
      limiter.release(permit, outcome)
    } catch (err) {
      // A custom algorithm threw in onSample; the permit is already accounted for.
      reply.log.error({ err }, 'adaptive-concurrency: the limit algorithm threw')
    }
  }

  function onRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (routeConfig(request).adaptiveConcurrency === false) return done()
    const raw = reply.raw
    // The client left while earlier hooks ran: 'close' has fired already and would never
    // release a permit taken now. Such a request is not counted at all.
    if (raw.destroyed) return done()
    if (bypass !== undefined && isBypassed(bypass, request)) {
      limiter.recordBypass()
      return done()
    }
    if (sessions.screening) {
      const refusal = sessions.screen(request, raw)
      if (refusal === 'draining') return sessions.refuse(request, reply, refusal, done)
      if (refusal !== undefined) return reject(request, reply, refusal, done)
    }
    const result = backlog.enabled ? backlog.acquire(request, reply, done) : limiter.tryAcquire(reply)
    if (result === undefined) return // queued: the backlog calls admitted() or reject() later
    if (typeof result === 'string') return reject(request, reply, result, done)
    admitted(request, reply, result, done)
  }

  // The request holds a permit: at once, or after waiting in the queue.
  function admitted (request: FastifyRequest, reply: FastifyReply, permit: Permit<FastifyReply>, done: HookHandlerDoneFunction): void {
    const raw = reply.raw
    ;(raw as PermitCarrier)[kPermit] = permit
    raw.on('close', onResponseClose)
    // A new session takes its seat only now that it holds a permit; this calls done().
    if (sessions.enabled) return sessions.admit(request, reply, permit, done)
    // While the loop is the queue, admitted requests run in short batches (lib/eventloop/pacer.ts).
    eventLoopGate === undefined ? done() : eventLoopGate.pacer.run(done)
  }

  function reject (request: FastifyRequest, reply: FastifyReply, reason: RejectReason, done: HookHandlerDoneFunction): void {
    reply.header('retry-after', backlog.retryAfter(retryAfter))
    if (onLimitExceeded === undefined) {
      reply.code(statusCode)
      return done(rejectionError(reason))
    }
    const info = { limit: limiter.limit, inflight: limiter.inflight, reason }
    let result: unknown
    try {
      result = onLimitExceeded(request, reply, info)
    } catch (err) {
      return done(err as Error)
    }
    if (result !== null && typeof result === 'object' && typeof (result as Promise<unknown>).then === 'function') {
      (result as Promise<unknown>).then(value => afterOnLimitExceeded(reply, value, reason, done), done)
    } else {
      afterOnLimitExceeded(reply, result, reason, done)
    }
  }

  // Fastify's convention for hooks: returning `reply` means "I answered". A returned value is sent
  // as the response; nothing at all means "use the default rejection".
  function afterOnLimitExceeded (reply: FastifyReply, value: unknown, reason: RejectReason, done: HookHandlerDoneFunction): void {
    if (value === reply || reply.sent) return
    if (value !== undefined) {
      reply.send(value)
      return
    }
    reply.code(statusCode)
    done(rejectionError(reason))
  }

  fastify.addHook('onRequest', onRequest)
  const drainTimeout = options.drainOnClose
  if (drainTimeout !== undefined) {
    fastify.addHook('preClose', async function drainSessions () {
      const result = await sessions.drain({ timeout: drainTimeout })
      fastify.log.info({ drain: result }, 'adaptive-concurrency: drained before close')
    })
  }
  // Flushes pending store heartbeats; a Redis client the user passed in stays open.
  fastify.addHook('onClose', function closeSessions (_instance, done) {
    sessions.close().then(() => done(), done)
  })
  // After the drain hook: waiters are answered (503 'draining') once the drain is over.
  status.backlog = backlog.register(fastify, limiter)
  if (options.statusRoute !== undefined) registerStatusRoute(fastify, options.statusRoute, status)
}

/**
 * A throwing `bypass` must not turn into 500s for every request: the request is limited as usual
 * (the safe side: bypassing on error would let a bug open the gate) and the bug is logged.
 */
function isBypassed (bypass: BypassFunction, request: FastifyRequest): boolean {
  try {
    return bypass(request)
  } catch (err) {
    request.log.error({ err }, 'adaptive-concurrency: bypass threw; the request is limited as usual')
    return false
  }
}

const OUTCOMES = new Set<unknown>(['success', 'drop', 'ignore'])

function checkOutcome (value: unknown, reply: FastifyReply): Outcome {
  if (OUTCOMES.has(value)) return value as Outcome
  reply.log.error(`adaptive-concurrency: classify returned ${String(value)}, expected 'success', 'drop' or 'ignore'; the request counts as ignored`)
  return 'ignore'
}

export const fastifyAdaptiveConcurrency = fp(adaptiveConcurrency, {
  fastify: '5.x',
  name: 'fastify-adaptive-concurrency'
})
