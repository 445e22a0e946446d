// The backlog part of the Fastify wiring: wait queue, estimated wait, deadline header,
// partitions. Kept out of lib/plugin.ts so the plugin only makes a few calls.
//
// A queued request simply does not call its onRequest `done` yet: Fastify holds it before body
// parsing and the handler. Per-request state lives in two per-registration symbol slots on the raw
// response (the Waiter and `done`), and ONE shared 'close' listener per registration reads them
// from `this`, so queueing allocates nothing but the Waiter itself. Exactly one of three things
// then happens to a waiter:
// - granted (from a release): the listener is swapped for the permit's, and `done()` resumes it;
// - expired (queue timeout or deadline): the listener is removed and the request is rejected;
// - its client left: the 'close' listener withdraws it from the queue and nothing else runs.
// The 'close' listener and the grant cannot both act: a grant happens synchronously inside a
// release, and a waiter whose 'close' already ran has left the queue.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { invalidOption } from '../errors'
import type { ResolvedBacklogOptions } from '../limiter/backlog-options'
import type { RejectReason } from '../limiter/events'
import type { Limiter, LimiterOptions } from '../limiter/limiter'
import { Permit } from '../limiter/permit'
import { ServiceTimeEwma, parseDeadlineHeader, retryAfterSeconds } from '../limiter/wait-estimate'
import type { Waiter } from '../limiter/wait-queue'
import { routeConfig } from '../route-config'
import { BacklogStatus } from './status'

/** What the plugin does with a request that now holds a permit, or must be rejected. */
export interface BacklogHooks {
  admit (request: FastifyRequest, reply: FastifyReply, permit: Permit<FastifyReply>, done: HookHandlerDoneFunction): void
  reject (request: FastifyRequest, reply: FastifyReply, reason: RejectReason, done: HookHandlerDoneFunction): void
}

/** The per-route setting: `config: { adaptiveConcurrency: { partition: 'name' } }`. */
export interface RouteConcurrencyConfig {
  /** A declared partition name; an undeclared one fails at route registration. */
  partition: string
}

type Slots = ServerResponse & Record<symbol, unknown>

// Retry-After 'auto' is capped at 60 s: the header strings are made once, not per rejection.
const RETRY_AFTER_MAX_S = 60
const RETRY_AFTER_STRINGS = Array.from({ length: RETRY_AFTER_MAX_S + 1 }, (_, i) => String(i))

export class BacklogWiring {
  /** Any backlog option (queue, deadlines, partitions, Retry-After 'auto') is set. */
  readonly enabled: boolean
  readonly options: ResolvedBacklogOptions<FastifyRequest>
  private readonly retryAfterAuto: boolean
  private readonly hooks: BacklogHooks
  private limiter: Limiter<FastifyReply> | undefined = undefined
  private readonly kWaiter = Symbol('adaptive-concurrency.waiter')
  private readonly kDone = Symbol('adaptive-concurrency.queued-done')
  // Bound once: the shared listener and the limiter callbacks are not per-request closures.
  private readonly onQueuedClose: (this: ServerResponse) => void
  private readonly granted = (reply: FastifyReply, permit: Permit<FastifyReply>): void => {
    this.hooks.admit(reply.request, reply, permit, this.leaveQueue(reply.raw))
  }

  private readonly expired = (reply: FastifyReply, reason: RejectReason): void => {
    this.hooks.reject(reply.request, reply, reason, this.leaveQueue(reply.raw))
  }

  constructor (options: ResolvedBacklogOptions<FastifyRequest>, retryAfterAuto: boolean, hooks: BacklogHooks) {
    this.options = options
    this.retryAfterAuto = retryAfterAuto
    this.hooks = hooks
    this.enabled = retryAfterAuto || options.queue !== undefined || options.deadlineHeader !== undefined || options.partitions !== undefined
    const wiring = this
    this.onQueuedClose = function onQueuedClose (this: ServerResponse): void {
      const slots = this as Slots
      const waiter = slots[wiring.kWaiter] as Waiter<FastifyReply> | undefined
      slots[wiring.kWaiter] = slots[wiring.kDone] = undefined
      // The client left while queued: withdraw it; its request never runs, nothing is answered.
      if (waiter !== undefined) (wiring.limiter as Limiter<FastifyReply>).cancel(waiter)
    }
  }

