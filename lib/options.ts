// Plugin option validation. Runs inside the plugin function, so a bad value rejects `ready()`
// with FST_CONCURRENCY_INVALID_OPTION naming the option and what it accepts.
import { ALGORITHM_NAMES, createAlgorithm, isLimitAlgorithm } from './algorithms'
import type { AlgorithmName } from './algorithms'
import type { FastifyRequest } from 'fastify'
import type { LimitAlgorithm } from './algorithms/types'
import { invalidOption } from './errors'
import { resolveEventLoopOptions } from './eventloop/gate'
import { resolveDrainOnClose } from './sessions/wiring'
import { resolveSampleClass, type SampleClassFunction } from './signal/request-class'
import { OBSERVABILITY_OPTION_NAMES, resolveObservability, type ResolvedObservability } from './observability/wiring'
import { BACKLOG_OPTION_NAMES, resolveBacklogOptions, type ResolvedBacklogOptions } from './limiter/backlog-options'
import { describe, enumOption, functionOption, knownKeys, numberOption, objectOption } from './validate'
import type {
  BypassFunction, ClassifyFunction, OnLimitExceededFunction, StatusRouteOptions
} from './types'

export const OPTION_NAMES = [
  'algorithm', 'algorithmOptions', 'window', 'sampleClass', 'classify', 'timeout', 'bypass',
  'statusCode', 'retryAfter', 'onLimitExceeded', 'exposeStatusRoute', 'eventLoop',
  'sessions', 'drainOnClose', ...OBSERVABILITY_OPTION_NAMES, ...BACKLOG_OPTION_NAMES
] as const

export const DEFAULT_ALGORITHM: AlgorithmName = 'gradient2'
/** Named algorithms that never compare latencies (AIMD's timeout is absolute): classes off by default. */
const LATENCY_BLIND = new Set<unknown>(['aimd', 'fixed'])
export const DEFAULT_TIMEOUT_MS = 5000
export const DEFAULT_RETRY_AFTER_S = 1
export const DEFAULT_STATUS_URL = '/status'

export interface ResolvedStatusRoute {
  url: string
  routeOpts: Record<string, unknown>
  routeSchemaOpts: Record<string, unknown>
  /** The HTML page for `Accept: text/html`, or undefined when `page: false`. */
  page: { title: string } | undefined
}

export interface ResolvedOptions {
  algorithm: LimitAlgorithm
  /** Per-class latency: on (with an optional custom classifier) or off (raw latency). */
  sampleClass: { enabled: boolean, custom: SampleClassFunction | undefined }
  classify: ClassifyFunction | undefined
  timeout: number
  bypass: BypassFunction | undefined
  statusCode: 503 | 429
  /** Whole seconds; with `retryAfter: 'auto'` this is the default and retryAfterAuto is true. */
  retryAfter: number
  retryAfterAuto: boolean
  /** queue, maxEstimatedWait, deadlineHeader, partitions, partition. */
  backlog: ResolvedBacklogOptions<FastifyRequest>
  onLimitExceeded: OnLimitExceededFunction | undefined
  statusRoute: ResolvedStatusRoute | undefined
  /** The event-loop gate's settings; undefined when turned off. */
  eventLoop: { maxWait: number } | undefined
  /** fastify.close() drains first, for at most this many ms; undefined when off. */
  drainOnClose: number | undefined
  /** Passed through: SessionWiring validates it (it needs the limiter). */
  sessions: unknown
  /** instance, metrics, logging, history. */
  observability: ResolvedObservability
}

export function resolveOptions (input: unknown): ResolvedOptions {
  const opts = objectOption('options', input) ?? {}
  knownKeys('', opts, OPTION_NAMES)
  const statusCode = opts.statusCode
  if (statusCode !== undefined && statusCode !== 503 && statusCode !== 429) {
    invalidOption('statusCode', `expected 503 or 429, got ${describe(statusCode)}`)
  }
  return {
    algorithm: resolveAlgorithm(opts.algorithm, opts.algorithmOptions, opts.window),
    sampleClass: opts.sampleClass === undefined && LATENCY_BLIND.has(opts.algorithm)
      ? { enabled: false, custom: undefined }
      : resolveSampleClass(opts.sampleClass),
    classify: functionOption<ClassifyFunction>('classify', opts.classify),
    timeout: numberOption('timeout', opts.timeout, DEFAULT_TIMEOUT_MS, 0, Infinity, { minExclusive: true }),
    bypass: functionOption<BypassFunction>('bypass', opts.bypass),
    statusCode: statusCode ?? 503,
    retryAfter: resolveRetryAfter(opts.retryAfter),
    retryAfterAuto: opts.retryAfter === 'auto',
    backlog: resolveBacklogOptions<FastifyRequest>(opts),
    onLimitExceeded: functionOption<OnLimitExceededFunction>('onLimitExceeded', opts.onLimitExceeded),
    statusRoute: resolveStatusRoute(opts.exposeStatusRoute),
    eventLoop: resolveEventLoopOptions(opts.eventLoop),
    drainOnClose: resolveDrainOnClose(opts.drainOnClose),
    sessions: opts.sessions,
    observability: resolveObservability(opts)
  }
}

