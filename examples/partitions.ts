// Partitions: a share of the concurrency limit kept for each class of traffic, and a small wait
// queue that serves the most important class first.
//
// - `checkout` (declared first: the most important) is guaranteed half of the limit, `browse` 30 %,
//   `batch` 20 %. Below the limit anyone may borrow idle permits; at the limit a request is admitted
//   only while its partition is below its guarantee, so a flood of report downloads cannot take the
//   permits checkout needs.
// - Per route: `/checkout` and `/reports` name their partition in route config (it wins over the
//   `partitions.choose` function). Everything else goes through `choose(request)`: crawlers to `batch`,
//   the rest to `browse`. A client can only lower its own priority by claiming to be a crawler; if
//   your classes grant *more* service (a paid tier), derive them from a verified identity instead.
// - The queue holds up to 20 requests for at most 300 ms; when a permit frees up, a waiting
//   checkout request is served before a waiting browse one, which goes before batch.
//
// What a client sees under load: 200 as usual, possibly a little later (it waited in the queue);
// or 503 with `Retry-After` (seconds, estimated from the queue with `rejection.retryAfter: 'auto'`) and a
// body naming the reason, e.g. `{"code":"FST_CONCURRENCY_LIMIT_EXCEEDED","message":"Service
// overloaded: concurrency limit reached (queue-timeout)"}`; the reasons here are `partition` (its
// class used its share at the limit), `queue-full` and `queue-timeout`. The status route shows, per
// partition, `limit` (permits guaranteed now), `inflight`, `admitted` and `rejected`.
// Partitions share out the concurrency limit only: the event-loop gate (on by default) runs first
// and sheds every class alike (reason `event-loop`) while the process itself is CPU-starved, which
// can happen in the first second of a flood on a small machine.
//
// Run: node --import tsx examples/partitions.ts
//      npx autocannon -c 100 -d 20 http://127.0.0.1:3000/reports   (batch floods the server)
//      curl -i http://127.0.0.1:3000/checkout                      (checkout still answers 200)
//      curl http://127.0.0.1:3000/status                           (see partitions.*)
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import { run } from './run'

const app = Fastify({ logger: { level: 'info' } })
app.register(adaptiveConcurrency, {
  // A fixed limit of 10 keeps the shares easy to see (5 / 3 / 2 permits); drop this line to let
  // the default algorithm (gradient2) learn the limit from latency.
  algorithm: { name: 'fixed', options: { limit: 10 } },
  partitions: {
    shares: { checkout: 0.5, browse: 0.3, batch: 0.2 },
    choose: (request) => /bot|crawler|spider/i.test(request.headers['user-agent'] ?? '') ? 'batch' : 'browse'
  },
  queue: { size: 20, timeout: 300, order: 'lifo' },
  rejection: { retryAfter: 'auto' },
  statusRoute: true
})

app.post('/checkout', { config: { adaptiveConcurrency: { partition: 'checkout' } } }, async () => {
  await sleep(20)
  return { ordered: true }
})

app.get('/reports', { config: { adaptiveConcurrency: { partition: 'batch' } } }, async () => {
  await sleep(200) // slow and unimportant: exactly what should not crowd out checkout
  return { report: 'ready' }
})

app.get('/', async () => {
  await sleep(20)
  return { page: 'home' }
})

run(app, [
  'partitions: checkout 50 % (served first), browse 30 %, batch 20 %; limit fixed at 10, queue 20 x 300 ms',
  'flood batch:  npx autocannon -c 100 -d 20 $URL/reports',
  'meanwhile:    curl -i -X POST $URL/checkout   -> 200 (checkout keeps its 5 permits)',
  '              curl -i $URL/reports            -> 200 or 503 + Retry-After (reason: partition / queue-full / queue-timeout)',
  'per class:    curl $URL/status                -> partitions.<name>: limit, inflight, admitted, rejected'
].join('\n'))
