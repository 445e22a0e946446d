// Public option and status types, and the declaration merging that types
// `fastify.concurrency` and `config: { adaptiveConcurrency: false }` on routes.
import type { FastifyReply, FastifyRequest, FastifySchema, RouteShorthandOptions } from 'fastify'
import type {
  AlgorithmName, AIMDLimitOptions, FixedLimitOptions, Gradient2LimitOptions,
  VegasLimitOptions, WindowedLimitOptions
} from './algorithms'
import type { LimitAlgorithm } from './algorithms/types'
import type { Limiter, LimiterSnapshot } from './limiter/limiter'
import type { LimiterStats, Outcome } from './limiter/events'
import type { RejectReason } from './refusal'
import type { DrainOptions, DrainResult, SessionStats } from './sessions/tracker'
import type { DrainOnCloseOptions, SessionsOptions } from './sessions/options'
import type { CoordinationOptions } from './coordination/options'
import type { EventLoopOptions } from './eventloop/gate'
import type { SampleClassFunction } from './signal/request-class'
import type { SampleClassStats } from './limiter/sample-classes'
import type { HistoryPoint } from './observability/history'
import type { ObservabilityOptions } from './observability/options'
import type { PartitionsOptions, QueueOptions } from './backlog/options'
import type { PartitionStatus } from './limiter/partitions'
import type { QueueSnapshot } from './backlog/status'
import type { LongLivedStatus } from './longlived/tracker'

export type { LongLivedStatus, PartitionsOptions, QueueOptions, PartitionStatus, QueueSnapshot, RejectReason, SampleClassFunction, SampleClassStats }

/** `algorithm.options` of each named algorithm. */
export interface AlgorithmOptions {
  gradient2: Gradient2LimitOptions
  vegas: VegasLimitOptions
  aimd: AIMDLimitOptions
  fixed: FixedLimitOptions
}

/** Sample-window settings (the samples carry their own time), or `false` for none. */
export type WindowOption = Omit<WindowedLimitOptions, 'clock'> | false

/** A named algorithm with its settings. */
export type AlgorithmConfig = {
  [N in AlgorithmName]: {
    name: N
    options?: AlgorithmOptions[N]
    /** Aggregate samples in windows before the algorithm sees them. Default none. */
    window?: WindowOption
  }
}[AlgorithmName]

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
) => unknown

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

/** How a finished request feeds the limit. */
export interface SignalOptions {
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
  /**
   * A request slower than this (ms) and far slower than its route's no-load latency (4x) counts
   * as a drop under the default `classify`. Default 5000. Without per-route classes
   * (`sampleClass: false`), slower than this alone.
   */
  timeout?: number
  /**
   * A route half of whose last 20 samples are at least this long (ms), before 8 windows mostly
   * under it, is learned long-lived: its requests are admitted at the limit but then
   * hold no permit and feed no sample (see docs/long-lived-requests.md). Default 1000; `false`
   * turns learning off.
   */
  longLivedAfter?: number | false
}

/** How refusals are answered. */
export interface RejectionOptions {
  /** Status of a refusal: 503 (default) or 429. */
  statusCode?: 503 | 429
  /**
   * `Retry-After` header of a refusal, in whole seconds. Default 1. `'auto'`: the estimated wait
   * behind the current queue, rounded up, between 1 and 60.
   */
  retryAfter?: number | 'auto'
  /**
   * Answers a refusal instead of the default error path, by Fastify's hook convention: return
   * `reply` once it sent something, any other value to send it, or nothing for the default.
   */
  onLimitExceeded?: OnLimitExceededFunction
}

export interface FastifyAdaptiveConcurrencyOptions {
  /** A name (default 'gradient2'), `{ name, options, window }`, or your own LimitAlgorithm instance. */
  algorithm?: AlgorithmName | AlgorithmConfig | LimitAlgorithm
  /** How finished requests feed the limit: latency classes, classification, timeout. */
  signal?: SignalOptions
  /**
   * Shed requests that waited behind the current event-loop turn longer than `maxWait` ms
   * (CPU-bound overload, invisible to in-flight counts). On by default (`maxWait` 40); `false` turns it off.
   */
  eventLoop?: boolean | EventLoopOptions
  /** Requests for which this returns true skip the limiter and count only in `bypassed`. */
  bypass?: BypassFunction
  /** Status, Retry-After and your own answer for refusals. */
  rejection?: RejectionOptions
  /**
   * The wait queue for requests at the limit: absorbs bursts, cuts waiting once a backlog stands
   * (see QueueOptions.standingTimeout); estimated-wait and deadline checks. On by default;
   * false: requests at the limit are refused at once.
   */
  queue?: QueueOptions | false
  /** Shares of the limit by kind of traffic, and how a request's partition is chosen. */
  partitions?: PartitionsOptions
  /** Active sessions first under overload, a session cap, drain. Default: none. */
  sessions?: SessionsOptions
  /**
   * fastify.close() first drains (see `fastify.concurrency.drain`), for at most `timeout` ms
   * (default 10000). Requires `Fastify({ return503OnClosing: false })`.
   */
  drainOnClose?: boolean | DrainOnCloseOptions
  /** Instance name, Prometheus metrics, logs, history. */
  observability?: ObservabilityOptions
  /** Serve `fastify.concurrency.snapshot()` as JSON (and a live page). false (default), true ('/status'), a URL, or options. */
  statusRoute?: boolean | string | StatusRouteOptions
  /**
   * Processes in front of the same backend (`node:cluster`, PM2, replicas) share one limit budget
   * through Redis: one round trip per process per `interval`, never per request; local control
   * while Redis is slow or gone. Needs `gradient2` without a window. Default: off.
   */
  coordination?: CoordinationOptions | false
}

/** The per-route settings; `RouteConcurrencyConfig` needs at least one of them. */
export interface RouteConcurrencySettings {
  /** A declared partition name; an undeclared one fails at route registration. */
  partition?: string
  /**
   * `true`: the route's requests wait on an event, not on capacity (long-polls, event streams):
   * admitted at the limit like any request, then they hold no permit and feed no sample.
   * `false`: never learned long-lived, however slow. Default: learned (`signal.longLivedAfter`).
   */
  longLived?: boolean
}

/** The per-route setting: `config: { adaptiveConcurrency: { partition: 'name', longLived: true } }`. */
export type RouteConcurrencyConfig = RouteConcurrencySettings & ({ partition: string } | { longLived: boolean })

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
  /** Requests were refused within the last second or so (the in-flight count at one instant says little). */
  shedding: boolean
  state: Record<string, number | string>
  /** What holds no permit, open now: websockets, long-lived routes' requests, responses still sending; by route. */
  longLived: LongLivedStatus
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
  /** What holds no permit, open now: websockets, long-lived routes' requests, responses still sending; by route. */
  readonly longLived: LongLivedStatus
  /** Requests were refused within the last second or so (`isOverloaded()` is the next request only). */
  readonly shedding: boolean
  /**
   * Requests with a body that never asked for a permit: they wait for their body before they do
   * (unless the limit is full on arrival), and Fastify refused the body (400, 413, 415) or the
   * client left while sending it. Not in `admitted`, `rejected` or `bypassed`.
   */
  readonly abandoned: number
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
