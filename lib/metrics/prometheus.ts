// Prometheus metrics for the limiter, through prom-client (an optional peer dependency, loaded
// only when metrics are enabled).
//
// Cost model: nothing here touches prom-client per request.
// - Gauges (limit, in-flight, queue length, partition gauges) read live values in prom-client's
//   `collect()` hook, i.e. only when the registry is scraped.
// - Counters are plain numbers bumped by the observer callbacks (one Map lookup when partitions
//   are used) and copied into prom-client at scrape time, again in `collect()`.
// - The RTT histogram counts into a Float64Array per series (see preaggregated-histogram.ts for
//   why not prom-client's Histogram) and is read at scrape time.
//
// Sharing one registry between several apps (tests, or several servers in one process): each
// metric is registered once per registry and found again with `registry.getSingleMetric()`.
// Every app is a *source* attached to those metrics, labelled `instance` (default "default").
// At scrape time the sources' values are summed per label set, so two apps that keep the same
// instance label are reported as one (gauges and counters add up); give each app its own
// `instance` to see them apart. `close()` detaches the app, so closed apps stop being reported.
import type { Counter, Gauge, Metric, Registry } from 'prom-client'
import { errors } from '../errors'
import type { MetricsRegistry } from '../observability/options'
import type { LimiterObserver, LimiterStats, Outcome, RejectReason } from '../limiter/events'
import type { Sample } from '../algorithms/types'
import type { LongLivedStatus } from '../longlived/tracker'
import { bucketIndex, PreaggregatedHistogram, type HistogramSeries } from './preaggregated-histogram'

export const METRIC_PREFIX = 'fastify_adaptive_concurrency_'

/** Default RTT buckets, in seconds: 1 ms to 10 s. */
export const DEFAULT_RTT_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
]

/** Live per-partition values, read at scrape time. */
export interface PartitionGaugeValues {
  readonly name: string
  /** The partition's guaranteed share of the limit. */
  readonly limit: number
  readonly inflight: number
}

export interface PrometheusMetricsOptions {
  /** The registry to register into (a prom-client Registry). Default: prom-client's global registry. */
  registry?: MetricsRegistry
  /** Live limiter counters; read at scrape time only. */
  stats: LimiterStats
  /** Current wait-queue length, when the limiter queues. Reported as 0 otherwise. */
  queueLength?: () => number
  /** Current partitions, when the limiter partitions. */
  partitions?: () => Iterable<PartitionGaugeValues>
  /** What holds no permit (websockets, long-lived routes' requests, responses still sending), read at scrape time. */
  longLived?: () => LongLivedStatus
  /** Value of the `instance` label that tells apps sharing a registry apart. Default "default". */
  instance?: string
  /** Upper bounds (seconds) of the sample RTT histogram. Used only when this call creates it. */
  rttBuckets?: readonly number[]
}

export interface PrometheusMetrics {
  /** Register with the limiter. */
  readonly observer: LimiterObserver
  /** Detach this source: its series disappear from the next scrape. The metrics stay registered. */
  close (): void
}

type PromClient = typeof import('prom-client')

/**
 * Load prom-client, or throw FST_CONCURRENCY_MISSING_DEPENDENCY when it is not installed.
 * `load` is injectable so the missing case can be tested without uninstalling anything.
 */
export function loadPromClient (load: () => unknown = () => require('prom-client')): PromClient {
  try {
    return load() as PromClient
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new errors.FST_CONCURRENCY_MISSING_DEPENDENCY('prom-client', 'observability.metrics', 'prom-client')
    }
    throw err
  }
}

// Type aliases, not interfaces: prom-client's label parameter needs an index-signature-compatible type.
type InstanceLabels = { instance: string }
type SeriesLabels = { instance: string, partition?: string }

/** Counts for one (instance, partition) series; plain numbers so the hot path stays cheap. */
interface SeriesCounts extends HistogramSeries {
  readonly labels: SeriesLabels
  admitted: number
  succeeded: number
  dropped: number
  ignored: number
  rejected: Partial<Record<RejectReason, number>>
}

interface Source {
  readonly labels: InstanceLabels
  readonly stats: LimiterStats
  readonly queueLength: (() => number) | undefined
  readonly partitions: (() => Iterable<PartitionGaugeValues>) | undefined
  readonly longLived: (() => LongLivedStatus) | undefined
  readonly series: SeriesCounts[]
}

// Shared by every copy of this module in the process (versioned: bump it if Source changes), so
// two installed copies find each other's sources on a shared registry instead of failing.
const SOURCES = Symbol.for('fastify-adaptive-concurrency.metrics.sources.v1')

type Tagged<M> = M & { [SOURCES]: Set<Source> }
type AnyMetric = Gauge | Counter | PreaggregatedHistogram

