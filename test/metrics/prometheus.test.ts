import { test } from 'tap'
import * as prom from 'prom-client'
import { Registry } from 'prom-client'
import { createPrometheusMetrics, loadPromClient, METRIC_PREFIX, type PartitionGaugeValues } from '../../lib/metrics/prometheus'
import type { LimiterStats } from '../../lib/limiter/events'

type MutableStats = { -readonly [K in keyof LimiterStats]: LimiterStats[K] }

function stats (over: Partial<MutableStats> = {}): MutableStats {
  return { limit: 10, inflight: 0, admitted: 0, rejected: 0, succeeded: 0, dropped: 0, ignored: 0, bypassed: 0, ...over }
}

/** Scrape the text exposition and index every sample line by `name{labels}`. */
async function scrape (registry: Registry): Promise<Map<string, number>> {
  const text = await registry.metrics()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i).replaceAll(METRIC_PREFIX, ''), Number(line.slice(i + 1)))
  }
  return out
}

test('values after known traffic, single app without partitions', async t => {
  const registry = new Registry()
  const s = stats({ limit: 17, inflight: 2, bypassed: 4 })
  let queued = 3
  const m = createPrometheusMetrics({ registry, stats: s, queueLength: () => queued })
  const o = m.observer
  for (let i = 0; i < 5; i++) o.onAdmit!(undefined)
  o.onReject!('limit', undefined)
  o.onReject!('limit', undefined)
  o.onReject!('queue-full', undefined)
  o.onRelease!('success', 3, undefined)
  o.onRelease!('success', 3, undefined)
  o.onRelease!('drop', 3, undefined)
  o.onRelease!('ignore', 3, undefined)
  o.onSample!({ rtt: 2, inflight: 1, dropped: false }, undefined) //      0.002 s -> le 0.0025
  o.onSample!({ rtt: 40, inflight: 1, dropped: false }, undefined) //     0.040 s -> le 0.05
  o.onSample!({ rtt: 20_000, inflight: 1, dropped: true }, undefined) // 20 s -> only +Inf

  const v = await scrape(registry)
  t.equal(v.get('limit{instance="default"}'), 17)
  t.equal(v.get('inflight{instance="default"}'), 2)
  t.equal(v.get('queue_length{instance="default"}'), 3)
  t.equal(v.get('admitted_total{instance="default"}'), 5)
  t.equal(v.get('rejected_total{instance="default",reason="limit"}'), 2)
  t.equal(v.get('rejected_total{instance="default",reason="queue-full"}'), 1)
  t.equal(v.get('succeeded_total{instance="default"}'), 2)
  t.equal(v.get('dropped_total{instance="default"}'), 1)
  t.equal(v.get('ignored_total{instance="default"}'), 1)
  t.equal(v.get('bypassed_total{instance="default"}'), 4)
  t.equal(v.get('sample_rtt_seconds_bucket{le="0.001",instance="default"}'), 0)
  t.equal(v.get('sample_rtt_seconds_bucket{le="0.0025",instance="default"}'), 1)
  t.equal(v.get('sample_rtt_seconds_bucket{le="0.05",instance="default"}'), 2)
  t.equal(v.get('sample_rtt_seconds_bucket{le="10",instance="default"}'), 2)
  t.equal(v.get('sample_rtt_seconds_bucket{le="+Inf",instance="default"}'), 3)
  t.equal(v.get('sample_rtt_seconds_count{instance="default"}'), 3)
  t.ok(Math.abs(v.get('sample_rtt_seconds_sum{instance="default"}')! - 20.042) < 1e-9)
  t.notOk([...v.keys()].some(k => k.startsWith('partition_')), 'no partition series without partitions')

  // Gauges are live: a later scrape sees the new values without any observer call.
  s.limit = 20
  s.inflight = 0
  queued = 0
  const w = await scrape(registry)
  t.equal(w.get('limit{instance="default"}'), 20)
  t.equal(w.get('inflight{instance="default"}'), 0)
  t.equal(w.get('queue_length{instance="default"}'), 0)
  t.equal(w.get('admitted_total{instance="default"}'), 5, 'counters are not reset by a scrape')
})