  /** The Limiter's backlog options (merge them into its constructor options). */
  limiterOptions (): Partial<LimiterOptions<FastifyReply>> {
    const { queue, partitions, maxEstimatedWait, deadlineHeader } = this.options
    if (queue === undefined) {
      // Deadlines and Retry-After 'auto' need the service time even without a queue.
      const needsServiceTime = deadlineHeader !== undefined || this.retryAfterAuto
      return { partitions, serviceTime: needsServiceTime ? new ServiceTimeEwma() : undefined }
    }
    return {
      queue: { size: queue.size, timeout: queue.timeout, order: queue.order },
      timers: queue.timers,
      partitions,
      maxEstimatedWait,
      onGranted: this.granted,
      onQueueReject: this.expired
    }
  }

  /**
   * Register the hooks: route partitions are checked as routes are added (an undeclared name fails
   * `ready()`, naming the route), and queued requests are answered when the server closes.
   */
  register (fastify: FastifyInstance, limiter: Limiter<FastifyReply>): BacklogStatus {
    this.limiter = limiter
    const partitions = this.options.partitions
    fastify.addHook('onRoute', function checkRoutePartition (route) {
      const cfg = (route.config as { adaptiveConcurrency?: unknown } | undefined)?.adaptiveConcurrency
      if (cfg === null || typeof cfg !== 'object') return
      const name = (cfg as RouteConcurrencyConfig).partition
      if (name === undefined) return
      const where = `config.adaptiveConcurrency.partition (${String(route.method)} ${route.url})`
      if (partitions === undefined) invalidOption(where, 'needs the `partitions` option declaring the partition names and shares')
      partitions.resolveStatic(name, where)
    })
    if (limiter.queue !== undefined) {
      // preClose runs before the server stops accepting and waits for open connections: a waiter
      // left in the queue would hold its connection (and close()) until its queue timeout.
      fastify.addHook('preClose', (done) => {
        for (const reply of limiter.rejectQueued('draining')) this.expired(reply, 'draining')
        done()
      })
    }
    const timers = this.options.queue?.timers
    return new BacklogStatus(limiter as Limiter<unknown>, timers !== undefined ? () => timers.now() : () => performance.now())
  }

  /**
   * Admission with the backlog: the partition (route config first, then `partition(request)`)
   * and the deadline header's budget. Returns the permit or the reason, or undefined when the
   * request was queued: its `done` is kept and called later, so the caller must not call it.
   */
  acquire (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): Permit<FastifyReply> | RejectReason | undefined {
    const limiter = this.limiter as Limiter<FastifyReply>
    const { partitions, partition, deadlineHeader } = this.options
    const name = partitions === undefined ? undefined : partitionName(request, partition)
    const budget = deadlineHeader === undefined ? undefined : parseDeadlineHeader(request.headers[deadlineHeader])
    const result = limiter.acquire(reply, name, budget)
    if (typeof result === 'string' || result instanceof Permit) return result
    const raw = reply.raw as Slots
    raw[this.kWaiter] = result
    raw[this.kDone] = done
    raw.on('close', this.onQueuedClose)
    return undefined
  }

  /** The Retry-After value of a rejection: the configured one, or with 'auto' the estimated backlog wait. */
  retryAfter (fixed: string): string {
    if (!this.retryAfterAuto) return fixed
    const limiter = this.limiter as Limiter<FastifyReply>
    return RETRY_AFTER_STRINGS[retryAfterSeconds(limiter.estimatedBacklogWait(), RETRY_AFTER_MAX_S)]
  }

  /** The waiter left the queue (granted or rejected): take back its `done` and stop watching 'close'. */
  private leaveQueue (raw: ServerResponse): HookHandlerDoneFunction {
    const slots = raw as Slots
    const done = slots[this.kDone] as HookHandlerDoneFunction
    slots[this.kWaiter] = slots[this.kDone] = undefined
    raw.removeListener('close', this.onQueuedClose)
    return done
  }
}

function partitionName (request: FastifyRequest, partition: ((request: FastifyRequest) => string | undefined) | undefined): string | undefined {
  const cfg = routeConfig(request).adaptiveConcurrency as unknown
  if (cfg !== null && typeof cfg === 'object') {
    const name = (cfg as RouteConcurrencyConfig).partition
    if (name !== undefined) return name
  }
  if (partition === undefined) return undefined
  try {
    return partition(request)
  } catch (err) {
    // A broken partition() must not fail the request: it goes to the catch-all partition.
    request.log.error({ err }, 'adaptive-concurrency: partition threw; the request goes to the default partition')
    return undefined
  }
}
