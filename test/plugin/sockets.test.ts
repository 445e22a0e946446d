// Over real sockets, where Fastify differs from inject: client aborts, aborted streams, hijack,
// errors and 404s, and requests other plugins reject before or around our hook.
import t from 'tap'
import http from 'node:http'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { latch, recordingAlgorithm, until } from './helpers'

interface Res { status: number, headers: http.IncomingHttpHeaders, body: string }

function get (port: number, path: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    http.get({ port, path, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    }).on('error', reject)
  })
}

/** Send a request and destroy the socket once `when` resolves. */
function abortWhen (port: number, path: string, when: Promise<unknown>): void {
  const req = http.get({ port, path, agent: false })
  req.on('error', () => {})
  when.then(() => req.destroy(), () => req.destroy())
}

async function listen (t: tap.Test, app: FastifyInstance): Promise<number> {
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

function settled (t: tap.Test, app: FastifyInstance, expect: { admitted: number, succeeded: number, dropped: number, ignored: number, rejected?: number }): void {
  const c = app.concurrency
  t.same(
    { inflight: c.inflight, admitted: c.admitted, succeeded: c.succeeded, dropped: c.dropped, ignored: c.ignored, rejected: c.rejected },
    { inflight: 0, rejected: 0, ...expect }
  )
}

t.test('a client abort during a slow handler releases once, as ignored, with no sample', async t => {
  const algorithm = recordingAlgorithm(5)
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm, signal: { sampleClass: false } })
  const hold = latch()
  let handlerDone = false
  app.get('/slow', async () => {
    await hold.wait()
    handlerDone = true
    return 'late'
  })
  const port = await listen(t, app)
  abortWhen(port, '/slow', hold.arrived(1))
  await until(() => app.concurrency.ignored === 1)
  t.equal(app.concurrency.inflight, 0, 'released at close, while the handler still runs')
  hold.open()
  await until(() => handlerDone)
  await new Promise(resolve => setImmediate(resolve))
  settled(t, app, { admitted: 1, succeeded: 0, dropped: 0, ignored: 1 })
  t.equal(algorithm.samples.length, 0)
})

// A streamed response's permit ends at its headers (the server's work is done then), so a client
// that leaves in the middle of the body does not turn it into an abort.
t.test('a stream counts at its headers, aborted mid-body or not', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(5) })
  let stream: Readable | undefined
  app.get('/stream', async (_req, reply) => {
    stream = new Readable({ read () {} })
    stream.push('first chunk\n')
    return reply.type('text/plain').send(stream)
  })
  app.get('/whole', async (_req, reply) => reply.send(Readable.from(['a', 'b', 'c'])))
  const port = await listen(t, app)
  const firstChunk = new Promise<void>(resolve => {
    const req = http.get({ port, path: '/stream', agent: false }, res => {
      res.once('data', () => { req.destroy(); resolve() })
    })
    req.on('error', () => {})
  })
  await firstChunk
  await until(() => app.concurrency.succeeded === 1)
  t.equal((await get(port, '/whole')).body, 'abc')
  await until(() => app.concurrency.succeeded === 2)
  settled(t, app, { admitted: 2, succeeded: 2, dropped: 0, ignored: 0 })
  t.ok(stream?.destroyed, 'Fastify destroyed the source stream')
})

t.test('hijacked replies, thrown errors and 404s over a socket', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(5) })
  app.get('/hijack', (_req, reply) => {
    reply.hijack()
    setImmediate(() => {
      reply.raw.writeHead(200, { 'content-type': 'text/plain' })
      reply.raw.end('hijacked')
    })
  })
  app.get('/throw', async () => { throw new Error('boom') })
  app.get('/sync-throw', () => { throw new Error('sync boom') })
  const port = await listen(t, app)
  t.equal((await get(port, '/hijack')).body, 'hijacked')
  t.equal((await get(port, '/throw')).status, 500)
  t.equal((await get(port, '/sync-throw')).status, 500)
  t.equal((await get(port, '/nope')).status, 404)
  await until(() => app.concurrency.inflight === 0 && app.concurrency.admitted === 4)
  settled(t, app, { admitted: 4, succeeded: 1, dropped: 2, ignored: 1 })
})

t.test('a hijacked reply whose client aborts is ignored', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(5) })
  const hold = latch()
  app.get('/hijack', async (_req, reply) => {
    reply.hijack()
    await hold.wait()
  })
  const port = await listen(t, app)
  abortWhen(port, '/hijack', hold.arrived(1))
  await until(() => app.concurrency.ignored === 1)
  hold.open()
  settled(t, app, { admitted: 1, succeeded: 0, dropped: 0, ignored: 1 })
})

t.test('requests rejected by another plugin before our hook are never counted', async t => {
  const app = Fastify()
  app.addHook('onRequest', async (req, reply) => {
    if (req.headers.authorization === undefined) return reply.code(401).send({ error: 'unauthorized' })
  })
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(5) })
  app.get('/', async () => 'ok')
  const port = await listen(t, app)
  t.equal((await get(port, '/')).status, 401)
  await new Promise(resolve => setImmediate(resolve))
  settled(t, app, { admitted: 0, succeeded: 0, dropped: 0, ignored: 0 })
})

t.test('a client that left while an earlier hook ran is not admitted', async t => {
  const app = Fastify()
  const hold = latch()
  app.addHook('onRequest', async () => { await hold.wait() })
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(5) })
  let passedOurHook = false
  app.addHook('onRequest', async () => { passedOurHook = true })
  app.get('/', async () => 'ok')
  const port = await listen(t, app)
  let closed = false
  app.server.once('connection', socket => socket.once('close', () => { closed = true }))
  abortWhen(port, '/', hold.arrived(1))
  await until(() => closed)
  hold.open()
  await until(() => passedOurHook)
  settled(t, app, { admitted: 0, succeeded: 0, dropped: 0, ignored: 0 })
})

t.test('a rejection over a socket: 503 with Retry-After', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1) })
  const hold = latch()
  app.get('/slow', async () => { await hold.wait(); return 'ok' })
  app.get('/', async () => 'ok')
  const port = await listen(t, app)
  const slow = get(port, '/slow')
  await hold.arrived(1)
  const res = await get(port, '/')
  t.equal(res.status, 503)
  t.equal(res.headers['retry-after'], '1')
  t.equal(JSON.parse(res.body).code, 'FST_CONCURRENCY_LIMIT_EXCEEDED')
  hold.open()
  t.equal((await slow).status, 200)
  await until(() => app.concurrency.inflight === 0)
  settled(t, app, { admitted: 1, succeeded: 1, dropped: 0, ignored: 0, rejected: 1 })
})
