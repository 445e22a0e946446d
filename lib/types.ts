// Public option and status types, and the declaration merging that types
// `fastify.concurrency` and `config: { adaptiveConcurrency: false }` on routes.
import type { FastifyReply, FastifyRequest, FastifySchema, RouteShorthandOptions } from 'fastify'
import type {
  AlgorithmName, AIMDLimitOptions, FixedLimitOptions, GradientLimitOptions, Gradient2LimitOptions,
  VegasLimitOptions, WindowedLimitOptions
} from './algorithms'
import type { LimitAlgorithm } from './algorithms/types'
import type { Limiter, LimiterSnapshot } from './limiter/limiter'
import type { LimiterStats, Outcome, RejectReason } from './limiter/events'
import type { DrainOptions, DrainResult, SessionStats } from './sessions/tracker'
import type { DrainOnCloseOptions, SessionsOptions } from './sessions/wiring'
import type { EventLoopOptions } from './eventloop/gate'
import type { SampleClassFunction } from './signal/request-class'
import type { SampleClassStats } from './limiter/sample-classes'
import type { HistoryPoint } from './observability/history'
import type { HistoryOptions, LoggingOptions, MetricsOptions } from './observability/wiring'
import type { QueueOptions } from './limiter/backlog-options'
import type { PartitionStatus } from './limiter/partitions'
import type { QueueSnapshot } from './backlog/status'
import type { RouteConcurrencyConfig } from './backlog/wiring'

export type { QueueOptions, PartitionStatus, QueueSnapshot, RouteConcurrencyConfig, SampleClassFunction, SampleClassStats }

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

/** How a finished request counts; `undefined` means "as the default classification says". */
export type ClassifyFunction = (request: FastifyRequest, reply: FastifyReply) => Outcome | undefined
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
  /** The live HTML page served for `Accept: text/html` (default on), or `false`; `{ title }` names it. */
  page?: boolean | { title?: string }
}

