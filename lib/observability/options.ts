// The `observability` option, read once: instance name, Prometheus metrics, logs, history.
import { invalidOption } from '../errors'
import { booleanOption, describe, knownKeys, numberOption, objectOption } from '../validate'

/**
 * What the plugin needs of a prom-client `Registry`, typed by its shape: prom-client is an optional
 * peer, and naming its types here would break the type check of every app that does not install
 * it. A real `Registry` satisfies this (checked in test/types/entries.tst.ts).
 */
export interface MetricsRegistry {
  getSingleMetric (name: string): unknown
  registerMetric (metric: never): void
}

/** `metrics` option: `true` registers on prom-client's default registry. */
export interface MetricsOptions {
  /** A prom-client `Registry`. Default: prom-client's global registry. */
  registry?: MetricsRegistry
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
  metrics: { registry: MetricsRegistry | undefined, rttBuckets: number[] | undefined } | undefined
  sheddingInterval: number | undefined
  historySeconds: number | undefined
}

export interface ObservabilityOptions {
  /** Names this limiter in metric labels and diagnostics_channel messages. Default 'default'. */
  instance?: string
  /** Prometheus metrics through prom-client: `true` (global registry) or `{ registry, rttBuckets }`. Default off. */
  metrics?: boolean | MetricsOptions
  /** Limit changes at debug, sustained shedding at warn, via the app's logger. Default on; `false` turns them off. */
  logging?: boolean | LoggingOptions
  /** One-second history for `snapshot({ history: true })` and the status page. Default on (300 s); `false` turns it off. */
  history?: boolean | HistoryOptions
}

export function resolveObservability (value: unknown): ResolvedObservability {
  const opts = objectOption('observability', value) ?? {}
  knownKeys('observability', opts, ['instance', 'metrics', 'logging', 'history'] satisfies Array<keyof ObservabilityOptions>)
  const instance = opts.instance ?? 'default'
  if (typeof instance !== 'string' || instance === '') invalidOption('observability.instance', `expected a non-empty string, got ${describe(instance)}`)
  return {
    instance,
    metrics: resolveMetrics(opts.metrics),
    sheddingInterval: resolveEnabled('observability.logging', opts.logging, ['sheddingInterval'], o =>
      numberOption('observability.logging.sheddingInterval', o.sheddingInterval, 10_000, 1, Infinity, { maxExclusive: true })),
    historySeconds: resolveEnabled('observability.history', opts.history, ['seconds'], o =>
      numberOption('observability.history.seconds', o.seconds, 300, 1, 86_400, { integer: true }))
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
  if (value === undefined || booleanOrObject('observability.metrics', value) === false) return undefined
  if (value === true) return { registry: undefined, rttBuckets: undefined }
  const o = objectOption('observability.metrics', value) as Record<string, unknown>
  knownKeys('observability.metrics', o, ['registry', 'rttBuckets'])
  const registry = o.registry
  if (registry !== undefined && (registry === null || typeof (registry as MetricsRegistry).getSingleMetric !== 'function')) {
    invalidOption('observability.metrics.registry', `expected a prom-client Registry, got ${describe(registry)}`)
  }
  const buckets = o.rttBuckets
  if (buckets !== undefined) {
    const ok = Array.isArray(buckets) && buckets.length > 0 &&
      buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && b > 0 && (i === 0 || b > buckets[i - 1]))
    if (!ok) invalidOption('observability.metrics.rttBuckets', 'expected a non-empty array of increasing positive numbers (seconds)')
  }
  return { registry: registry as MetricsRegistry | undefined, rttBuckets: buckets as number[] | undefined }
}
