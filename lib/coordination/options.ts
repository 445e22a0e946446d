// The `coordination` option, read once: processes that share a backend share one limit budget
// through Redis (see coordinator.ts, and docs/algorithms.md "Many processes, one backend").
import { isCoordinated, type LimitAlgorithm } from '../algorithms/types'
import { invalidOption } from '../errors'
import { describe, knownKeys, numberOption, objectOption } from '../validate'
import type { CoordinationClient } from './coordinator'

export interface CoordinationOptions {
  /** A connected ioredis client (Redis or Cluster). The plugin never closes it. */
  client: CoordinationClient
  /** Redis key of the group: processes in front of the same backend use the same key. */
  key?: string
  /** Ms between two round trips (one per process per interval). Default 1000. */
  interval?: number
  /** Longest a round trip may take, in ms, less than `interval`. Default 100. */
  timeout?: number
}

export interface ResolvedCoordination {
  client: CoordinationClient
  key: string
  interval: number
  timeout: number
}

export const DEFAULT_COORDINATION_KEY = 'fastify-concurrency:coordination'

export function resolveCoordination (value: unknown, algorithm: LimitAlgorithm): ResolvedCoordination | undefined {
  if (value === undefined || value === false) return undefined
  const opts = objectOption('coordination', value) as Record<string, unknown>
  knownKeys('coordination', opts, ['client', 'key', 'interval', 'timeout'] satisfies Array<keyof CoordinationOptions>)
  const client = opts.client as Partial<CoordinationClient> | undefined
  if (typeof client?.defineCommand !== 'function' || typeof client.hdel !== 'function') {
    invalidOption('coordination.client', `expected an ioredis client, got ${describe(opts.client)}`)
  }
  const key = opts.key === undefined
    ? DEFAULT_COORDINATION_KEY
    : typeof opts.key === 'string' && opts.key !== '' ? opts.key : invalidOption('coordination.key', `expected a non-empty string, got ${describe(opts.key)}`)
  const interval = numberOption('coordination.interval', opts.interval, 1000, 50, 600_000)
  const timeout = numberOption('coordination.timeout', opts.timeout, Math.min(100, interval / 2), 1, interval, { maxExclusive: true })
  if (!isCoordinated(algorithm)) {
    invalidOption('coordination', `needs an algorithm that can share a budget ('gradient2' without a window), got ${algorithm.name}`)
  }
  return { client: client as CoordinationClient, key, interval, timeout }
}
