// The wait queue's options (wait-queue.ts), checked once when the queue is built.
import { enumOption, numberOption } from '../validate'
import { DEFAULT_INTERVAL_MS } from './standing'
import type { TimerApi } from './timers'
import type { TimeoutReason } from './waiter'

export type QueueOrder = 'lifo' | 'fifo'

/**
 * Why a waiter left the queue without a permit: its timeout or deadline passed, or (`queue-full`)
 * a more important arrival took its place in the full queue.
 */
export type ExpiryReason = TimeoutReason | 'queue-full'

export interface WaitQueueOptions<T> {
  /** Most waiters held at once; a full queue rejects new waiters at once. */
  size: number
  /** Longest time (ms) a waiter may wait for a permit (while absorbing, with controlled delay). */
  timeout: number
  /** Service order while not standing (a standing queue is always LIFO). Default 'lifo'. */
  order?: QueueOrder
  /** Controlled delay: the timeout (ms) of every waiter while the queue is standing. Absent: a plain queue. */
  standingTimeout?: number
  /** Controlled delay: the window (ms) over which the queue tells a burst from a backlog. Default DEFAULT_INTERVAL_MS. */
  interval?: number
  /** Number of priority levels (level 0 is served first). Default 1. */
  levels?: number
  timers?: TimerApi
  /**
   * Called exactly once for each waiter that times out or whose deadline passes while queued, or
   * that a more important arrival evicts from the full queue ('queue-full'); `level` is the
   * waiter's priority level (the limiter maps it back to a partition).
   */
  onExpire: (value: T, reason: ExpiryReason, level: number) => void
}

const MAX_TIMER_MS = 2_147_483_647

export interface ResolvedWaitQueueOptions {
  size: number
  timeout: number
  order: QueueOrder
  standingTimeout: number | undefined
  interval: number
  levels: number
}

/** Checks the options; an invalid one throws an FST_ error naming it. */
export function resolveWaitQueueOptions<T> (options: WaitQueueOptions<T>): ResolvedWaitQueueOptions {
  const standing = options.standingTimeout !== undefined
  return {
    size: numberOption('queue.size', options.size, 0, 1, 1_000_000, { integer: true }),
    timeout: numberOption('queue.timeout', options.timeout, 0, 0, MAX_TIMER_MS, { minExclusive: true }),
    order: enumOption('queue.order', options.order, ['lifo', 'fifo'] as const, 'lifo'),
    standingTimeout: standing ? numberOption('queue.standingTimeout', options.standingTimeout, 0, 0, MAX_TIMER_MS, { minExclusive: true }) : undefined,
    // Only a controlled-delay queue has windows.
    interval: standing ? numberOption('queue.interval', options.interval, DEFAULT_INTERVAL_MS, 0, MAX_TIMER_MS, { minExclusive: true }) : DEFAULT_INTERVAL_MS,
    levels: numberOption('queue levels', options.levels, 1, 1, 64, { integer: true })
  }
}
