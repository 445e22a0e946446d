// Slow uploads over real sockets (HTTP/1.1 and HTTP/2): a request asks for its permit once its
// body is in, so a body still arriving holds no permit, unless the limit is full when it arrives:
// then it is refused at once, before the client sends its body.
import http from 'node:http'
import http2 from 'node:http2'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { latch, recordingAlgorithm, settle, until } from '../plugin/helpers'
import { appFor, connectClient, PROTOCOLS, type Protocol, type Reply } from '../plugin/protocols'

interface Upload {
  /** Send the rest of the body. */
  finish: () => void
  reset: () => void
  reply: Promise<Reply | undefined>
}

/** A text POST whose first half is sent now and whose second half waits for finish(). */
function startUpload (protocol: Protocol, port: number, path: string): Upload {
  const body = 'x'.repeat(2048)
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) }
  if (protocol === 'http1') {
    const req = http.request({ port, host: '127.0.0.1', path, method: 'POST', headers, agent: false })
    const reply = new Promise<Reply | undefined>((resolve) => {
      req.on('response', (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => { text += chunk })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
      })
      req.on('error', () => resolve(undefined))
      req.on('close', () => resolve(undefined))
    })
    req.write(body.slice(0, 1024))
    return { finish: () => { req.end(body.slice(1024)) }, reset: () => { req.destroy() }, reply }
  }
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  const stream = session.request({ ':method': 'POST', ':path': path, ...headers })
  const reply = new Promise<Reply | undefined>((resolve) => {
    let status = 0
    let text = ''
    stream.setEncoding('utf8')
    stream.on('response', (h) => { status = Number(h[':status']) })
    stream.on('data', (chunk: string) => { text += chunk })
    stream.on('end', () => { resolve({ status, headers: {}, body: text }); session.close() })
    stream.on('error', () => { resolve(undefined); session.close() })
    stream.on('close', () => { resolve(undefined); session.close() })
  })
  stream.write(body.slice(0, 1024))
  return { finish: () => { stream.end(body.slice(1024)) }, reset: () => { stream.close(http2.constants.NGHTTP2_CANCEL) }, reply }
}

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ port: 0, host: '127.0.0.1' })
  return (app.server.address() as { port: number }).port
}

