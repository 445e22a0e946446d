// Plugin option validation. Runs inside the plugin function, so a bad value rejects `ready()`
// with FST_CONCURRENCY_INVALID_OPTION naming the option and what it accepts.
import { ALGORITHM_NAMES, createAlgorithm, isLimitAlgorithm } from './algorithms'
import type { AlgorithmName } from './algorithms'
import type { LimitAlgorithm } from './algorithms/types'
import { invalidOption } from './errors'
import { describe, enumOption, functionOption, knownKeys, numberOption, objectOption } from './validate'
import type {
  BypassFunction, ClassifyFunction, OnLimitExceededFunction, StatusRouteOptions
} from './types'

export const OPTION_NAMES = [
  'algorithm', 'algorithmOptions', 'window', 'classify', 'timeout', 'bypass',
  'statusCode', 'retryAfter', 'onLimitExceeded', 'exposeStatusRoute'
] as const

export const DEFAULT_ALGORITHM: AlgorithmName = 'gradient2'
export const DEFAULT_TIMEOUT_MS = 5000
export const DEFAULT_RETRY_AFTER_S = 1
export const DEFAULT_STATUS_URL = '/status'

export interface ResolvedStatusRoute {
  url: string
  routeOpts: Record<string, unknown>
  routeSchemaOpts: Record<string, unknown>
}

export interface ResolvedOptions {
  algorithm: LimitAlgorithm
  classify: ClassifyFunction | undefined
  timeout: number
  bypass: BypassFunction | undefined
  statusCode: 503 | 429
  retryAfter: number
  onLimitExceeded: OnLimitExceededFunction | undefined
  statusRoute: ResolvedStatusRoute | undefined
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
    classify: functionOption<ClassifyFunction>('classify', opts.classify),
    timeout: numberOption('timeout', opts.timeout, DEFAULT_TIMEOUT_MS, 0, Infinity, { minExclusive: true }),
    bypass: functionOption<BypassFunction>('bypass', opts.bypass),
    statusCode: statusCode ?? 503,
    retryAfter: numberOption('retryAfter', opts.retryAfter, DEFAULT_RETRY_AFTER_S, 0, 86400, { integer: true }),
    onLimitExceeded: functionOption<OnLimitExceededFunction>('onLimitExceeded', opts.onLimitExceeded),
    statusRoute: resolveStatusRoute(opts.exposeStatusRoute)
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
  if (value === true) return { url: DEFAULT_STATUS_URL, routeOpts: {}, routeSchemaOpts: {} }
  if (typeof value === 'string') return { url: urlOption('exposeStatusRoute', value), routeOpts: {}, routeSchemaOpts: {} }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption('exposeStatusRoute', `expected a boolean, a URL string or { url, routeOpts, routeSchemaOpts }, got ${describe(value)}`)
  }
  const obj = value as Record<string, unknown>
  knownKeys('exposeStatusRoute', obj, ['url', 'routeOpts', 'routeSchemaOpts'] satisfies Array<keyof StatusRouteOptions>)
  const url = obj.url === undefined ? DEFAULT_STATUS_URL : urlOption('exposeStatusRoute.url', obj.url)
  const routeOpts = objectOption('exposeStatusRoute.routeOpts', obj.routeOpts) ?? {}
  const routeSchemaOpts = objectOption('exposeStatusRoute.routeSchemaOpts', obj.routeSchemaOpts) ?? {}
  for (const key of ['url', 'method', 'handler', 'schema']) {
    if (key in routeOpts) invalidOption(`exposeStatusRoute.routeOpts.${key}`, 'is set by the plugin; use url / routeSchemaOpts instead')
  }
  if ('response' in routeSchemaOpts) invalidOption('exposeStatusRoute.routeSchemaOpts.response', 'the response schema is set by the plugin')
  return { url, routeOpts, routeSchemaOpts }
}

function urlOption (name: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    invalidOption(name, `expected a URL path starting with '/', got ${describe(value)}`)
  }
  return value
}
