// The Fastify wiring, kept thin. Options are read once (options.ts); admission is one pipeline of
// stages (pipeline/), in this order: the route (opt-out, bypass, partition), drain and sessions,
// the event-loop gate, and the limiter with its queue and partitions. Every hook the plugin adds
// is registered here, and each one runs the stages in pipeline order.
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import { attachCapacityStage, backlogLimiterOptions } from './backlog/stage'
import { Coordinator } from './coordination/coordinator'
import { attachEventLoopStage } from './eventloop/stage'
import type { Limiter } from './limiter/limiter'
import { systemTimers } from './limiter/wait-queue'
import { LogThrottle } from './log-throttle'
import { isCoordinated } from './algorithms/types'
import { LongLivedTracker } from './longlived/tracker'
import { attachObservability } from './observability/attach'
import { resolveOptions, type ResolvedOptions } from './options'
import { Pipeline } from './pipeline/pipeline'
import { attachRouteStage } from './pipeline/route'
import { attachSessionsStage } from './sessions/stage'
import { RequestClasses } from './signal/request-class'
import type { PressureProbe } from './signal/outcome'
import { Status } from './status'
import { registerStatusRoute } from './status-route'
import type { FastifyAdaptiveConcurrencyOptions, UnderPressureReadings } from './types'

/** A broken observer (say, a user's metrics hook) is logged at most this often, not per request. */
const OBSERVER_ERROR_LOG_INTERVAL_MS = 10_000

async function adaptiveConcurrency (fastify: FastifyInstance, opts: FastifyAdaptiveConcurrencyOptions): Promise<void> {
  const options = resolveOptions(opts)
  const observerErrors = new LogThrottle(OBSERVER_ERROR_LOG_INTERVAL_MS)
  function observerFailed (err: unknown): void {
    const suppressed = observerErrors.pass()
    if (suppressed < 0) return
    fastify.log.error({ err, suppressed }, 'adaptive-concurrency: a limiter observer threw; admission and accounting are unaffected (logged at most once per 10 s)')
  }
  // Each route's latency is compared with its own no-load latency (lib/signal/request-class.ts).
  const { sampleClass } = options.signal
  const classes = sampleClass.enabled ? new RequestClasses(sampleClass.custom, undefined, options.signal.longLivedAfter) : undefined
  // Routes learn to be long-lived in their own classes: not with a custom `sampleClass`.
  const longLived = new LongLivedTracker(sampleClass.custom === undefined ? classes : undefined)
  const pressure: PressureProbe = { isUnderPressure: undefined, memoryUsage: undefined }
  const pipeline = new Pipeline({
    fastify,
    options,
    classes,
    pressure,
    longLived,
    limiter: {
      algorithm: options.algorithm,
      sampleClasses: classes?.classes,
      ...backlogLimiterOptions(options),
      onObserverError: observerFailed
    },
    stages: (ctx) => ({
      route: attachRouteStage(ctx, longLived),
      sessions: attachSessionsStage(ctx),
      eventLoop: attachEventLoopStage(ctx)
    }),
    capacity: attachCapacityStage
  })
  // The status and the observers read the limiter without its request context type.
  const limiter = pipeline.limiter as unknown as Limiter
  // History, diagnostics_channel, logs, metrics: limiter observers (lib/observability/attach.ts).
  const observability = attachObservability(limiter, options.observability, fastify.log, () => longLived.status())
  const status = new Status({
    limiter,
    pressure,
    sessions: pipeline.stage.sessions,
    history: observability.history,
    backlog: pipeline.capacity.status,
    longLived,
    abandoned: () => pipeline.abandoned
  })
  fastify.decorate('concurrency', status)
  const coordinator = startCoordination(fastify, options, limiter)

  const stages = pipeline.lifecycle
  fastify.addHook('onRoute', function checkRoute (route) {
    for (const stage of stages) stage.onRoute?.(route)
  })
  fastify.addHook('onRequest', pipeline.onRequest)
  fastify.addHook('preValidation', pipeline.onBody)
  findUnderPressure(fastify, pressure)
  // @fastify/under-pressure may be registered after us: look again once everything is loaded.
  fastify.addHook('onReady', function lookForUnderPressure (done) {
    findUnderPressure(fastify, pressure)
    done()
  })
  // In pipeline order: the drain lets active sessions finish before queued requests are answered.
  fastify.addHook('preClose', async function closeStages () {
    for (const stage of stages) await stage.preClose?.()
  })
  fastify.addHook('onClose', async function closeAll () {
    await coordinator?.stop()
    observability.close()
    for (const stage of stages) await stage.onClose?.()
  })
  if (options.statusRoute !== undefined) registerStatusRoute(fastify, options.statusRoute, status)
}

/** A coordination failure is logged at most this often: Redis gone fails every interval. */
const COORDINATION_ERROR_LOG_INTERVAL_MS = 60_000

// The first round trip runs before the server listens, so a process joining a running group
// takes its share of the budget before its first request (bounded by `coordination.timeout`).
function startCoordination (fastify: FastifyInstance, options: ResolvedOptions, limiter: Limiter): Coordinator | undefined {
  const settings = options.coordination
  if (settings === undefined || !isCoordinated(options.algorithm)) return undefined
  const errors = new LogThrottle(COORDINATION_ERROR_LOG_INTERVAL_MS)
  const coordinator = new Coordinator({
    ...settings,
    algorithm: options.algorithm,
    offered: () => limiter.admitted + limiter.rejected,
    timers: options.internal.timers ?? systemTimers,
    onError (err) {
      const suppressed = errors.pass()
      if (suppressed >= 0) fastify.log.warn({ err, suppressed }, 'adaptive-concurrency: coordination through Redis failed; the limit runs on local control until it answers (logged at most once per minute)')
    }
  })
  fastify.addHook('onReady', async function startCoordinator () {
    await coordinator.start()
  })
  return coordinator
}

function findUnderPressure (fastify: FastifyInstance, probe: PressureProbe): void {
  if (probe.isUnderPressure !== undefined || !fastify.hasDecorator('isUnderPressure')) return
  const decorated = fastify as unknown as { isUnderPressure: () => boolean, memoryUsage?: () => UnderPressureReadings }
  probe.isUnderPressure = decorated.isUnderPressure
  probe.memoryUsage = decorated.memoryUsage
}

export const fastifyAdaptiveConcurrency = fp(adaptiveConcurrency, {
  fastify: '5.x',
  name: 'fastify-adaptive-concurrency'
})
