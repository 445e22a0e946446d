// Cost of the diagnostics_channel observer per event, with and without subscribers.
// Run: node --import tsx benchmarks/diagnostics/publish-cost.ts
//
// Three variants, alternated over several rounds (median reported) so that CPU frequency and
// GC noise hit all of them alike:
// - baseline:        an observer whose methods do nothing (the cost of the call itself)
// - no subscribers:  createChannelsObserver(), nobody subscribed (the hasSubscribers guard)
// - one subscriber:  the same, with a no-op subscriber on every channel (message + publish)
// - prometheus:      the metrics observer (lib/metrics), for comparison (it has no onLimitChange;
//                    a no-op stands in, so that column is the call cost only)
// - prom-client observe: what onSample would cost with prom-client's own Histogram.observe()
//                    (the reason lib/metrics/preaggregated-histogram.ts exists)
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  createChannelsObserver, LIMIT_CHANNEL, REJECT_CHANNEL, SAMPLE_CHANNEL
} from '../../lib/observability/channels'
import type { LimiterObserver } from '../../lib/limiter/events'
import { Histogram, Registry } from 'prom-client'
import { createPrometheusMetrics } from '../../lib/metrics/prometheus'

const ITERATIONS = Number(process.env.ITERATIONS ?? 2_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const CHANNELS = [LIMIT_CHANNEL, REJECT_CHANNEL, SAMPLE_CHANNEL]

let received = 0
const noopSubscriber = (): void => { received++ }
const baseline: LimiterObserver = {
  onLimitChange () {},
  onReject () {},
  onSample () {}
}
const observer = createChannelsObserver()
const stats = { limit: 10, inflight: 0, admitted: 0, rejected: 0, succeeded: 0, dropped: 0, ignored: 0, bypassed: 0 }
const metrics = createPrometheusMetrics({ registry: new Registry(), stats }).observer
const prometheus: LimiterObserver = { onSample: metrics.onSample, onReject: metrics.onReject, onLimitChange () {} }
const promHistogram = new Histogram({
  name: 'bench_rtt_seconds',
  help: 'bench',
  labelNames: ['instance', 'partition'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [new Registry()]
})
const promLabels = { instance: 'default' }
const promClientObserve: LimiterObserver = {
  onSample (s) { promHistogram.observe(promLabels, s.rtt / 1000) },
  onReject () {},
  onLimitChange () {}
}
const sample = { rtt: 12, inflight: 4, dropped: false }

type Kind = 'sample' | 'reject' | 'limit'

/** ns per event for one run of ITERATIONS events of one kind. */
function run (o: LimiterObserver, kind: Kind): number {
  const start = process.hrtime.bigint()
  if (kind === 'sample') for (let i = 0; i < ITERATIONS; i++) o.onSample!(sample, undefined)
  else if (kind === 'reject') for (let i = 0; i < ITERATIONS; i++) o.onReject!('limit', undefined)
  else for (let i = 0; i < ITERATIONS; i++) o.onLimitChange!(i, i + 1, 'sample')
  return Number(process.hrtime.bigint() - start) / ITERATIONS
}

function median (xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const variants = ['baseline', 'no subscribers', 'one subscriber', 'prometheus', 'prom-client observe'] as const
const results: Record<string, Record<Kind, number[]>> = {}
for (const v of variants) results[v] = { sample: [], reject: [], limit: [] }

for (let round = 0; round < ROUNDS; round++) {
  for (const kind of ['sample', 'reject', 'limit'] as Kind[]) {
    results.baseline[kind].push(run(baseline, kind))
    results['no subscribers'][kind].push(run(observer, kind))
    for (const name of CHANNELS) subscribe(name, noopSubscriber)
    results['one subscriber'][kind].push(run(observer, kind))
    for (const name of CHANNELS) unsubscribe(name, noopSubscriber)
    results.prometheus[kind].push(run(prometheus, kind))
    if (kind === 'sample') results['prom-client observe'][kind].push(run(promClientObserve, kind))
  }
}

console.log(`node ${process.version}, ${ITERATIONS} events x ${ROUNDS} rounds, median ns/event`)
console.log('| variant | onSample | onReject | onLimitChange |')
console.log('|---|---|---|---|')
for (const v of variants) {
  const r = results[v]
  const cell = (xs: number[]): string => xs.length === 0 ? '-' : median(xs).toFixed(1)
  console.log(`| ${v} | ${cell(r.sample)} | ${cell(r.reject)} | ${cell(r.limit)} |`)
}
console.log(`(subscriber calls: ${received})`)
