import t from 'tap'
import Fastify from 'fastify'
import plugin from '../../index'
import { kInternal } from '../../lib/internal'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'

// The gate's clock is injected and a CPU-bound handler moves it by its cost, so a loaded machine
// that deschedules the process between two turns changes nothing: only the burns count.
let clock = 0
const loop = { now: () => clock }

function burn (ms: number): void {
  clock += ms
}

async function build (opts: FastifyAdaptiveConcurrencyOptions) {
  const app = Fastify()
  await app.register(plugin, { algorithm: { name: 'fixed', options: { limit: 100 } }, ...opts, [kInternal]: { loop } } as FastifyAdaptiveConcurrencyOptions)
  app.get('/cpu', async () => { burn(15); return { ok: true } })
  await app.ready()
  return app
}

// inject() hands every request to the router without returning to the event loop, exactly as
// libuv's poll phase hands over a burst of readable sockets, so the turn's age grows by 15 ms
// per request.
t.test('one long turn is a blip, not overload: nothing is shed', async t => {
  const app = await build({ eventLoop: { maxWait: 20 } })
  t.teardown(() => app.close())
  const replies = await Promise.all(Array.from({ length: 4 }, async () => await app.inject('/cpu')))
  t.same(replies.map(r => r.statusCode), [200, 200, 200, 200])
})

t.test('back-to-back long turns: requests queued past maxWait are shed with reason event-loop', async t => {
  // maxWait 40: the fourth request of a turn waits 45 ms (three 15 ms burns), and the two turns
  // are back to back (no time passes between them on the injected clock).
  const app = await build({ eventLoop: { maxWait: 40 } })
  t.teardown(() => app.close())
  const burst = async () => await Promise.all(Array.from({ length: 4 }, async () => await app.inject('/cpu')))
  const first = await burst() // a 60 ms turn: served, but it marks a queue
  t.same(first.map(r => r.statusCode), [200, 200, 200, 200])
  // inject() never yields to the event loop between requests; let the loop finish this turn,
  // as it would between two polls of a busy server.
  await new Promise(resolve => setImmediate(resolve))
  const replies = await burst() // starts right after: a sustained queue
  const codes = replies.map(r => r.statusCode)
  t.equal(codes[0], 200, `the first request of the turn waited for nobody: ${codes.join(',')}`)
  const shed = replies.filter(r => r.statusCode === 503)
  t.ok(shed.length >= 1, 'requests behind it are shed')
  for (const r of shed) {
    t.equal(r.json().code, 'FST_CONCURRENCY_LIMIT_EXCEEDED')
    t.match(r.json().message, /event-loop/)
    t.equal(r.headers['retry-after'], '1')
  }
  t.equal(app.concurrency.inflight, 0)
  t.equal(app.concurrency.rejected, shed.length)
  t.equal(app.concurrency.admitted, 8 - shed.length)
})

t.test('eventLoop: false leaves CPU-bound bursts to the concurrency limit alone', async t => {
  const app = await build({ eventLoop: false })
  t.teardown(() => app.close())
  for (let i = 0; i < 2; i++) {
    const replies = await Promise.all(Array.from({ length: 4 }, async () => await app.inject('/cpu')))
    t.same(replies.map(r => r.statusCode), [200, 200, 200, 200])
  }
})

t.test('a bad eventLoop option fails ready()', async t => {
  const app = Fastify()
  app.register(plugin, { eventLoop: { maxWait: -1 } })
  await t.rejects(async () => { await app.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /eventLoop\.maxWait/ })
})

t.test('with partitions, the first-declared one is shed only past 2 x maxWait: less important traffic goes first', async t => {
  const app = Fastify()
  await app.register(plugin, {
    algorithm: { name: 'fixed', options: { limit: 100 } }, eventLoop: { maxWait: 100 }, partitions: { shares: { critical: 0.5, batch: 0.5 } }, [kInternal]: { loop }
  } as FastifyAdaptiveConcurrencyOptions)
  app.get('/critical', { config: { adaptiveConcurrency: { partition: 'critical' } } }, async () => { burn(110); return { ok: true } })
  app.get('/batch', { config: { adaptiveConcurrency: { partition: 'batch' } } }, async () => { burn(110); return { ok: true } })
  await app.ready()
  t.teardown(() => app.close())
  const turn = async (paths: string[]) => {
    const replies = await Promise.all(paths.map(async (url) => await app.inject(url)))
    await new Promise(resolve => setImmediate(resolve)) // end the loop turn, as between two polls
    return replies.map(r => r.statusCode)
  }
  // Two requests a turn: the first waits for nobody, the second for the first one's 110 ms burn:
  // past maxWait (100), and short of 2 x maxWait (200).
  t.same(await turn(['/batch', '/batch']), [200, 200], 'one long turn: a blip, nothing shed')
  t.same(await turn(['/batch', '/critical']), [200, 200], 'back to back: critical is still admitted')
  t.same(await turn(['/batch', '/batch']), [200, 503], 'batch is shed')
  t.equal(app.concurrency.inflight, 0)
  // A refusal by the gate counts against the request's partition, as the limiter's own do.
  const partitions = app.concurrency.snapshot().partitions
  t.same([partitions?.batch.rejected, partitions?.critical.rejected, app.concurrency.rejected], [1, 0, 1])
})
