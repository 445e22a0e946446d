// The plugin with its defaults (gradient2, 503 + Retry-After when over the limit) and the
// status route: JSON for tools, a live page with charts for a browser.
// Run: node --import tsx examples/basic.ts   then open http://127.0.0.1:3000/status
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import { run } from './run'

const app = Fastify({ logger: { level: 'info' } })
app.register(adaptiveConcurrency, { statusRoute: true })

// A handler whose latency grows with concurrency, like a service with a small connection pool.
app.get('/', async () => {
  await sleep(5 + app.concurrency.inflight * 2)
  return { hello: 'world' }
})

run(app, 'try: autocannon -c 200 -d 20 $URL/  and watch $URL/status in a browser')
