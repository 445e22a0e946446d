// The `queue` and `partitions` options, read once: every error names the option at fault.
import type { FastifyRequest } from 'fastify'
import { invalidOption } from '../errors'
import { PartitionSet } from '../limiter/partitions'
import type { QueueOrder } from '../limiter/wait-queue'
import { describe, enumOption, functionOption, knownKeys, numberOption, objectOption } from '../validate'

// Netflix's blocking limiter defaults: a backlog of 100 that nobody waits in for more than 1 s.
export const DEFAULT_QUEUE_SIZE = 100
export const DEFAULT_QUEUE_TIMEOUT_MS = 1000
export const DEFAULT_QUEUE_ORDER: QueueOrder = 'lifo'
const MAX_TIMER_MS = 2_147_483_647
// RFC 9110 token characters: what a header name may contain.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/

export interface QueueOptions {
  /** Most requests waiting at once; a full queue rejects at once. Default 100; 0: nobody waits (deadline checks only). */
  size?: number
  /** Longest wait for a permit, ms. Default 1000. */
  timeout?: number
  /** 'lifo' (default): newest waiter first; 'fifo': oldest first. */
  order?: QueueOrder
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
  waiting: { size: number, timeout: number, order: QueueOrder } | undefined
  maxEstimatedWait: number | undefined
  /** Lower-cased, as Node presents incoming header names. */
  deadlineHeader: string | undefined
}

export interface ResolvedPartitions {
  set: PartitionSet
  choose: PartitionChooser | undefined
}

export function resolveQueue (value: unknown): ResolvedQueue | undefined {
  if (value === undefined || value === false) return undefined
  const obj = objectOption('queue', value) as Record<string, unknown>
  knownKeys('queue', obj, ['size', 'timeout', 'order', 'maxEstimatedWait', 'deadlineHeader'] satisfies Array<keyof QueueOptions>)
  const size = numberOption('queue.size', obj.size, DEFAULT_QUEUE_SIZE, 0, 1_000_000, { integer: true })
  const timeout = numberOption('queue.timeout', obj.timeout, DEFAULT_QUEUE_TIMEOUT_MS, 0, MAX_TIMER_MS, { minExclusive: true })
  const order = enumOption('queue.order', obj.order, ['lifo', 'fifo'] as const, DEFAULT_QUEUE_ORDER)
  const maxEstimatedWait = obj.maxEstimatedWait === undefined
    ? undefined
    : numberOption('queue.maxEstimatedWait', obj.maxEstimatedWait, 0, 0, MAX_TIMER_MS, { minExclusive: true })
  if (maxEstimatedWait !== undefined && size === 0) {
    invalidOption('queue.maxEstimatedWait', 'needs queue.size >= 1: without a waiting room no request ever waits')
  }
  return {
    waiting: size === 0 ? undefined : { size, timeout, order },
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

function resolveHeaderName (value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || !HEADER_NAME.test(value)) {
    invalidOption('queue.deadlineHeader', `expected a header name (letters, digits, - and the like), got ${describe(value)}`)
  }
  return value.toLowerCase()
}
