// A Prometheus histogram whose buckets are counted by us and only *read* by prom-client.
//
// Why not prom-client's Histogram: its observe() cost 0.8-2.4 µs per call on the 2-core dev box
// (label validation, a label-hash string and float-to-string bucket keys every time), against
// ~20-40 ns for this one (benchmarks/diagnostics/publish-cost.ts, rows "prom-client observe"
// and "prometheus"). Per request that is too much, so the hot path increments a Float64Array
// slot and the registry reads it at scrape time.
//
// The object implements what prom-client's Registry calls on a metric (name, help, type,
// aggregator, get(), reset()), with get() returning the documented MetricObjectWithValues
// shape, the same one getMetricsAsJSON() exposes.

/** One label set's counts, owned and updated by the caller. */
export interface HistogramSeries {
  readonly labels: Readonly<Record<string, string>>
  /** Per bucket, non-cumulative; one more slot than upper bounds, for values above the last. */
  readonly counts: Float64Array
  sum: number
  count: number
}

interface ExportedValue {
  value: number
  labels: Record<string, string | number>
  metricName: string
}

/** Index of the bucket for `value` (the last index when above every bound). Linear: ~13 bounds. */
export function bucketIndex (upperBounds: readonly number[], value: number): number {
  let i = 0
  while (i < upperBounds.length && value > upperBounds[i]) i++
  return i
}

export class PreaggregatedHistogram {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  readonly name: string
  readonly help: string
  readonly upperBounds: readonly number[]
  private readonly series: () => Iterable<HistogramSeries>

  constructor (name: string, help: string, upperBounds: readonly number[], series: () => Iterable<HistogramSeries>) {
    this.name = name
    this.help = help
    this.upperBounds = upperBounds.slice().sort((a, b) => a - b)
    this.series = series
  }

  async get (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: ExportedValue[] }> {
    // Sources that share a label set (same instance label) are summed into one series.
    const merged = new Map<string, { labels: Readonly<Record<string, string>>, counts: number[], sum: number, count: number }>()
    for (const s of this.series()) {
      const key = JSON.stringify(Object.entries(s.labels).sort())
      let m = merged.get(key)
      if (m === undefined) {
        m = { labels: s.labels, counts: new Array<number>(s.counts.length).fill(0), sum: 0, count: 0 }
        merged.set(key, m)
      }
      for (let i = 0; i < s.counts.length; i++) m.counts[i] += s.counts[i]
      m.sum += s.sum
      m.count += s.count
    }
    const values: ExportedValue[] = []
    const bucketName = this.name + '_bucket'
    for (const m of merged.values()) {
      let cumulative = 0
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += m.counts[i]
        values.push({ value: cumulative, labels: { le: this.upperBounds[i], ...m.labels }, metricName: bucketName })
      }
      values.push({ value: m.count, labels: { le: '+Inf', ...m.labels }, metricName: bucketName })
      values.push({ value: m.sum, labels: { ...m.labels }, metricName: this.name + '_sum' })
      values.push({ value: m.count, labels: { ...m.labels }, metricName: this.name + '_count' })
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  /** Called by registry.resetMetrics(). The counts belong to the live sources, as for the other metrics: no-op. */
  reset (): void {}
}
