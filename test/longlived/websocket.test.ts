// Websockets through the real @fastify/websocket, over real sockets: a handshake is admitted or
// refused at the limit like any request; once admitted it holds no permit and feeds no sample,
// so any number stay open under a fixed limit of 3 while ordinary requests are still served.
import net from 'node:net'
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import websocket from '@fastify/websocket'
import { WebSocket } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { latch, recordingAlgorithm, until } from '../plugin/helpers'
import type { RecordingAlgorithm } from '../plugin/helpers'

async function setup (t: tap.Test): Promise<{ app: FastifyInstance, algorithm: RecordingAlgorithm, base: string, hold: ReturnType<typeof latch> }> {
  const algorithm = recordingAlgorithm(3)
  const app = Fastify()
  await app.register(websocket)
  await app.register(fastifyAdaptiveConcurrency, { algorithm })
  const hold = latch()
  app.get('/ws', { websocket: true }, (socket) => {
    socket.on('message', (data: Buffer) => { socket.send(`echo ${String(data)}`) })
  })
  app.get('/', async () => 'ok')
  app.get('/held', async () => { await hold.wait(); return 'held' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  t.teardown(() => app.close())
  return { app, algorithm, base: `127.0.0.1:${port}`, hold }
}

function open (url: string): Promise<{ ws: WebSocket, error?: undefined } | { ws?: undefined, error: string }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url)
    ws.addEventListener('open', () => resolve({ ws }))
    ws.addEventListener('error', (e) => resolve({ error: String((e as unknown as { message?: string }).message ?? e.type) }))
  })
}

function echo (ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.addEventListener('message', (e) => resolve(String(e.data)), { once: true })
    ws.send(text)
  })
}

function closed (ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.addEventListener('close', () => resolve())
    ws.close()
  })
}

t.test('ten websockets open under a limit of 3: ordinary requests still served, in-flight back to 0, no drop', async t => {
  const { app, algorithm, base } = await setup(t)
  const sockets: WebSocket[] = []
  for (let i = 0; i < 10; i++) {
    const r = await open(`ws://${base}/ws`)
    t.equal(r.error, undefined, `websocket ${i} opened`)
    sockets.push(r.ws as WebSocket)
  }
  t.equal(await echo(sockets[9], 'hi'), 'echo hi', 'the last one works')
  t.equal(app.concurrency.inflight, 0, 'no websocket holds a permit')
  const res = await fetch(`http://${base}/`)
  t.equal(res.status, 200, 'an ordinary request is served')
  t.equal(await res.text(), 'ok')
  const ll = app.concurrency.longLived
  t.equal(ll.websockets, 10)
  t.equal(ll.admitted, 10)
  t.same(ll.routes['GET /ws'], { open: 10, longLived: 'no' })
  t.equal(app.concurrency.dropped, 0, 'no drop counted')
  t.equal(app.concurrency.rejected, 0)
  t.equal(algorithm.samples.filter(s => s.rtt > 50).length, 0, 'no websocket\'s life was fed as a sample')
  await Promise.all(sockets.map(closed))
  await until(() => app.concurrency.longLived.websockets === 0)
  t.equal(app.concurrency.longLived.open, 0)
  t.equal(app.concurrency.inflight, 0)
  t.equal(app.concurrency.ignored, 10, 'each handshake released once, with no sample')
  t.equal(app.concurrency.admitted, app.concurrency.succeeded + app.concurrency.dropped + app.concurrency.ignored + app.concurrency.inflight)
})

t.test('a handshake is refused at a full limit like any request, and admitted once there is room', async t => {
  const { app, base, hold } = await setup(t)
  const held = [0, 1, 2].map(() => fetch(`http://${base}/held`))
  await hold.arrived(3)
  t.equal(app.concurrency.inflight, 3)
  const refused = await open(`ws://${base}/ws`)
  t.not(refused.error, undefined, 'the handshake is refused')
  t.equal(app.concurrency.rejected, 1)
  t.equal(app.concurrency.longLived.websockets, 0)
  hold.open()
  for (const res of await Promise.all(held)) t.equal(res.status, 200)
  await until(() => app.concurrency.inflight === 0)
  const r = await open(`ws://${base}/ws`)
  t.equal(r.error, undefined, 'admitted once there is room')
  t.equal(app.concurrency.longLived.websockets, 1)
  await closed(r.ws as WebSocket)
  await until(() => app.concurrency.longLived.websockets === 0)
})

t.test('an Upgrade sent to an ordinary route is no websocket: it is counted as an ordinary request', async t => {
  const { app, base } = await setup(t)
  const r = await open(`ws://${base}/`)
  // @fastify/websocket completes the handshake, then closes a socket whose route has no websocket handler.
  if (r.ws !== undefined) {
    const ws = r.ws
    await new Promise<void>((resolve) => {
      if (ws.readyState === ws.CLOSED) resolve()
      else ws.addEventListener('close', () => resolve())
    })
  }
  t.pass('the server closed it')
  await until(() => app.concurrency.inflight === 0)
  t.equal(app.concurrency.longLived.admitted, 0, 'never counted as a websocket')
  t.equal(app.concurrency.admitted, 1)
  t.equal(app.concurrency.admitted, app.concurrency.succeeded + app.concurrency.dropped + app.concurrency.ignored + app.concurrency.inflight)
})

t.test('the plugin registered before @fastify/websocket: a refused handshake\'s socket is closed by the server', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(0), eventLoop: false })
  await app.register(websocket)
  app.get('/ws', { websocket: true }, (socket) => { socket.close() })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  // A raw client that never closes its side: only the server can end the exchange.
  const socket = net.connect(port, '127.0.0.1')
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => { received += chunk })
  const ended = new Promise<void>((resolve) => { socket.on('end', () => resolve()) })
  socket.write('GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
  await ended
  t.match(received, /^HTTP\/1\.1 503 /, 'refused with a 503')
  t.equal(app.concurrency.rejected, 1)
  socket.destroy()
})
