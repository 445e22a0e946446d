// The capacity stage, last in the pipeline: the limiter, with its wait queue, the client's
// deadline and partitions. A queued request simply does not call its onRequest `done` yet:
// Fastify holds it before body parsing and the handler. Exactly one of three things then happens
// to it: it is granted a permit (from a release), it expires (queue timeout, deadline, evicted by
// a more important arrival, server closing) and is refused, or its client leaves and the
// pipeline's 'close' listener withdraws it. A grant happens synchronously inside a release, and a
// waiter whose 'close' already ran has left the queue, so no two of these can both happen.
import type { LimiterOptions } from '../limiter/limiter'
import { ServiceTimeEwma, parseDeadlineHeader } from '../limiter/wait-estimate'
import type { ResolvedOptions } from '../options'
import type { RequestState } from '../pipeline/request-state'
import type { Acquired, CapacityStage, StageContext } from '../pipeline/stage'
import { BacklogStatus } from './status'

/** The Limiter's settings for the queue, deadlines and partitions. */
export function backlogLimiterOptions (options: ResolvedOptions): Partial<LimiterOptions<RequestState>> {
  const { queue, partitions, rejection } = options
  const timers = options.internal.timers
  const waiting = queue?.waiting
  // Deadlines and Retry-After 'auto' need the service time even without a waiting room.
  const needsServiceTime = waiting === undefined && (queue?.deadlineHeader !== undefined || rejection.retryAfterAuto)
  return {
    queue: waiting,
    timers,
    partitions: partitions?.set,
    maxEstimatedWait: queue?.maxEstimatedWait,
    serviceTime: needsServiceTime ? new ServiceTimeEwma() : undefined
  }
}

export interface Capacity extends CapacityStage {
  /** Queue, partitions and service time for the status. */
  readonly status: BacklogStatus<RequestState>
}

export function attachCapacityStage (ctx: StageContext): Capacity {
  const limiter = ctx.limiter
  const { queue, partitions } = ctx.options
  const deadlineHeader = queue?.deadlineHeader
  const backlog = queue !== undefined || partitions !== undefined
  return {
    status: new BacklogStatus(limiter, limiter.now),
    acquire (state: RequestState): Acquired {
      if (!backlog) return limiter.tryAcquire(state) as Acquired
      const budget = deadlineHeader === undefined ? undefined : parseDeadlineHeader(state.request.headers[deadlineHeader])
      return limiter.acquire(state, state.partition, budget) as Acquired
    },
    preClose (): void {
      // Before the server stops accepting and waits for open connections: a waiter left in the
      // queue would hold its connection (and close()) until its queue timeout.
      for (const state of limiter.rejectQueued('draining')) {
        state.waiter = undefined
        ctx.refuse(state, 'draining')
      }
    }
  }
}
