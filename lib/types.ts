// Public option and status types, and the declaration merging that types
// `fastify.concurrency` and `config: { adaptiveConcurrency: false }` on routes.
import type { FastifyReply, FastifyRequest, FastifySchema, RouteShorthandOptions } from 'fastify'
import type {
  AlgorithmName, AIMDLimitOptions, FixedLimitOptions, GradientLimitOptions, Gradient2LimitOptions,
  VegasLimitOptions, WindowedLimitOptions
} from './algorithms'
import type { LimitAlgorithm } from './algorithms/types'
import type { Limiter } from './limiter/limiter'
import type { Outcome, RejectReason } from './limiter/events'

/** `algorithmOptions` of each named algorithm. */
export interface AlgorithmOptions {
  gradient2: Gradient2LimitOptions
  gradient: GradientLimitOptions
  vegas: VegasLimitOptions
  aimd: AIMDLimitOptions
  fixed: FixedLimitOptions
}

/** Sample-window settings, or `false` for none. */
export type WindowOption = WindowedLimitOptions | false

/** What `onLimitExceeded` is told about a rejection. */
export interface LimitExceededInfo {
  /** The concurrency limit at the moment of rejection. */
  limit: number
  /** Requests in flight at the moment of rejection. */
  inflight: number
  reason: RejectReason
}

export type ClassifyFunction = (request: FastifyRequest, reply: FastifyReply) => Outcome
export type BypassFunction = (request: FastifyRequest) => boolean
export type OnLimitExceededFunction = (
  request: FastifyRequest,
  reply: FastifyReply,
  info: LimitExceededInfo
) => void | Promise<void>

export interface StatusRouteOptions {
  /** Default '/status'. */
  url?: string
  /** Extra route options (logLevel, config, constraints, hooks, ...). */
  routeOpts?: Omit<RouteShorthandOptions, 'schema'>
  /** Extra schema fields (querystring, or description / tags for @fastify/swagger). The response schema is always ours. */
  routeSchemaOpts?: Omit<FastifySchema, 'response'> & Record<string, unknown>
}

interface CommonOptions {
  /** Decide how a finished request counts. Default: client abort 'ignore', 5xx or slower than `timeout` 'drop', else 'success'. */
  classify?: ClassifyFunction
  /** A request slower than this (ms) counts as a drop under the default `classify`. Default 5000. */
  timeout?: number
  /** Requests for which this returns true skip the limiter and count only in `bypassed`. */
  bypass?: BypassFunction
  /** Status of a rejection: 503 (default) or 429. */
  statusCode?: 503 | 429
  /** `Retry-After` header of a rejection, in whole seconds. Default 1. */
  retryAfter?: number
  /** Called instead of the default error path on rejection; it may send its own response. */
  onLimitExceeded?: OnLimitExceededFunction
  /** Serve `fastify.concurrency.snapshot()` as JSON. false (default), true ('/status'), a URL, or options. */
  exposeStatusRoute?: boolean | string | StatusRouteOptions
}

/** A named algorithm, tuned by `algorithmOptions`, with optional sample windows. */
export interface NamedAlgorithmOptions<N extends AlgorithmName = AlgorithmName> extends CommonOptions {
  /** Default 'gradient2'. */
  algorithm?: N
  algorithmOptions?: AlgorithmOptions[N]
  /** Aggregate samples in windows before the algorithm sees them, or `false` for none. */
  window?: WindowOption
}

/** Your own algorithm instance; it is used as is. */
export interface CustomAlgorithmOptions extends CommonOptions {
  algorithm: LimitAlgorithm
  algorithmOptions?: never
  window?: never
}

export type FastifyAdaptiveConcurrencyOptions =
  | NamedAlgorithmOptions<'gradient2'>
  | NamedAlgorithmOptions<'gradient'>
  | NamedAlgorithmOptions<'vegas'>
  | NamedAlgorithmOptions<'aimd'>
  | NamedAlgorithmOptions<'fixed'>
  | CustomAlgorithmOptions

/** Readings of @fastify/under-pressure's `memoryUsage()`, when that plugin is registered. */
export interface UnderPressureReadings {
  eventLoopDelay: number
  rssBytes: number
  heapUsed: number
  eventLoopUtilized: number
}

/** The plain JSON the status route serves. */
export interface ConcurrencySnapshot {
  algorithm: string
  limit: number
  inflight: number
  admitted: number
  rejected: number
  succeeded: number
  dropped: number
  ignored: number
  bypassed: number
  overloaded: boolean
  state: Record<string, number | string>
  /** Present only when @fastify/under-pressure is registered. */
  underPressure?: UnderPressureReadings & { underPressure: boolean }
}

/** `fastify.concurrency`: live, read-only view of the limiter. */
export interface ConcurrencyStatus {
  readonly algorithm: string
  readonly limit: number
  readonly inflight: number
  readonly admitted: number
  readonly rejected: number
  readonly succeeded: number
  readonly dropped: number
  readonly ignored: number
  readonly bypassed: number
  /** The algorithm's internals (minRtt, gradient, ...). */
  readonly state: Record<string, number | string>
  /** The framework-agnostic limiter: add observers here (metrics, logs). */
  readonly limiter: Limiter
  /** True when the next request would be rejected. */
  isOverloaded (): boolean
  snapshot (): ConcurrencySnapshot
}

declare module 'fastify' {
  interface FastifyInstance {
    concurrency: ConcurrencyStatus
  }
  interface FastifyContextConfig {
    /** `false` turns adaptive concurrency off for this route: never limited, never counted. */
    adaptiveConcurrency?: boolean
  }
}
