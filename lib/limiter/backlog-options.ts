// Validation of the backlog options: queue, maxEstimatedWait, deadlineHeader,
// partitions, partition. The plugin's option resolver adds BACKLOG_OPTION_NAMES to its known keys
// and calls resolveBacklogOptions on the same object; every error names the option at fault.
import { invalidOption } from '../errors'
import { describe, enumOption, functionOption, knownKeys, numberOption, objectOption } from '../validate'
import { PartitionSet } from './partitions'
import type { QueueOrder, TimerApi } from './wait-queue'

export const BACKLOG_OPTION_NAMES = ['queue', 'maxEstimatedWait', 'deadlineHeader', 'partitions', 'partition'] as const

// Netflix's blocking limiter defaults: a backlog of 100 that nobody waits in for more than 1 s.
export const DEFAULT_QUEUE_SIZE = 100
export const DEFAULT_QUEUE_TIMEOUT_MS = 1000
export const DEFAULT_QUEUE_ORDER: QueueOrder = 'lifo'
const MAX_TIMER_MS = 2_147_483_647
// RFC 9110 token characters: what a header name may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export interface QueueOptions {
  /** Most requests waiting at once; a full queue rejects at once. Default 100. */
  size?: number
  /** Longest wait for a permit, ms. Default 1000. */
  timeout?: number
  /** 'lifo' (default): newest waiter first; 'fifo': oldest first. */
  order?: QueueOrder
  /** Clock and timers, for tests (default: performance.now and unref'd setTimeout). Also the limiter's clock. */
  timers?: TimerApi
}

export interface BacklogOptions<R = unknown> {
  /** A bounded admission queue; absent or false: requests at the limit are rejected at once. */
  queue?: QueueOptions | false
  /** Reject at once when the estimated queue wait exceeds this many ms. Needs `queue`. */
  maxEstimatedWait?: number
  /** Name of a request header carrying the client's remaining time budget in ms. */
  deadlineHeader?: string
  /** Partition name -> share of the limit in (0, 1]; shares sum to at most 1. First declared is served first. */
  partitions?: Record<string, number>
  /** Names the partition of a request; undeclared names and undefined go to the `default` partition. */
  partition?: (request: R) => string | undefined
}

export interface ResolvedQueueOptions { size: number, timeout: number, order: QueueOrder, timers?: TimerApi }

export interface ResolvedBacklogOptions<R = unknown> {
  queue: ResolvedQueueOptions | undefined
  maxEstimatedWait: number | undefined
  /** Lower-cased, as Node presents incoming header names. */
  deadlineHeader: string | undefined
  partitions: PartitionSet | undefined
  partition: ((request: R) => string | undefined) | undefined
}

export function resolveBacklogOptions<R = unknown> (opts: Record<string, unknown>): ResolvedBacklogOptions<R> {
  const queue = resolveQueue(opts.queue)
  const maxEstimatedWait = opts.maxEstimatedWait === undefined
    ? undefined
    : numberOption('maxEstimatedWait', opts.maxEstimatedWait, 0, 0, MAX_TIMER_MS, { minExclusive: true })
  if (maxEstimatedWait !== undefined && queue === undefined) {
    invalidOption('maxEstimatedWait', 'needs the `queue` option: without a queue no request ever waits')
  }
  const partitions = opts.partitions === undefined ? undefined : new PartitionSet(opts.partitions, 'partitions')
  const partition = functionOption<(request: R) => string | undefined>('partition', opts.partition)
  if (partition !== undefined && partitions === undefined) {
    invalidOption('partition', 'needs the `partitions` option declaring the partition names and shares')
  }
  return { queue, maxEstimatedWait, deadlineHeader: resolveHeaderName(opts.deadlineHeader), partitions, partition }
}

function resolveQueue (value: unknown): ResolvedQueueOptions | undefined {
  if (value === undefined || value === false) return undefined
  const obj = objectOption('queue', value) as Record<string, unknown>
  knownKeys('queue', obj, ['size', 'timeout', 'order', 'timers'])
  const resolved: ResolvedQueueOptions = {
    size: numberOption('queue.size', obj.size, DEFAULT_QUEUE_SIZE, 1, 1_000_000, { integer: true }),
    timeout: numberOption('queue.timeout', obj.timeout, DEFAULT_QUEUE_TIMEOUT_MS, 0, MAX_TIMER_MS, { minExclusive: true }),
    order: enumOption('queue.order', obj.order, ['lifo', 'fifo'] as const, DEFAULT_QUEUE_ORDER)
  }
  if (obj.timers !== undefined) resolved.timers = timersOption(obj.timers)
  return resolved
}

function timersOption (value: unknown): TimerApi {
  const obj = objectOption('queue.timers', value) as Record<string, unknown>
  for (const key of ['now', 'setTimer', 'clearTimer']) functionOption(`queue.timers.${key}`, obj[key] ?? null)
  return obj as unknown as TimerApi
}

function resolveHeaderName (value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !HEADER_NAME.test(value)) {
    invalidOption('deadlineHeader', `expected a header name (letters, digits, - and the like), got ${describe(value)}`)
  }
  return value.toLowerCase()
}
