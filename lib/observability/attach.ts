// Observability, attached per plugin registration: history (unless `history: false`),
// diagnostics_channel (always: free without subscribers), logs through the app's pino logger
// (unless `logging: false`), and Prometheus metrics when `metrics` is set. Each is a limiter
// observer.
import type { FastifyBaseLogger } from 'fastify'
import type { LimiterObserver, LimiterStats } from '../limiter/events'
import type { LongLivedStatus } from '../longlived/tracker'
import { createPrometheusMetrics, type PartitionGaugeValues, type PrometheusMetrics } from '../metrics/prometheus'
import { createChannelsObserver } from './channels'
import { History } from './history'
import type { ResolvedObservability } from './options'
import { createSheddingLog } from './shedding-log'

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
  logger: FastifyBaseLogger,
  longLived?: () => LongLivedStatus
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
      partitions: limiter.partitions === undefined ? undefined : () => partitionGauges(limiter),
      longLived
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