test('partition labels on counters, histogram and partition gauges', async t => {
  const registry = new Registry()
  const parts: PartitionGaugeValues[] = [{ name: 'live', limit: 8, inflight: 3 }, { name: 'batch', limit: 2, inflight: 1 }]
  const { observer: o } = createPrometheusMetrics({ registry, stats: stats(), partitions: () => parts, instance: 'api' })
  o.onAdmit!('live')
  o.onAdmit!('live')
  o.onAdmit!('batch')
  o.onReject!('partition', 'batch')
  o.onRelease!('success', 1, 'live')
  o.onSample!({ rtt: 1, inflight: 1, dropped: false }, 'live')
  const v = await scrape(registry)
  t.equal(v.get('admitted_total{instance="api",partition="live"}'), 2)
  t.equal(v.get('admitted_total{instance="api",partition="batch"}'), 1)
  t.equal(v.get('admitted_total{instance="api"}'), 0, 'the unpartitioned series exists at 0')
  t.equal(v.get('rejected_total{instance="api",partition="batch",reason="partition"}'), 1)
  t.equal(v.get('succeeded_total{instance="api",partition="live"}'), 1)
  t.equal(v.get('sample_rtt_seconds_count{instance="api",partition="live"}'), 1)
  t.equal(v.get('partition_limit{instance="api",partition="live"}'), 8)
  t.equal(v.get('partition_inflight{instance="api",partition="batch"}'), 1)
  t.equal(v.get('queue_length{instance="api"}'), 0, 'no queue reports 0')
})

test('apps sharing a registry reuse the metrics, told apart by instance, summed when equal', async t => {
  const registry = new Registry()
  const a = createPrometheusMetrics({ registry, stats: stats({ limit: 5, inflight: 1 }), instance: 'a' })
  const b = createPrometheusMetrics({ registry, stats: stats({ limit: 7, inflight: 2 }), instance: 'b' })
  const b2 = createPrometheusMetrics({ registry, stats: stats({ limit: 1, inflight: 1 }), instance: 'b' })
  a.observer.onAdmit!(undefined)
  b.observer.onAdmit!(undefined)
  b2.observer.onAdmit!(undefined)
  b.observer.onSample!({ rtt: 1, inflight: 1, dropped: false }, undefined)
  b2.observer.onSample!({ rtt: 5, inflight: 1, dropped: false }, undefined) // exactly on the 0.005 bound
  const text = await registry.metrics()
  t.equal(text.split('\n').filter(l => l === `# TYPE ${METRIC_PREFIX}limit gauge`).length, 1, 'registered once')
  let v = await scrape(registry)
  t.equal(v.get('limit{instance="a"}'), 5)
  t.equal(v.get('limit{instance="b"}'), 8, 'same instance label: summed')
  t.equal(v.get('inflight{instance="b"}'), 3)
  t.equal(v.get('admitted_total{instance="a"}'), 1)
  t.equal(v.get('admitted_total{instance="b"}'), 2)
  t.equal(v.get('sample_rtt_seconds_count{instance="b"}'), 2, 'histograms of one instance label are merged')
  t.equal(v.get('sample_rtt_seconds_bucket{le="0.001",instance="b"}'), 1)
  t.equal(v.get('sample_rtt_seconds_bucket{le="0.005",instance="b"}'), 2, 'a value on a bound counts in that bucket')
  t.equal(text.split('\n').filter(l => l.startsWith(`${METRIC_PREFIX}sample_rtt_seconds_count{instance="b"}`)).length, 1, 'one line per label set')

  registry.resetMetrics()
  v = await scrape(registry)
  t.equal(v.get('admitted_total{instance="b"}'), 2, 'values belong to the sources: resetMetrics does not erase them')
  t.equal(v.get('sample_rtt_seconds_count{instance="b"}'), 2)

  b.close()
  b2.close()
  v = await scrape(registry)
  t.equal(v.get('limit{instance="a"}'), 5)
  t.notOk(v.has('limit{instance="b"}'), 'closed apps disappear')
  t.notOk(v.has('admitted_total{instance="b"}'))
  t.notOk(v.has('sample_rtt_seconds_count{instance="b"}'), 'histogram series removed on close')

  // A new app after a close reuses the still-registered metrics.
  const c = createPrometheusMetrics({ registry, stats: stats({ limit: 9 }), instance: 'c' })
  v = await scrape(registry)
  t.equal(v.get('limit{instance="c"}'), 9)
  a.close()
  c.close()
})

