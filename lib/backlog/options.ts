// The `queue` and `partitions` options, read once: every error names the option at fault.
import type { FastifyRequest } from 'fastify'
import { invalidOption } from '../errors'
import { PartitionSet } from '../limiter/partitions'
import { DEFAULT_INTERVAL_MS } from '../limiter/wait-queue'
import type { QueueOrder } from '../limiter/wait-queue'
import { describe, enumOption, functionOption, knownKeys, numberOption, objectOption } from '../validate'

// The queue is on by default, as a controlled-delay queue (Facebook's server queues, CoDel; see
// lib/limiter/wait-queue.ts): it absorbs a burst, whose queue drains, and cuts waiting to
// `standingTimeout` once the queue stayed non-empty for a whole `interval` without draining (a
// backlog: arrivals outpace service).
// - interval 250 ms: a burst and the onset of an overload both grow the queue; only a queue that
//   still grows after `interval` is a backlog, so the interval must outlast the longest burst to
//   absorb (200 ms of 2x capacity, the longest). With 100 ms, a 100 ms burst ends its
//   first window at its peak and is called standing. It is also how long a standing queue must go
//   without shedding before it absorbs again.
// - timeout 1000 ms: the longest wait while absorbing; bursts wait (b - 1) x their length.
// - standingTimeout 5 ms: CoDel's target and Facebook's short timeout; under overload it is the
//   latency of most refusals (a waiter is refused when it expires).
// - size 400: the room a burst needs is its excess over capacity (2x capacity for 200 ms on a
//   1,600 req/s service: 320 waiters). More room only holds more requests, and their clients'
//   connections, at the onset of a real overload.
// - order 'fifo' while absorbing a burst: the longest wait is then the burst's excess, whereas
//   LIFO would leave the burst's first requests waiting for the whole drain. A standing queue
//   serves LIFO whatever the order.
export const DEFAULT_QUEUE_SIZE = 400
export const DEFAULT_QUEUE_TIMEOUT_MS = 1000
export const DEFAULT_QUEUE_ORDER: QueueOrder = 'fifo'
export const DEFAULT_STANDING_TIMEOUT_MS = 5
export const DEFAULT_QUEUE_INTERVAL_MS = DEFAULT_INTERVAL_MS
const MAX_TIMER_MS = 2_147_483_647
// RFC 9110 token characters: what a header name may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export interface QueueOptions {
  /** Most requests waiting at once; a full queue rejects at once. Default 400; 0: nobody waits (deadline checks only). */
  size?: number
  /** Longest wait for a permit, ms (while the queue absorbs a burst). Default 1000. */
  timeout?: number
  /** Service order while not standing: 'fifo' (default), oldest first; 'lifo': newest first. A standing queue is LIFO. */
  order?: QueueOrder
  /**
   * Once the queue is standing (a backlog, not a burst: see `interval`), every waiter's timeout
   * becomes this many ms and the order LIFO. Default 5. false: a plain queue, with `timeout` and
   * `order` at all times.
   */
  standingTimeout?: number | false
  /**
   * The window, ms, over which the queue tells a burst from a backlog: a queue that stays
   * non-empty for a whole interval and did not drain in it is standing; a standing queue absorbs
   * again once an interval passes without shedding.
   * Default 250. Ignored with `standingTimeout: false`.
   */
  interval?: number
  /** Reject at once ('estimated-wait') when the estimated wait exceeds this many ms. Needs `size` >= 1. */
  maxEstimatedWait?: number
  /** A request header carrying the client's remaining time budget in ms; malformed values are ignored. */
  deadlineHeader?: string
}

export type PartitionChooser = (request: FastifyRequest) => string | undefined

export interface PartitionsOptions {
  /** Partition name -> share of the limit in (0, 1], summing to at most 1. The first declared is served first. */
  shares: Record<string, number>
  /** Names a request's partition; undefined or undeclared names go to `default`. Route config wins over it. */
  choose?: PartitionChooser
}

export interface ResolvedQueue {
  /** The waiting room; undefined with `size: 0` (requests at the limit are rejected at once). */
  waiting: { size: number, timeout: number, order: QueueOrder, standingTimeout: number | undefined, interval: number } | undefined
  maxEstimatedWait: number | undefined
  /** Lower-cased, as Node presents incoming header names. */
  deadlineHeader: string | undefined
}

export interface ResolvedPartitions {
  set: PartitionSet
  choose: PartitionChooser | undefined
}

/** `queue`: absent means the default queue; false, no queue (requests at the limit are refused at once). */
export function resolveQueue (value: unknown): ResolvedQueue | undefined {
  if (value === false) return undefined
  const obj = (objectOption('queue', value) ?? {}) as Record<string, unknown>
  knownKeys('queue', obj, ['size', 'timeout', 'order', 'standingTimeout', 'interval', 'maxEstimatedWait', 'deadlineHeader'] satisfies Array<keyof QueueOptions>)
  const size = numberOption('queue.size', obj.size, DEFAULT_QUEUE_SIZE, 0, 1_000_000, { integer: true })
  const timeout = numberOption('queue.timeout', obj.timeout, DEFAULT_QUEUE_TIMEOUT_MS, 0, MAX_TIMER_MS, { minExclusive: true })
  const order = enumOption('queue.order', obj.order, ['lifo', 'fifo'] as const, DEFAULT_QUEUE_ORDER)
  const standingTimeout = resolveStandingTimeout(obj.standingTimeout)
  const interval = numberOption('queue.interval', obj.interval, DEFAULT_QUEUE_INTERVAL_MS, 0, MAX_TIMER_MS, { minExclusive: true })
  const maxEstimatedWait = obj.maxEstimatedWait === undefined
    ? undefined
    : numberOption('queue.maxEstimatedWait', obj.maxEstimatedWait, 0, 0, MAX_TIMER_MS, { minExclusive: true })
  if (maxEstimatedWait !== undefined && size === 0) {
    invalidOption('queue.maxEstimatedWait', 'needs queue.size >= 1: without a waiting room no request ever waits')
  }
  return {
    waiting: size === 0 ? undefined : { size, timeout, order, standingTimeout, interval },
    maxEstimatedWait,
    deadlineHeader: resolveHeaderName(obj.deadlineHeader)
  }
}

export function resolvePartitions (value: unknown): ResolvedPartitions | undefined {
  if (value === undefined) return undefined
  const obj = objectOption('partitions', value) as Record<string, unknown>
  knownKeys('partitions', obj, ['shares', 'choose'] satisfies Array<keyof PartitionsOptions>)
  if (obj.shares === undefined) invalidOption('partitions.shares', 'required: an object mapping partition names to shares in (0, 1]')
  return {
    set: new PartitionSet(obj.shares, 'partitions.shares'),
    choose: functionOption<PartitionChooser>('partitions.choose', obj.choose)
  }
}

function resolveStandingTimeout (value: unknown): number | undefined {
  if (value === false) return undefined
  if (value !== undefined && !(typeof value === 'number' && value > 0 && value <= MAX_TIMER_MS)) {
    invalidOption('queue.standingTimeout', `expected a number of ms in (0, ${MAX_TIMER_MS}] or false, got ${describe(value)}`)
  }
  return value ?? DEFAULT_STANDING_TIMEOUT_MS
}

function resolveHeaderName (value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !HEADER_NAME.test(value)) {
    invalidOption('queue.deadlineHeader', `expected a header name (letters, digits, - and the like), got ${describe(value)}`)
  }
  return value.toLowerCase()
}
