// With @fastify/under-pressure: register it first, so its rejections (event-loop delay, memory)
// never take a permit; while it reports pressure, completed requests count as drops and the
// limit backs off. Its health route is excluded from the limiter.
// Run: node --import tsx examples/under-pressure.ts
import Fastify from 'fastify'
import underPressure from '@fastify/under-pressure'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import { run } from './run'

const app = Fastify({ logger: { level: 'info' } })
app.register(underPressure, {
  maxEventLoopDelay: 200,
  exposeStatusRoute: { url: '/health', routeOpts: { config: { adaptiveConcurrency: false } } }
})
app.register(adaptiveConcurrency, { statusRoute: '/concurrency' })

app.get('/', async () => {
  await sleep(10)
  return { ok: true }
})

run(app, 'status: $URL/concurrency (includes under-pressure readings), health: $URL/health')