test('a foreign metric with our name is a clear error', async t => {
  const registry = new Registry()
  // eslint-disable-next-line no-new
  new prom.Gauge({ name: METRIC_PREFIX + 'limit', help: 'mine', registers: [registry] })
  t.throws(() => createPrometheusMetrics({ registry, stats: stats() }), {
    code: 'FST_CONCURRENCY_INVALID_OPTION',
    message: /already has a metric named "fastify_adaptive_concurrency_limit"/
  })
})

test('default registry and custom buckets', async t => {
  t.teardown(() => prom.register.clear())
  const m = createPrometheusMetrics({ stats: stats(), rttBuckets: [0.1, 1] }, loadPromClient())
  m.observer.onSample!({ rtt: 50, inflight: 1, dropped: false }, undefined)
  const v = await scrape(prom.register)
  t.equal(v.get('sample_rtt_seconds_bucket{le="0.1",instance="default"}'), 1)
  t.notOk(v.has('sample_rtt_seconds_bucket{le="0.001",instance="default"}'))
  m.close()
})

test('prom-client is loaded lazily with a clear error when missing', async t => {
  t.equal(loadPromClient().Registry, Registry, 'default loader finds the installed package')
  t.throws(() => loadPromClient(() => require('prom-client-is-not-installed')), {
    code: 'FST_CONCURRENCY_MISSING_DEPENDENCY',
    // The option is `observability.metrics` now: the message must name it as users write it.
    message: /"prom-client" is required by the "observability\.metrics" option.*npm install prom-client/
  })
  const boom = new Error('broken install')
  t.throws(() => loadPromClient(() => { throw boom }), boom, 'other load errors are not disguised')
})

test('long-lived requests open now, by kind and by route, read at scrape time', async t => {
  const registry = new Registry()
  const ll = { open: 6, websockets: 3, waiting: 2, sending: 1, admitted: 9, routes: { 'GET /ws': { open: 3, longLived: 'no' as const }, 'GET /poll': { open: 2, longLived: 'declared' as const } } }
  createPrometheusMetrics({ registry, stats: stats(), instance: 'api', longLived: () => ll })
  createPrometheusMetrics({ registry, stats: stats(), instance: 'plain' })
  const v = await scrape(registry)
  t.equal(v.get('longlived_open{instance="api",kind="websocket"}'), 3)
  t.equal(v.get('longlived_open{instance="api",kind="waiting"}'), 2)
  t.equal(v.get('longlived_open{instance="api",kind="sending"}'), 1)
  t.equal(v.get('longlived_route_open{instance="api",route="GET /ws"}'), 3)
  t.equal(v.get('longlived_route_open{instance="api",route="GET /poll"}'), 2)
  t.notOk([...v.keys()].some(k => k.startsWith('longlived') && k.includes('plain')), 'a source without long-lived counts reports none')
  ll.websockets = 0
  ll.routes['GET /ws'].open = 0
  const w = await scrape(registry)
  t.equal(w.get('longlived_open{instance="api",kind="websocket"}'), 0, 'live')
  t.equal(w.get('longlived_route_open{instance="api",route="GET /ws"}'), 0)
})
