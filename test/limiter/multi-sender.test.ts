// Many processes, one backend: N Gradient2 instances (each with its own latency classes, as each
// process's limiter has) feed a simulated shared FIFO backend of 16 slots at 25 ms. The standing
// queue they keep must not grow with N, and a process that joins late must get its share.
import t from 'tap'
import { Gradient2Limit, type Gradient2LimitOptions } from '../../lib/algorithms'
import { runMultiSender, seeded, type MultiSenderResult } from './multi-sender-model'

const SLOTS = 16
const SERVICE_MS = 25
const CAPACITY = SLOTS / SERVICE_MS // requests per ms

function run (n: number, load: number, options: Gradient2LimitOptions = {}, seed = 1): MultiSenderResult {
  return runMultiSender({
    senders: Array.from({ length: n }, () => ({ algorithm: new Gradient2Limit(options) })),
    slots: SLOTS,
    serviceMs: SERVICE_MS,
    jitter: 0.2,
    rate: CAPACITY * load,
    durationMs: 12_000,
    warmupMs: 5000,
    rand: seeded(seed)
  })
}

t.test('the backend queue stays about the same from 1 to 8 processes, at 2x and 5x', async t => {
  for (const load of [2, 5]) {
    const one = run(1, load)
    t.ok(one.queue < 0.4 * SLOTS, `${load}x, 1 process: queue ${one.queue.toFixed(1)}`)
    for (const n of [2, 4, 8]) {
      const r = run(n, load)
      const summary = `${load}x, ${n} processes: queue ${r.queue.toFixed(1)} (1 process: ${one.queue.toFixed(1)}), p50 ${r.p50.toFixed(1)} ms, ` +
        `throughput ${(r.throughput / CAPACITY * 100).toFixed(1)} %, limits ${r.limits.map(l => l.toFixed(1)).join(', ')}`
      // Each process adding its own headroom, or probing alone, would add a queue per process.
      t.ok(r.queue <= one.queue + 0.25 * SLOTS, summary)
      t.ok(r.p50 <= 1.6 * SERVICE_MS, `p50 under 1.6 x the service time: ${summary}`)
      t.ok(r.throughput >= 0.9 * CAPACITY, `at least 90 % of capacity served: ${summary}`)
    }
  }
})

t.test('without the per-process headroom and probe rules the queue grows with N (what the test guards)', async t => {
  // The earlier defaults: a floor of 8 per process and 4 of headroom per round trip each. On
  // 16 slots, 4 processes cannot go below 32 in flight together.
  const r = run(4, 2, { minLimit: 8, queueSize: 4, headroom: 0 })
  t.ok(r.queue > SLOTS / 2, `4 processes with minLimit 8: queue ${r.queue.toFixed(1)}`)
})

t.test('a process that joins late gets its share', async t => {
  for (const load of [2, 5]) {
    const senders = [0, 0, 0, 8000].map(joinAt => ({ joinAt, algorithm: new Gradient2Limit() }))
    const r = runMultiSender({ senders, slots: SLOTS, serviceMs: SERVICE_MS, jitter: 0.2, rate: CAPACITY * load, durationMs: 20_000, warmupMs: 12_000, rand: seeded(3) })
    const others = (r.limits[0] + r.limits[1] + r.limits[2]) / 3
    const summary = `${load}x: joiner ${r.limits[3].toFixed(1)}, the others ${r.limits.slice(0, 3).map(l => l.toFixed(1)).join(', ')}; queue ${r.queue.toFixed(1)}`
    t.ok(r.limits[3] >= 0.5 * others, summary)
    t.ok(r.queue <= 0.75 * SLOTS, `no standing queue after the join: ${summary}`)
  }
})