for (const protocol of PROTOCOLS) {
  t.test(`${protocol}: a body still arriving holds no permit; the request is admitted and sampled once it is in`, async t => {
    const algorithm = recordingAlgorithm(1)
    const app = appFor(protocol)
    await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, signal: { sampleClass: false } })
    let received = 0
    const hold = latch()
    app.post('/upload', async (request) => { received++; await hold.wait(); return `got ${(request.body as string).length}` })
    app.get('/', async () => 'ok')
    const port = await listen(app)
    t.teardown(() => app.close())
    const uploads = [startUpload(protocol, port, '/upload'), startUpload(protocol, port, '/upload')]
    const client = connectClient(protocol, port)
    t.teardown(() => client.close())
    // Two uploads under way with a limit of 1, and an ordinary request is still served.
    const plain = await client.request('/').reply
    t.equal(plain?.status, 200, 'the ordinary request got the only permit')
    t.equal(received, 0, 'no upload has reached its handler')
    t.equal(app.concurrency.inflight, 0)
    // The first body in takes the one permit and holds it in its handler; the second is refused.
    uploads[0].finish()
    await hold.arrived(1)
    t.equal(app.concurrency.inflight, 1)
    uploads[1].finish()
    t.equal((await uploads[1].reply)?.status, 503, 'the second upload asked for a permit once its body was in')
    hold.open()
    t.same(await uploads[0].reply, { status: 200, headers: (await uploads[0].reply)?.headers, body: 'got 2048' })
    await until(() => app.concurrency.inflight === 0)
    t.equal(algorithm.samples.length, 2, 'the ordinary request and the admitted upload were sampled')
  })

  t.test(`${protocol}: at the limit, an upload is refused at once, before its body`, async t => {
    const algorithm = recordingAlgorithm(1)
    const app = appFor(protocol)
    await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, signal: { sampleClass: false } })
    const hold = latch()
    let handled = 0
    app.post('/upload', async () => { handled++; return 'stored' })
    app.get('/slow', async () => { await hold.wait(); return 'slow' })
    const port = await listen(app)
    t.teardown(() => app.close())
    const client = connectClient(protocol, port)
    t.teardown(() => client.close())
    const slow = client.request('/slow')
    await hold.arrived(1)
    const upload = startUpload(protocol, port, '/upload')
    // The refusal comes while the client has sent only half its body.
    const refused = await upload.reply
    t.equal(refused?.status, 503)
    t.equal(handled, 0)
    upload.reset()
    hold.open()
    t.equal((await slow.reply)?.status, 200)
    await until(() => app.concurrency.inflight === 0)
    t.equal(app.concurrency.rejected, 1)
  })

  t.test(`${protocol}: a client that leaves mid-upload costs nothing and leaks nothing`, async t => {
    const algorithm = recordingAlgorithm(1)
    const app = appFor(protocol)
    await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, signal: { sampleClass: false } })
    app.post('/upload', async () => 'stored')
    app.get('/', async () => 'ok')
    const port = await listen(app)
    t.teardown(() => app.close())
    const upload = startUpload(protocol, port, '/upload')
    const client = connectClient(protocol, port)
    t.teardown(() => client.close())
    t.equal((await client.request('/').reply)?.status, 200, 'the upload under way took no permit')
    upload.reset()
    await upload.reply
    t.equal((await client.request('/').reply)?.status, 200)
    await until(() => app.concurrency.inflight === 0)
    t.equal(app.concurrency.admitted, 2, 'the abandoned upload was never admitted')
    t.equal(app.concurrency.rejected, 0)
    await until(() => app.concurrency.abandoned === 1)
    t.pass('counted as abandoned with its body')
  })
}

t.test('a body Fastify refuses (unsupported type, too large) is answered without a permit', async t => {
  const algorithm = recordingAlgorithm(1)
  const app = appFor('http1', { bodyLimit: 16 })
  await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, signal: { sampleClass: false } })
  app.post('/upload', async () => 'stored')
  await app.ready()
  t.teardown(() => app.close())
  const big = await app.inject({ method: 'POST', url: '/upload', headers: { 'content-type': 'text/plain' }, payload: 'x'.repeat(64) })
  t.equal(big.statusCode, 413)
  const odd = await app.inject({ method: 'POST', url: '/upload', headers: { 'content-type': 'application/x-odd' }, payload: 'x' })
  t.equal(odd.statusCode, 415)
  const ok = await app.inject({ method: 'POST', url: '/upload', headers: { 'content-type': 'text/plain' }, payload: 'x' })
  t.equal(ok.statusCode, 200)
  t.equal(app.concurrency.inflight, 0)
  t.equal(app.concurrency.admitted, 1, 'only the parsed body asked for a permit')
  await settle()
  t.equal(app.concurrency.abandoned, 2, 'the two refused bodies are counted as abandoned')
  t.equal(algorithm.samples.length, 1)
})

t.test('an opted-out route with a body neither waits for a permit nor counts', async t => {
  const algorithm = recordingAlgorithm(0)
  const app = appFor('http1')
  await app.register(fastifyAdaptiveConcurrency, { algorithm, eventLoop: false, signal: { sampleClass: false } })
  app.post('/hook', { config: { adaptiveConcurrency: false } }, async () => 'taken')
  await app.ready()
  t.teardown(() => app.close())
  const res = await app.inject({ method: 'POST', url: '/hook', payload: { a: 1 } })
  t.equal(res.statusCode, 200)
  t.equal(app.concurrency.admitted, 0)
  t.equal(app.concurrency.rejected, 0)
})
