// The backlog part of `fastify.concurrency.snapshot()`: queue, partitions, service time.
//
// Queue-wait p99 is ROLLING: the queue's histogram would otherwise hold every wait since start,
// and after an hour a burst of long waits would barely move its p99. Windows roll lazily, at the
// first read at least WAIT_WINDOW_MS after the window began (no timer): the status reports the p99
// of the last completed window, over `waitWindow` ms. Before the first window completes it reports
// the waits so far. A poller reading every 10 s or more thus sees the waits since its last read.
import type { Limiter } from '../limiter/limiter'
import type { PartitionStatus } from '../limiter/partitions'
import type { QueueOrder, WaitQueue } from '../limiter/wait-queue'

export const WAIT_WINDOW_MS = 10_000

export interface QueueSnapshot {
  /** Waiting now. */
  length: number
  size: number
  timeout: number
  order: QueueOrder
  /** Waiters' timeout (ms) while the queue is standing; false: a plain queue, never standing. */
  standingTimeout: number | false
  /** The window (ms) over which the queue tells a burst from a backlog. */
  interval: number
  /** The queue stayed non-empty for a whole interval without draining: waits are cut to standingTimeout, LIFO. */
  standing: boolean
  /** p99 queue wait (ms) over the last completed window (see waitWindow); 0 when nobody waited. */
  waitP99: number
  /** Waiters that left the queue in that window (granted, expired or cancelled). */
  waitCount: number
  /** The window's length in ms. */
  waitWindow: number
  /** Estimated wait (ms) of a request arriving now behind the whole queue: what Retry-After 'auto' uses. */
  estimatedWait: number
  // Lifetime counters.
  enqueued: number
  granted: number
  timedOut: number
  deadlineExpired: number
  cancelled: number
  rejectedFull: number
  /** Waiters pushed out of the full queue by a more important partition's request (rejected 'queue-full'). */
  evicted: number
  /** Times the queue turned standing. */
  standingEpisodes: number
}

export interface BacklogSnapshot {
  queue?: QueueSnapshot
  partitions?: Record<string, PartitionStatus>
  /** Requests that named a partition that is not declared (served as `default`). */
  unknownPartitions?: number
  /** Moving average of request latency (ms) used by the wait and deadline estimates. */
  serviceTime?: number
}

export class BacklogStatus<C = unknown> {
  private readonly limiter: Limiter<C>
  private readonly now: () => number
  private windowStart: number
  private completed: { p99: number, count: number, span: number } | undefined = undefined

  constructor (limiter: Limiter<C>, now: () => number) {
    this.limiter = limiter
    this.now = now
    this.windowStart = now()
  }

  snapshot (): BacklogSnapshot {
    const { queue, partitions, serviceTime } = this.limiter
    const out: BacklogSnapshot = {}
    if (queue !== undefined) {
      const wait = this.rollWaits(queue)
      out.queue = {
        length: queue.length,
        size: queue.size,
        timeout: queue.timeout,
        order: queue.order,
        standingTimeout: queue.standingTimeout ?? false,
        interval: queue.interval ?? 0,
        standing: queue.standing,
        waitP99: wait.p99,
        waitCount: wait.count,
        waitWindow: wait.span,
        estimatedWait: this.limiter.estimatedBacklogWait(),
        enqueued: queue.enqueued,
        granted: queue.granted,
        timedOut: queue.timedOut,
        deadlineExpired: queue.deadlineExpired,
        cancelled: queue.cancelled,
        rejectedFull: queue.rejectedFull,
        evicted: queue.evicted,
        standingEpisodes: queue.standingEpisodes
      }
    }
    if (partitions !== undefined) {
      out.partitions = partitions.status(this.limiter.limit)
      out.unknownPartitions = partitions.unknownNames
    }
    if (serviceTime !== undefined) out.serviceTime = serviceTime.value
    return out
  }

  private rollWaits (queue: WaitQueue<C>): { p99: number, count: number, span: number } {
    const now = this.now()
    const span = now - this.windowStart
    if (span >= WAIT_WINDOW_MS) {
      this.completed = { p99: queue.waitPercentile(99), count: queue.waitCount, span }
      queue.resetWaitStats()
      this.windowStart = now
    }
    return this.completed ?? { p99: queue.waitPercentile(99), count: queue.waitCount, span }
  }
}
