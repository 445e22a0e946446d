// Your own limit algorithm: any object with name, limit, onSample() and state(). This one is a
// deliberately simple latency target: +1 while p-latency stays under 20 ms, halve on a drop or
// when a sample is slower than 50 ms, within [2, 100].
// Run: node --import tsx examples/custom-algorithm.ts
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import type { LimitAlgorithm, Sample } from '../algorithms' // in your app: from 'fastify-adaptive-concurrency/algorithms'
import { run } from './run'

class LatencyTarget implements LimitAlgorithm {
  readonly name = 'latency-target'
  limit = 10
  private lastRtt = 0

  onSample (sample: Sample): void {
    this.lastRtt = sample.rtt
    if (sample.dropped || sample.rtt > 50) this.limit = Math.max(2, Math.floor(this.limit / 2))
    // Grow only when the limit is actually used, or it would climb without evidence.
    else if (sample.rtt < 20 && sample.inflight >= this.limit / 2) this.limit = Math.min(100, this.limit + 1)
  }

  state (): Record<string, number | string> {
    return { limit: this.limit, lastRtt: this.lastRtt }
  }
}

const app = Fastify({ logger: { level: 'info' } })
app.register(adaptiveConcurrency, { algorithm: new LatencyTarget(), statusRoute: true })

app.get('/', async () => {
  await sleep(5 + app.concurrency.inflight)
  return { ok: true }
})

run(app, 'status: $URL/status')
