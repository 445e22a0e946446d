// The Fastify wiring, kept thin: admission and accounting live in lib/limiter.
// onRequest acquires a permit (or rejects at once, before body parsing and the handler);
// the raw response's 'close' event releases it exactly once. 'close' is used because in
// Fastify 5 onResponse does not fire when the client aborts, which would leak permits.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import fp from 'fastify-plugin'
import { clientGone } from './client-gone'
import { LogThrottle } from './log-throttle'
import { Limiter } from './limiter/limiter'
import { EventLoopGate } from './eventloop/gate'
import type { Permit } from './limiter/permit'
import type { Outcome, RejectReason } from './limiter/events'
import { resolveOptions } from './options'
import { createRefusal } from './refusal'
import { Status } from './status'
import type { PressureProbe } from './status'
import { registerStatusRoute } from './status-route'
import { routeConfig } from './route-config'
import { SessionWiring, checkDrainOnClose } from './sessions/wiring'
import { attachObservability } from './observability/wiring'
import { RequestClasses } from './signal/request-class'
import { BacklogWiring } from './backlog/wiring'
import type { BypassFunction, FastifyAdaptiveConcurrencyOptions, UnderPressureReadings } from './types'

type PermitCarrier = ServerResponse & Record<symbol, Permit<FastifyReply> | undefined>

/** A broken observer (say, a user's metrics hook) is logged at most this often, not per request. */
const OBSERVER_ERROR_LOG_INTERVAL_MS = 10_000

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

function findUnderPressure (fastify: FastifyInstance, probe: PressureProbe): void {
  if (probe.isUnderPressure !== undefined || !fastify.hasDecorator('isUnderPressure')) return
  const decorated = fastify as unknown as { isUnderPressure: () => boolean, memoryUsage?: () => UnderPressureReadings }
  probe.isUnderPressure = decorated.isUnderPressure
  probe.memoryUsage = decorated.memoryUsage
}

async function adaptiveConcurrency (fastify: FastifyInstance, opts: FastifyAdaptiveConcurrencyOptions): Promise<void> {
  const options = resolveOptions(opts)
  const { classify, timeout, bypass } = options
  const retryAfter = String(options.retryAfter)
  // Queue, deadlines, partitions (lib/backlog/wiring.ts). Unconfigured, one boolean check per request.
  const backlog = new BacklogWiring(options.backlog, options.retryAfterAuto, { admit: admitted, reject })
  const observerErrors = new LogThrottle(OBSERVER_ERROR_LOG_INTERVAL_MS)
  function observerFailed (err: unknown): void {
    const suppressed = observerErrors.pass()
    if (suppressed < 0) return
    fastify.log.error({ err, suppressed }, 'adaptive-concurrency: a limiter observer threw; admission and accounting are unaffected (logged at most once per 10 s)')
  }
  // Each route's latency is compared with its own no-load latency (lib/signal/request-class.ts).
  const requestClasses = options.sampleClass.enabled ? new RequestClasses(options.sampleClass.custom) : undefined
  const limiter = new Limiter<FastifyReply>({
    algorithm: options.algorithm,
    sampleClasses: requestClasses?.classes,
    ...backlog.limiterOptions(),
    onObserverError: observerFailed
  })
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
  const sessions = new SessionWiring(options.sessions, limiter as Limiter, reject)
  // Every refusal, from the limiter, the queue or sessions, is answered by one function (lib/refusal.ts).
  const refuse = createRefusal({
    statusCode: options.statusCode,
    retryAfter: () => backlog.retryAfter(retryAfter),
    onLimitExceeded: options.onLimitExceeded,
    onRefused: sessions.onRefused,
    stats: limiter
  })
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
      const custom = classify === undefined ? undefined : classify(reply.request, reply)
      outcome = custom === undefined
        ? defaultOutcome(this, reply.statusCode, limiter.elapsed(permit), timeout)
        : checkOutcome(custom, reply)
    } catch (err) {
      reply.log.error({ err }, 'adaptive-concurrency: classify threw; the request counts as ignored')
      outcome = 'ignore'
    }
    // Under-pressure sees event-loop and memory saturation that latency alone may hide.
    if (outcome === 'success' && pressure.isUnderPressure !== undefined && pressure.isUnderPressure()) outcome = 'drop'
    if (requestClasses !== undefined && outcome !== 'ignore') permit.sampleClass = requestClasses.classOf(reply.request)
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
    if (clientGone(raw)) return done()
    if (bypass !== undefined && isBypassed(bypass, request)) {
      limiter.recordBypass()
      return done()
    }
    if (sessions.screening) {
      const refusal = sessions.screen(request, raw)
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

  // A declaration, so the backlog and sessions wiring can be handed it before `refuse` is built.
  function reject (request: FastifyRequest, reply: FastifyReply, reason: RejectReason, done: HookHandlerDoneFunction): void {
    refuse(request, reply, reason, done)
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
  reply.log.error(`adaptive-concurrency: classify returned ${String(value)}, expected 'success', 'drop', 'ignore' or undefined; the request counts as ignored`)
  return 'ignore'
}

export const fastifyAdaptiveConcurrency = fp(adaptiveConcurrency, {
  fastify: '5.x',
  name: 'fastify-adaptive-concurrency'
})