interface Family {
  limit: Gauge
  inflight: Gauge
  queueLength: Gauge
  partitionLimit: Gauge
  partitionInflight: Gauge
  longLivedOpen: Gauge
  longLivedRouteOpen: Gauge
  admitted: Counter
  rejected: Counter
  succeeded: Counter
  dropped: Counter
  ignored: Counter
  bypassed: Counter
  rtt: PreaggregatedHistogram
}

function seriesFor (source: Source, byPartition: Map<string, SeriesCounts>, partition: string, buckets: number): SeriesCounts {
  let s = byPartition.get(partition)
  if (s === undefined) {
    s = newSeries({ instance: source.labels.instance, partition }, buckets)
    byPartition.set(partition, s)
    source.series.push(s)
  }
  return s
}

function newSeries (labels: SeriesLabels, buckets: number): SeriesCounts {
  return { labels, admitted: 0, succeeded: 0, dropped: 0, ignored: 0, rejected: {}, counts: new Float64Array(buckets + 1), sum: 0, count: 0 }
}

/** Create (or reuse, on a registry that already has them) the metrics and attach one source. */
export function createPrometheusMetrics (options: PrometheusMetricsOptions, prom: PromClient = loadPromClient()): PrometheusMetrics {
  // The option is typed by shape (see MetricsRegistry); checked at startup to be a Registry.
  const registry = (options.registry as Registry | undefined) ?? prom.register
  const family = getOrCreateFamily(prom, registry, options.rttBuckets ?? DEFAULT_RTT_BUCKETS)
  const instance = options.instance ?? 'default'
  // The histogram may come from an earlier app: its bounds win over this call's rttBuckets.
  const bounds = family.rtt.upperBounds
  const unpartitioned = newSeries({ instance }, bounds.length)
  const source: Source = {
    labels: { instance },
    stats: options.stats,
    queueLength: options.queueLength,
    partitions: options.partitions,
    longLived: options.longLived,
    series: [unpartitioned]
  }
  const byPartition = new Map<string, SeriesCounts>()
  const metrics = Object.values(family) as Array<Tagged<AnyMetric>>
  for (const m of metrics) m[SOURCES].add(source)

  const counts = (partition: string | undefined): SeriesCounts =>
    partition === undefined ? unpartitioned : seriesFor(source, byPartition, partition, bounds.length)

  const observer: LimiterObserver = {
    onAdmit (partition: string | undefined): void {
      counts(partition).admitted++
    },
    onReject (reason: RejectReason, partition: string | undefined): void {
      const r = counts(partition).rejected
      r[reason] = (r[reason] ?? 0) + 1
    },
    onRelease (outcome: Outcome, _rtt: number, partition: string | undefined): void {
      const s = counts(partition)
      if (outcome === 'success') s.succeeded++
      else if (outcome === 'drop') s.dropped++
      else s.ignored++
    },
    onSample (sample: Sample, partition: string | undefined): void {
      const s = counts(partition)
      const seconds = sample.rtt / 1000
      s.counts[bucketIndex(bounds, seconds)]++
      s.sum += seconds
      s.count++
    }
  }

  return {
    observer,
    close (): void {
      for (const m of metrics) m[SOURCES].delete(source)
    }
  }
}