interface CommonOptions {
  /**
   * Which kind of request a latency sample belongs to; each kind is compared with its own no-load
   * latency. Default: one class per route and method, one for requests that matched no route
   * (off by default for 'aimd' and 'fixed', which never compare latencies). A function names the
   * class (undefined: the route's); `false`: one class, raw latency.
   */
  sampleClass?: false | SampleClassFunction
  /**
   * Decide how a finished request counts; return undefined for the default: client abort, 4xx
   * and 304 'ignore', 5xx or slower than `timeout` 'drop', else 'success'.
   */
  classify?: ClassifyFunction
  /** A request slower than this (ms) counts as a drop under the default `classify`. Default 5000. */
  timeout?: number
  /** Requests for which this returns true skip the limiter and count only in `bypassed`. */
  bypass?: BypassFunction
  /** Status of a rejection: 503 (default) or 429. */
  statusCode?: 503 | 429
  /**
   * `Retry-After` header of a rejection, in whole seconds. Default 1. `'auto'`: the estimated wait
   * behind the current queue, rounded up, between 1 and 60.
   */
  retryAfter?: number | 'auto'
  /** Called instead of the default error path on rejection; it may send its own response. */
  onLimitExceeded?: OnLimitExceededFunction
  /** Serve `fastify.concurrency.snapshot()` as JSON. false (default), true ('/status'), a URL, or options. */
  exposeStatusRoute?: boolean | string | StatusRouteOptions
  /**
   * Shed requests that waited behind the current event-loop turn longer than `maxWait` ms
   * (CPU-bound overload, invisible to in-flight counts). On by default (`maxWait` 40); `false` turns it off.
   */
  eventLoop?: boolean | EventLoopOptions
  /** Session handling: active sessions first under overload, a session cap, drain. Default: none. */
  sessions?: SessionsOptions
  /**
   * fastify.close() first drains (see `fastify.concurrency.drain`), for at most `timeout` ms
   * (default 10000). Requires `Fastify({ return503OnClosing: false })`.
   */
  drainOnClose?: boolean | DrainOnCloseOptions
  /** Names this limiter in metric labels and diagnostics_channel messages. Default 'default'. */
  instance?: string
  /** Prometheus metrics through prom-client: `true` (global registry) or `{ registry, rttBuckets }`. Default off. */
  metrics?: boolean | MetricsOptions
  /** Limit changes at debug, sustained shedding at warn, via the app's logger. Default on; `false` turns them off. */
  logging?: boolean | LoggingOptions
  /** One-second history for `snapshot({ history: true })` and the status page. Default on (300 s); `false` turns it off. */
  history?: boolean | HistoryOptions
  /** A bounded wait queue for requests at the limit; absent or false: they are rejected at once. */
  queue?: QueueOptions | false
  /** Reject at once ('estimated-wait') when the estimated queue wait exceeds this many ms. Needs `queue`. */
  maxEstimatedWait?: number
  /** A request header carrying the client's remaining time budget in ms; malformed values are ignored. */
  deadlineHeader?: string
  /** Partition name -> share of the limit in (0, 1], summing to at most 1. The first declared is served first. */
  partitions?: Record<string, number>
  /** Names a request's partition; undefined or undeclared names go to `default`. Route config wins over it. */
  partition?: (request: FastifyRequest) => string | undefined
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
export interface ConcurrencySnapshot extends LimiterSnapshot {
  algorithm: string
  overloaded: boolean
  state: Record<string, number | string>
  /** Present when `sessions` is set or a drain was started. */
  sessions?: SessionStats
  /** Present only when @fastify/under-pressure is registered. */
  underPressure?: UnderPressureReadings & { underPressure: boolean }
  /** With `snapshot({ history: true })` (or `?history=true` on the route): one point per second, oldest first. */
  history?: HistoryPoint[]
  /** Present with `queue`. */
  queue?: QueueSnapshot
  /** Present with `partitions`: each partition's share, guaranteed permits now, and counters. */
  partitions?: Record<string, PartitionStatus>
  /** Present with `partitions`: requests naming an undeclared partition (served as `default`). */
  unknownPartitions?: number
  /** Present with `queue`, `deadlineHeader` or `retryAfter: 'auto'`: moving average of latency, ms. */
  serviceTime?: number
  /** Present unless `sampleClass: false`: the latency classes (by default, routes) and how many have a baseline. */
  sampleClasses?: SampleClassStats
}

export interface SnapshotOptions {
  /** Include the one-second history (empty with `history: false`). */
  history?: boolean
}

/** `fastify.concurrency`: live, read-only view of the limiter. */
export interface ConcurrencyStatus extends LimiterStats {
  readonly algorithm: string
  /** The algorithm's internals (minRtt, gradient, ...). */
  readonly state: Record<string, number | string>
  /** Latency classes (by default, one per route): how many, how many learned; undefined with `sampleClass: false`. */
  readonly sampleClasses: SampleClassStats | undefined
  /** Session counters and the drain state; undefined unless `sessions` is set or a drain was started. */
  readonly sessions: SessionStats | undefined
  /**
   * Stop admitting new sessions and sessionless requests (503, Connection: close, Retry-After)
   * while active sessions keep being served; resolves once they all went idle or after `timeout` ms.
   */
  drain (options: DrainOptions): Promise<DrainResult>
  /** The framework-agnostic limiter: add observers here (metrics, logs). */
  readonly limiter: Limiter
  /** True when the next request would be rejected. */
  isOverloaded (): boolean
  snapshot (options?: SnapshotOptions): ConcurrencySnapshot
}

declare module 'fastify' {
  interface FastifyInstance {
    concurrency: ConcurrencyStatus
  }
  interface FastifyContextConfig {
    /**
     * `false` turns adaptive concurrency off for this route: never limited, never counted.
     * `{ partition: 'name' }` puts the route's requests in a declared partition.
     */
    adaptiveConcurrency?: boolean | RouteConcurrencyConfig
  }
}
