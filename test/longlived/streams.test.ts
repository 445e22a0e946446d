// Streamed responses over real sockets, HTTP/1.1 and HTTP/2: the permit and the latency sample
// end when the response headers are written (the server's work), not when the client has read
// the last byte. Each path releases exactly once: headers then close, close before headers
// (client abort), an error before headers.
import t from 'tap'
import { PassThrough } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { latch, recordingAlgorithm, until } from '../plugin/helpers'
import type { RecordingAlgorithm } from '../plugin/helpers'
import { PROTOCOLS, appFor, connectClient } from '../plugin/protocols'
import type { Client, Protocol } from '../plugin/protocols'

interface Setup { app: FastifyInstance, algorithm: RecordingAlgorithm, client: Client, streams: PassThrough[], hold: ReturnType<typeof latch> }

async function setup (t: tap.Test, protocol: Protocol, limit: number): Promise<Setup> {
  const algorithm = recordingAlgorithm(limit)
  const app = appFor(protocol)
  // At the defaults (the event-loop stage on), with raw samples (no per-route classes), so every sample the algorithm gets is seen here.
  await app.register(fastifyAdaptiveConcurrency, { algorithm, signal: { sampleClass: false } })
  const streams: PassThrough[] = []
  const hold = latch()
  // An event stream: hijacked, headers at once, events written later, never ended by the server.
  app.get('/events', (_request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream' })
    reply.raw.write('data: hello\n\n')
    const events = new PassThrough()
    streams.push(events)
    events.on('data', (chunk: Buffer) => reply.raw.write(chunk))
  })
  // A download through reply.send(stream): Node writes the headers with the first chunk.
  app.get('/download', async (_request, reply) => {
    const body = new PassThrough()
    streams.push(body)
    body.write('first chunk\n')
    return reply.send(body)
  })
  app.get('/', async () => 'ok')
  app.get('/held', async () => { await hold.wait(); return 'late' })
  app.get('/fails', async (_request, reply) => {
    await hold.wait()
    reply.raw.write('')
    throw new Error('boom')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client = connectClient(protocol, port)
  t.teardown(async () => {
    client.close()
    for (const s of streams) s.destroy()
    await app.close()
  })
  return { app, algorithm, client, streams, hold }
}

function invariant (t: tap.Test, app: FastifyInstance): void {
  const c = app.concurrency
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored + c.inflight, 'admitted = succeeded + dropped + ignored + in flight')
}

for (const protocol of PROTOCOLS) {
  t.test(`${protocol}: five event streams open under a limit of 1, ordinary requests still served`, async t => {
    const { app, algorithm, client } = await setup(t, protocol, 1)
    const exchanges = []
    for (let i = 0; i < 5; i++) {
      exchanges.push(client.request('/events'))
      await until(() => app.concurrency.longLived.sending === i + 1)
      t.equal(app.concurrency.inflight, 0, `stream ${i}: no permit held after its headers`)
    }
    const ok = await client.request('/').reply
    t.equal(ok?.status, 200, 'an ordinary request is served')
    t.equal(app.concurrency.rejected, 0)
    t.same(app.concurrency.longLived.routes['GET /events'], { open: 5, longLived: 'no' })
    t.equal(algorithm.samples.length, 6, 'one sample per stream (its time to headers) and the ordinary one')
    t.ok(algorithm.samples.every(s => !s.dropped))
    for (const e of exchanges) e.reset()
    await until(() => app.concurrency.longLived.open === 0)
    t.equal(app.concurrency.inflight, 0)
    t.equal(algorithm.samples.length, 6, 'closing a stream adds no sample')
    invariant(t, app)
  })

  t.test(`${protocol}: reply.send(stream) holds no permit once its first chunk (and headers) went out`, async t => {
    const { app, algorithm, client, streams } = await setup(t, protocol, 1)
    const download = client.request('/download')
    await until(() => app.concurrency.longLived.sending === 1)
    t.equal(app.concurrency.inflight, 0)
    t.equal((await client.request('/').reply)?.status, 200)
    streams[0].end('last chunk\n')
    const reply = await download.reply
    t.equal(reply?.body, 'first chunk\nlast chunk\n')
    await until(() => app.concurrency.longLived.open === 0)
    t.equal(algorithm.samples.length, 2)
    invariant(t, app)
  })

  t.test(`${protocol}: a client that leaves before the headers releases once, with no sample; the late answer changes nothing`, async t => {
    const { app, algorithm, client, hold } = await setup(t, protocol, 1)
    const exchange = client.request('/held')
    await hold.arrived(1)
    t.equal(app.concurrency.inflight, 1)
    exchange.reset()
    await until(() => app.concurrency.inflight === 0)
    t.equal(app.concurrency.ignored, 1)
    hold.open()
    t.equal((await client.request('/').reply)?.status, 200, 'the freed permit serves the next request')
    await until(() => app.concurrency.inflight === 0 && app.concurrency.longLived.open === 0)
    t.equal(app.concurrency.ignored, 1, 'still released once')
    t.equal(algorithm.samples.length, 1, 'only the ordinary request sampled')
    invariant(t, app)
  })

  t.test(`${protocol}: an error after an implicit header write releases once`, async t => {
    const { app, client, hold } = await setup(t, protocol, 1)
    const exchange = client.request('/fails')
    await hold.arrived(1)
    hold.open()
    await exchange.reply
    await until(() => app.concurrency.inflight === 0 && app.concurrency.longLived.open === 0)
    t.equal(app.concurrency.admitted, 1)
    invariant(t, app)
    t.equal((await client.request('/').reply)?.status, 200)
    await until(() => app.concurrency.inflight === 0)
    invariant(t, app)
  })
}