function getOrCreateFamily (prom: PromClient, registry: Registry, buckets: readonly number[]): Family {
  // Gauges and counters alike are filled at scrape time from the live sources: reset, then add.
  type Config = { name: string, help: string, labelNames: string[], registers: Registry[], collect: () => void }
  const collected = <M extends Gauge | Counter>(
    Kind: new (config: Config) => M,
    suffix: string, help: string, labelNames: string[], collect: (m: M, sources: Set<Source>) => void
  ): M =>
      reuseOr(registry, suffix, () => {
        const sources = new Set<Source>()
        const m: M = new Kind({
          name: METRIC_PREFIX + suffix,
          help,
          labelNames,
          registers: [registry],
          collect () {
            m.reset()
            collect(m, sources)
          }
        })
        return tag(m, sources)
      })
  const gauge = (suffix: string, help: string, labelNames: string[], collect: (g: Gauge, sources: Set<Source>) => void): Gauge =>
    collected<Gauge>(prom.Gauge, suffix, help, labelNames, collect)
  const counter = (suffix: string, help: string, labelNames: string[], collect: (c: Counter, sources: Set<Source>) => void): Counter =>
    collected<Counter>(prom.Counter, suffix, help, labelNames, collect)

  // Gauges and counters *add* into the label set, so sources sharing an instance label sum up.
  const perSeries = (field: 'admitted' | 'succeeded' | 'dropped' | 'ignored') =>
    (c: Counter, sources: Set<Source>): void => {
      for (const src of sources) for (const s of src.series) c.inc(s.labels, s[field])
    }

  return {
    limit: gauge('limit', 'Current concurrency limit', ['instance'], (g, sources) => {
      for (const src of sources) g.inc(src.labels, src.stats.limit)
    }),
    inflight: gauge('inflight', 'Requests currently in flight (admitted, not yet completed)', ['instance'], (g, sources) => {
      for (const src of sources) g.inc(src.labels, src.stats.inflight)
    }),
    queueLength: gauge('queue_length', 'Requests waiting in the admission queue', ['instance'], (g, sources) => {
      for (const src of sources) g.inc(src.labels, src.queueLength === undefined ? 0 : src.queueLength())
    }),
    partitionLimit: gauge('partition_limit', 'Guaranteed share of the limit per partition', ['instance', 'partition'], (g, sources) => {
      for (const src of sources) {
        if (src.partitions === undefined) continue
        for (const p of src.partitions()) g.inc({ instance: src.labels.instance, partition: p.name }, p.limit)
      }
    }),
    partitionInflight: gauge('partition_inflight', 'Requests in flight per partition', ['instance', 'partition'], (g, sources) => {
      for (const src of sources) {
        if (src.partitions === undefined) continue
        for (const p of src.partitions()) g.inc({ instance: src.labels.instance, partition: p.name }, p.inflight)
      }
    }),
    longLivedOpen: gauge('longlived_open', 'Requests open now that hold no permit, by kind: websocket, waiting (long-lived routes), sending (headers written, body still going out)', ['instance', 'kind'], (g, sources) => {
      for (const src of sources) {
        if (src.longLived === undefined) continue
        const ll = src.longLived()
        const instance = src.labels.instance
        g.inc({ instance, kind: 'websocket' }, ll.websockets)
        g.inc({ instance, kind: 'waiting' }, ll.waiting)
        g.inc({ instance, kind: 'sending' }, ll.sending)
      }
    }),
    longLivedRouteOpen: gauge('longlived_route_open', 'Requests open now that hold no permit, by route (routes with any open, and long-lived routes)', ['instance', 'route'], (g, sources) => {
      for (const src of sources) {
        if (src.longLived === undefined) continue
        const routes = src.longLived().routes
        for (const route in routes) g.inc({ instance: src.labels.instance, route }, routes[route].open)
      }
    }),
    admitted: counter('admitted_total', 'Requests admitted by the limiter', ['instance', 'partition'], perSeries('admitted')),
    rejected: counter('rejected_total', 'Requests rejected (shed), by reason', ['instance', 'partition', 'reason'], (c, sources) => {
      for (const src of sources) {
        for (const s of src.series) {
          for (const [reason, n] of Object.entries(s.rejected)) c.inc({ ...s.labels, reason }, n)
        }
      }
    }),
    succeeded: counter('succeeded_total', 'Admitted requests that completed and counted as a latency sample', ['instance', 'partition'], perSeries('succeeded')),
    dropped: counter('dropped_total', 'Admitted requests that failed in a way that signals overload (5xx, timeout)', ['instance', 'partition'], perSeries('dropped')),
    ignored: counter('ignored_total', 'Admitted requests whose latency was not used (client errors, aborts)', ['instance', 'partition'], perSeries('ignored')),
    bypassed: counter('bypassed_total', 'Requests that skipped the limiter (bypass rules)', ['instance'], (c, sources) => {
      for (const src of sources) c.inc(src.labels, src.stats.bypassed)
    }),
    rtt: reuseOr(registry, 'sample_rtt_seconds', () => {
      const sources = new Set<Source>()
      const h = new PreaggregatedHistogram(
        METRIC_PREFIX + 'sample_rtt_seconds',
        'Round-trip time of the latency samples fed to the limit algorithm',
        buckets,
        function * () { for (const src of sources) yield * src.series }
      )
      // prom-client's Registry only needs name/help/type/get()/reset() from a metric.
      registry.registerMetric(h as unknown as Metric)
      return tag(h, sources)
    })
  }
}

function tag<M extends AnyMetric> (metric: M, sources: Set<Source>): M {
  (metric as Tagged<M>)[SOURCES] = sources
  return metric
}

/** The metric already on the registry (if this library made it), else a new one. */
function reuseOr<M extends AnyMetric> (registry: Registry, suffix: string, create: () => M): M {
  const existing = registry.getSingleMetric(METRIC_PREFIX + suffix) as Partial<Tagged<M>> | undefined
  if (existing === undefined) return create()
  if (existing[SOURCES] === undefined) {
    // Someone else's metric with our name: we cannot feed it, and must not silently skip it.
    throw new errors.FST_CONCURRENCY_INVALID_OPTION(
      'metrics.registry',
      `the registry already has a metric named "${METRIC_PREFIX + suffix}" that this plugin did not create`
    )
  }
  return existing as unknown as M
}