function resolveAlgorithm (algorithm: unknown, algorithmOptions: unknown, window: unknown): LimitAlgorithm {
  if (algorithm !== undefined && typeof algorithm === 'object' && algorithm !== null) {
    if (!isLimitAlgorithm(algorithm)) {
      invalidOption('algorithm', 'expected a LimitAlgorithm (name, limit, onSample(), state()) or a name')
    }
    // Tuning knobs for a named algorithm would be silently ignored on an instance: refuse them.
    if (algorithmOptions !== undefined) invalidOption('algorithmOptions', 'only applies to a named algorithm; configure your instance directly')
    if (window !== undefined) invalidOption('window', 'only applies to a named algorithm; wrap your instance in a WindowedLimit instead')
    return algorithm
  }
  const name = enumOption('algorithm', algorithm, ALGORITHM_NAMES, DEFAULT_ALGORITHM)
  objectOption('algorithmOptions', algorithmOptions)
  if (window !== undefined && window !== false) objectOption('window', window)
  return createAlgorithm(name, algorithmOptions as never, window as never)
}

function resolveStatusRoute (value: unknown): ResolvedStatusRoute | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return { url: DEFAULT_STATUS_URL, routeOpts: {}, routeSchemaOpts: {}, page: DEFAULT_PAGE }
  if (typeof value === 'string') return { url: urlOption('exposeStatusRoute', value), routeOpts: {}, routeSchemaOpts: {}, page: DEFAULT_PAGE }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption('exposeStatusRoute', `expected a boolean, a URL string or { url, routeOpts, routeSchemaOpts }, got ${describe(value)}`)
  }
  const obj = value as Record<string, unknown>
  knownKeys('exposeStatusRoute', obj, ['url', 'routeOpts', 'routeSchemaOpts', 'page'] satisfies Array<keyof StatusRouteOptions>)
  const url = obj.url === undefined ? DEFAULT_STATUS_URL : urlOption('exposeStatusRoute.url', obj.url)
  const routeOpts = objectOption('exposeStatusRoute.routeOpts', obj.routeOpts) ?? {}
  const routeSchemaOpts = objectOption('exposeStatusRoute.routeSchemaOpts', obj.routeSchemaOpts) ?? {}
  for (const key of ['url', 'method', 'handler', 'schema']) {
    if (key in routeOpts) invalidOption(`exposeStatusRoute.routeOpts.${key}`, 'is set by the plugin; use url / routeSchemaOpts instead')
  }
  if ('response' in routeSchemaOpts) invalidOption('exposeStatusRoute.routeSchemaOpts.response', 'the response schema is set by the plugin')
  return { url, routeOpts, routeSchemaOpts, page: resolvePage(obj.page) }
}

const DEFAULT_PAGE = { title: 'fastify-adaptive-concurrency' }

function resolvePage (value: unknown): ResolvedStatusRoute['page'] {
  if (value === undefined || value === true) return DEFAULT_PAGE
  if (value === false) return undefined
  const obj = objectOption('exposeStatusRoute.page', value) as Record<string, unknown>
  knownKeys('exposeStatusRoute.page', obj, ['title'])
  const title = obj.title ?? DEFAULT_PAGE.title
  if (typeof title !== 'string') invalidOption('exposeStatusRoute.page.title', `expected a string, got ${describe(title)}`)
  return { title }
}

function resolveRetryAfter (value: unknown): number {
  if (value === 'auto') return DEFAULT_RETRY_AFTER_S
  if (typeof value === 'string') invalidOption('retryAfter', `expected an integer in [0, 86400] or 'auto', got ${describe(value)}`)
  return numberOption('retryAfter', value, DEFAULT_RETRY_AFTER_S, 0, 86400, { integer: true })
}

function urlOption (name: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    invalidOption(name, `expected a URL path starting with '/', got ${describe(value)}`)
  }
  return value
}
