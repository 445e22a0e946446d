// Observability, wired per plugin registration: history (always, unless `history: false`),
// diagnostics_channel (always: free without subscribers), logs through the app's pino logger
// (unless `logging: false`), and Prometheus metrics when `metrics` is set. Each is a limiter
// observer; the plugin calls resolveObservability() while validating options and
// attachObservability() once the limiter exists.
import type { FastifyBaseLogger } from 'fastify'
import type { Registry } from 'prom-client'
import { invalidOption } from '../errors'
import type { LimiterObserver, LimiterStats } from '../limiter/events'
import { createPrometheusMetrics, type PartitionGaugeValues, type PrometheusMetrics } from '../metrics/prometheus'
import { booleanOption, describe, knownKeys, numberOption, objectOption } from '../validate'
import { createChannelsObserver } from './channels'
import { History } from './history'
import { createSheddingLog } from './shedding-log'

/** `metrics` option: `true` registers on prom-client's default registry. */
export interface MetricsOptions {
  /** Default: prom-client's global registry. */
  registry?: Registry
  /** Upper bounds (seconds) of the sample RTT histogram. Used by the first app on a registry. */
  rttBuckets?: number[]
}

/** `logging` option: `false` turns both log lines off. */
export interface LoggingOptions {
  /** Minimum ms between two "sustained shedding" warnings. Default 10000. */
  sheddingInterval?: number
}

/** `history` option: `false` keeps no history (the status page then has nothing to draw). */
export interface HistoryOptions {
  /** One-second points kept. Default 300 (five minutes). */
  seconds?: number
}

export interface ResolvedObservability {
  instance: string
  metrics: { registry: Registry | undefined, rttBuckets: number[] | undefined } | undefined
  sheddingInterval: number | undefined
  historySeconds: number | undefined
}

export const OBSERVABILITY_OPTION_NAMES = ['instance', 'metrics', 'logging', 'history'] as const

export function resolveObservability (opts: Record<string, unknown>): ResolvedObservability {
  const instance = opts.instance ?? 'default'
  if (typeof instance !== 'string' || instance === '') invalidOption('instance', `expected a non-empty string, got ${describe(instance)}`)
  return {
    instance,
    metrics: resolveMetrics(opts.metrics),
    sheddingInterval: resolveEnabled('logging', opts.logging, ['sheddingInterval'], o =>
      numberOption('logging.sheddingInterval', o.sheddingInterval, 10_000, 1, Infinity, { maxExclusive: true })),
    historySeconds: resolveEnabled('history', opts.history, ['seconds'], o =>
      numberOption('history.seconds', o.seconds, 300, 1, 86_400, { integer: true }))
  }
}

/** `false` → undefined; `true`/absent → defaults; an object → its checked settings. */
function resolveEnabled (name: string, value: unknown, keys: string[], read: (o: Record<string, unknown>) => number): number | undefined {
  if (booleanOrObject(name, value) === false) return undefined
  const o = value === undefined || value === true ? {} : value as Record<string, unknown>
  knownKeys(name, o, keys)
  return read(o)
}

function booleanOrObject (name: string, value: unknown): unknown {
  if (typeof value === 'boolean') return booleanOption(name, value, true)
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    invalidOption(name, `expected a boolean or an object, got ${describe(value)}`)
  }
  return value
}

function resolveMetrics (value: unknown): ResolvedObservability['metrics'] {
  if (value === undefined || booleanOrObject('metrics', value) === false) return undefined
  if (value === true) return { registry: undefined, rttBuckets: undefined }
  const o = objectOption('metrics', value) as Record<string, unknown>
  knownKeys('metrics', o, ['registry', 'rttBuckets'])
  const registry = o.registry
  if (registry !== undefined && (registry === null || typeof (registry as Registry).getSingleMetric !== 'function')) {
    invalidOption('metrics.registry', `expected a prom-client Registry, got ${describe(registry)}`)
  }
  const buckets = o.rttBuckets
  if (buckets !== undefined) {
    const ok = Array.isArray(buckets) && buckets.length > 0 &&
      buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && b > 0 && (i === 0 || b > buckets[i - 1]))
    if (!ok) invalidOption('metrics.rttBuckets', 'expected a non-empty array of increasing positive numbers (seconds)')
  }
  return { registry: registry as Registry | undefined, rttBuckets: buckets as number[] | undefined }
}

/** What the limiter may offer the metrics: a queue and partitions, when configured. */
export interface ObservedLimiter extends LimiterStats {
  addObserver (observer: LimiterObserver): void
  readonly queue?: { readonly length: number } | undefined
  readonly partitions?: {
    readonly list: ReadonlyArray<{ readonly name: string, readonly inflight: number, guaranteed (limit: number): number }>
  } | undefined
}

export interface Observability {
  /** undefined with `history: false`. */
  readonly history: History | undefined
  close (): void
}

export function attachObservability (
  limiter: ObservedLimiter,
  options: ResolvedObservability,
  logger: FastifyBaseLogger
): Observability {
  const { instance } = options
  let history: History | undefined
  if (options.historySeconds !== undefined) {
    history = new History({ stats: limiter, seconds: options.historySeconds })
    limiter.addObserver(history.observer)
    history.start()
  }
  limiter.addObserver(createChannelsObserver({ instance }))
  if (options.sheddingInterval !== undefined) {
    const h = history
    limiter.addObserver(createSheddingLog({
      logger,
      stats: limiter,
      interval: options.sheddingInterval,
      rttP50: h === undefined ? undefined : () => h.lastRttP50()
    }))
  }
  let metrics: PrometheusMetrics | undefined
  if (options.metrics !== undefined) {
    // prom-client is loaded only here (it is an optional peer dependency).
    metrics = createPrometheusMetrics({
      registry: options.metrics.registry,
      rttBuckets: options.metrics.rttBuckets,
      instance,
      stats: limiter,
      queueLength: limiter.queue === undefined ? undefined : () => (limiter.queue as { length: number }).length,
      partitions: limiter.partitions === undefined ? undefined : () => partitionGauges(limiter)
    })
    limiter.addObserver(metrics.observer)
  }
  return {
    history,
    close (): void {
      history?.stop()
      metrics?.close()
    }
  }
}

function partitionGauges (limiter: ObservedLimiter): PartitionGaugeValues[] {
  const limit = limiter.limit
  return (limiter.partitions as NonNullable<ObservedLimiter['partitions']>).list
    .map(p => ({ name: p.name, limit: p.guaranteed(limit), inflight: p.inflight }))
}
