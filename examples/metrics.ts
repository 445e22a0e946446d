// Prometheus metrics (prom-client must be installed): fastify_adaptive_concurrency_* on a
// registry you scrape at /metrics. The metrics route is excluded from the limiter, so scrapes
// are never shed and never counted.
// Run: node --import tsx examples/metrics.ts   then curl http://127.0.0.1:3000/metrics
import Fastify from 'fastify'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import { run } from './run'

const registry = new Registry()
collectDefaultMetrics({ register: registry })

const app = Fastify({ logger: { level: 'info' } })
app.register(adaptiveConcurrency, {
  observability: { instance: 'api', metrics: { registry } },
  statusRoute: true
})

app.get('/metrics', { config: { adaptiveConcurrency: false } }, async (_request, reply) => {
  reply.type(registry.contentType)
  return registry.metrics()
})

app.get('/', async () => {
  await sleep(10)
  return { ok: true }
})

run(app, 'metrics: $URL/metrics, status: $URL/status')
