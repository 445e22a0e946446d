// Per-request cost of the observers the plugin attaches, measured through the real Limiter:
// one tryAcquire + release('success') per iteration, with a fixed algorithm so the limit never
// moves. Each variant adds one observer to an otherwise bare limiter; the column is the extra
// ns per request over the bare limiter. Variants are alternated over rounds (median reported).
// Run: node --import tsx benchmarks/observability/observer-cost.ts
import { Registry } from 'prom-client'
import { FixedLimit } from '../../lib/algorithms/fixed'
import { Limiter } from '../../lib/limiter/limiter'
import type { LimiterObserver } from '../../lib/limiter/events'
import { History } from '../../lib/observability/history'
import { createChannelsObserver } from '../../lib/observability/channels'
import { createSheddingLog } from '../../lib/observability/shedding-log'
import { createPrometheusMetrics } from '../../lib/metrics/prometheus'

const ITERATIONS = Number(process.env.ITERATIONS ?? 1_000_000)
const ROUNDS = Number(process.env.ROUNDS ?? 7)
const silent = { debug () {}, warn () {}, isLevelEnabled: () => false }

type Build = (limiter: Limiter) => LimiterObserver | undefined
const variants: Record<string, Build> = {
  'bare limiter': () => undefined,
  history: l => new History({ stats: l }).observer,
  channels: () => createChannelsObserver(),
  'shedding log': l => createSheddingLog({ logger: silent, stats: l }),
  prometheus: l => createPrometheusMetrics({ registry: new Registry(), stats: l }).observer,
  'history+channels+log': l => {
    const h = new History({ stats: l })
    const c = createChannelsObserver()
    const s = createSheddingLog({ logger: silent, stats: l })
    l.addObserver(h.observer)
    l.addObserver(c)
    return s
  }
}

function run (build: Build): number {
  const limiter = new Limiter({ algorithm: new FixedLimit({ limit: 1000 }) })
  const o = build(limiter)
  if (o !== undefined) limiter.addObserver(o)
  const start = process.hrtime.bigint()
  for (let i = 0; i < ITERATIONS; i++) {
    const p = limiter.tryAcquire(undefined)
    if (typeof p !== 'string') limiter.release(p, 'success')
  }
  return Number(process.hrtime.bigint() - start) / ITERATIONS
}

const results: Record<string, number[]> = {}
for (const name of Object.keys(variants)) results[name] = []
for (let r = 0; r < ROUNDS; r++) for (const [name, build] of Object.entries(variants)) results[name].push(run(build))
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const bare = median(results['bare limiter'])
console.log(`${ITERATIONS} requests x ${ROUNDS} rounds, node ${process.version}`)
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs)
  console.log(`${name.padEnd(22)} ${m.toFixed(1).padStart(7)} ns/request  (+${(m - bare).toFixed(1)} ns)`)
}
