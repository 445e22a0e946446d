// Cost of the diagnostics_channel observer per event, with and without subscribers.
// Run: node --import tsx benchmarks/diagnostics/publish-cost.ts
//
// Three variants, alternated over several rounds (median reported) so that CPU frequency and
// GC noise hit all of them alike:
// - baseline:        an observer whose methods do nothing (the cost of the call itself)
// - no subscribers:  createChannelsObserver(), nobody subscribed (the hasSubscribers guard)
// - one subscriber:  the same, with a no-op subscriber on every channel (message + publish)
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import {
  createChannelsObserver, LIMIT_CHANNEL, REJECT_CHANNEL, SAMPLE_CHANNEL
} from '../../lib/observability/channels'
import type { LimiterObserver } from '../../lib/limiter/events'

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

const variants = ['baseline', 'no subscribers', 'one subscriber'] as const
const results: Record<string, Record<Kind, number[]>> = {}
for (const v of variants) results[v] = { sample: [], reject: [], limit: [] }

for (let round = 0; round < ROUNDS; round++) {
  for (const kind of ['sample', 'reject', 'limit'] as Kind[]) {
    results.baseline[kind].push(run(baseline, kind))
    results['no subscribers'][kind].push(run(observer, kind))
    for (const name of CHANNELS) subscribe(name, noopSubscriber)
    results['one subscriber'][kind].push(run(observer, kind))
    for (const name of CHANNELS) unsubscribe(name, noopSubscriber)
  }
}

console.log(`node ${process.version}, ${ITERATIONS} events x ${ROUNDS} rounds, median ns/event`)
console.log('| variant | onSample | onReject | onLimitChange |')
console.log('|---|---|---|---|')
for (const v of variants) {
  const r = results[v]
  console.log(`| ${v} | ${median(r.sample).toFixed(1)} | ${median(r.reject).toFixed(1)} | ${median(r.limit).toFixed(1)} |`)
}
console.log(`(subscriber calls: ${received})`)
