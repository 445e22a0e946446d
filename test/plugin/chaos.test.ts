// 5,000 requests over real sockets with random client aborts, thrown errors, 5xx, streams,
// hijacks, bypasses and slow responses. Whatever happens, in-flight must return to 0 and the
// counters must add up. The mix is seeded, so a failure can be replayed.
import t from 'tap'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import { Agent, request } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { until } from './helpers'

const TOTAL = 5000
const CONCURRENCY = 48
// 'partial' sends its headers and a first chunk, then hangs until the client aborts: a
// guaranteed abort in the middle of a response (timer aborts may land before the server sees them).
const KINDS = ['ok', 'ok', 'ok', 'slow', 'slow', 'fail', 'throw', 'stream', 'partial', 'hijack', 'missing', 'bypass'] as const

/** mulberry32: a tiny seeded PRNG, so the same seed replays the same chaos. */
function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const tick = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

t.test(`chaos: ${TOTAL} requests end with in-flight 0 and the counters adding up`, async t => {
  const seed = Number(process.env.CHAOS_SEED ?? 20240611)
  const random = prng(seed)
  const app = Fastify()
  let seen = 0
  let goneBeforeUs = 0
  app.addHook('onRequest', (_req, reply, done) => {
    seen++
    if (reply.raw.destroyed) goneBeforeUs++
    done()
  })
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'aimd', options: { initialLimit: 16, minLimit: 4, maxLimit: 40 } },
    bypass: req => req.url === '/bypass'
  })
  app.get('/ok', async () => 'ok')
  app.get('/slow', async () => { await tick(1 + Math.floor(random() * 4)); return 'slow' })
  app.get('/fail', async (_req, reply) => reply.code(503).send('unavailable'))
  app.get('/throw', async () => { await tick(1); throw new Error('boom') })
  app.get('/stream', async (_req, reply) => reply.send(Readable.from(['a', 'b', 'c'])))
  app.get('/partial', async (_req, reply) => {
    const body = new Readable({ read () {} })
    body.push('first chunk')
    return reply.send(body)
  })
  app.get('/hijack', (_req, reply) => {
    reply.hijack()
    setImmediate(() => reply.raw.end('hijacked'))
  })
  app.get('/bypass', async () => 'bypassed')
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const agent = new Agent({ connections: CONCURRENCY, keepAliveTimeout: 1000 })
  t.teardown(() => agent.close())

  const statuses = new Map<number | string, number>()
  const count = (key: number | string) => statuses.set(key, (statuses.get(key) ?? 0) + 1)
  let next = 0
  async function worker (): Promise<void> {
    while (next < TOTAL) {
      next++
      const kind = KINDS[Math.floor(random() * KINDS.length)]
      const abort = kind === 'partial' || random() < 0.15 ? new AbortController() : undefined
      if (abort !== undefined && kind !== 'partial') setTimeout(() => abort.abort(), Math.floor(random() * 4))
      try {
        const res = await request(`http://127.0.0.1:${port}/${kind}`, { dispatcher: agent, signal: abort?.signal })
        if (kind === 'partial' && res.statusCode === 200) {
          abort?.abort()
          count('partial-aborted')
          continue
        }
        await res.body.dump()
        count(res.statusCode)
      } catch {
        count('aborted')
      }
    }
  }
  const started = Date.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  await until(() => app.concurrency.inflight === 0, 10000)
  const c = app.concurrency
  t.comment(`seed ${seed}: ${TOTAL} requests in ${Date.now() - started} ms; client saw ${JSON.stringify(Object.fromEntries(statuses))}`)
  t.comment(`server: ${JSON.stringify(c.snapshot())}`)

  t.equal(c.inflight, 0, 'in-flight returns to 0')
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored, 'admitted = succeeded + dropped + ignored')
  const queue = c.snapshot().queue
  t.equal(seen, c.admitted + c.rejected + c.bypassed + (queue?.cancelled ?? 0) + c.abandoned + goneBeforeUs, 'every request that reached onRequest is counted once')
  // With the default queue, a full limit first makes requests wait, then refuses them.
  t.ok(c.rejected > 0 || (queue?.enqueued ?? 0) > 0, 'the limit was reached (requests queued or were refused)')
  t.ok((statuses.get('partial-aborted') ?? 0) > 0, 'clients aborted in the middle of responses')
  // The permit ends at the headers (the server's work), so an abort after them changes nothing
  // in the accounting; the response is counted as sending until its connection closes.
  await until(() => c.longLived.sending === 0, 10000)
  t.equal(c.longLived.sending, 0, 'every response aborted after its headers left the sending count')
  t.ok(c.dropped > 0 && c.succeeded > 0, 'both outcomes happened')
  t.ok((statuses.get(503) ?? 0) >= 1)
  t.equal([...statuses.values()].reduce((a, b) => a + b, 0), TOTAL, 'every client request completed or aborted')
})
