// Chaos over real sockets: 20,000 requests against a small fixed limit with
// the wait queue on, so admission, queueing, queue timeouts and rejections all happen, mixed
// with everything that can go wrong around a request:
// - raw sockets stopping at exact points: before the headers are complete, in the middle of a
//   request body, in the middle of a streamed response, while queued, and a keep-alive
//   connection reset (RST) during its second request; and a body uploaded slower than a handler;
// - undici for the bulk: handlers that throw or reject, handlers that never answer until the
//   client's timeout, reply.hijack(), 404s, 400s (bad JSON), 413s (body over bodyLimit), random
//   client aborts, a route another plugin rejects before us (401) and one rejected after us (403).
// At the end: in-flight is 0, the queue is empty, and the counters add up exactly.
// The mix is seeded (RELIABILITY_SEED): the seed is logged, so a failure can be replayed.
import t from 'tap'
import { Readable } from 'node:stream'
import Fastify from 'fastify'
import { Agent, request } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { collect, firstData, open, prng, statusOf, tick, until } from './helpers'

const TOTAL = 20_000
const WORKERS = 48
const LIMIT = 4
// A short timeout: permits end at the response headers, so streamed responses free theirs early
// and only a short wait makes queue timeouts happen in every run.
const QUEUE = { size: 8, timeout: 10 }
const BODY_LIMIT = 4096

// Weighted kinds: `raw:` ones drive a net.Socket by hand; the rest go through undici.
const MIX: Array<[string, number]> = [
  ['ok', 5], ['slow', 5], ['slow-abort', 2], ['throw', 1], ['reject', 1], ['hang', 1], ['hijack', 1],
  ['drip', 1], ['missing', 1], ['bad-json', 1], ['too-big', 1], ['bypass', 1], ['private', 1], ['forbidden', 1],
  ['raw:partial-headers', 1], ['raw:mid-body', 1], ['raw:slow-upload', 1], ['raw:mid-stream', 1],
  ['raw:queued-abort', 1], ['raw:keepalive-reset', 1]
]
const KINDS = MIX.flatMap(([kind, weight]) => Array<string>(weight).fill(kind))

t.test(`chaos: ${TOTAL} requests over real sockets end with in-flight 0, an empty queue and exact counters`, async t => {
  t.setTimeout(150_000)
  const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)
  t.comment(`seed ${seed} (replay with RELIABILITY_SEED=${seed})`)
  const random = prng(seed)
  const serverRandom = prng(seed + 1)

  const app = Fastify({ bodyLimit: BODY_LIMIT, forceCloseConnections: true })
  // Another plugin that answers before us: its rejections never reach the limiter.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.url === '/private') return reply.code(401).send({ error: 'no credentials' })
    done()
  })
  // Counts what reaches our hook (which runs right after this one, synchronously).
  let seen = 0
  let goneBeforeUs = 0
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.adaptiveConcurrency !== false) {
      seen++
      if (reply.raw.destroyed) goneBeforeUs++
    }
    done()
  })
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'fixed', options: { limit: LIMIT } },
    queue: QUEUE,
    bypass: request => request.url === '/bypass',
    statusRoute: true,
    observability: { logging: false }
  })
  app.get('/ok', async () => 'ok')
  app.get('/slow', async () => { await tick(2 + Math.floor(serverRandom() * 8)); return 'slow' })
  app.get('/throw', () => { throw new Error('sync bug') })
  app.get('/reject', async () => { await tick(1); throw new Error('async bug') })
  app.get('/hang', () => new Promise(() => {}))
  app.get('/hijack', (_request, reply) => {
    reply.hijack()
    setImmediate(() => reply.raw.end('hijacked'))
  })
  app.get('/drip', (_request, reply) => {
    let n = 0
    const timer = setInterval(() => { body.push(n++ < 20 ? 'chunk\n' : null); if (n > 20) clearInterval(timer) }, 2)
    const body = new Readable({ read () {}, destroy (err, cb) { clearInterval(timer); cb(err) } })
    return reply.send(body)
  })
  app.post('/echo', async (request) => ({ keys: Object.keys(request.body as object).length }))
  app.get('/bypass', async () => 'bypassed')
  app.get('/private', async () => 'never reached without credentials')
  app.get('/forbidden', { preHandler: (_request, reply, done) => { reply.code(403).send({ error: 'forbidden' }); done() } }, async () => 'x')
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const origin = `http://127.0.0.1:${port}`
  const agent = new Agent({ connections: WORKERS, keepAliveTimeout: 2000, headersTimeout: 10_000, bodyTimeout: 10_000 })
  t.teardown(() => agent.close())

  const seenByClient = new Map<string, number>()
  const count = (key: string): void => { seenByClient.set(key, (seenByClient.get(key) ?? 0) + 1) }
  const got = (key: string): number => seenByClient.get(key) ?? 0
  let rejectionsSeen = 0 // 503s read by a client: every one is a limiter rejection
  let undetermined = 0 // exchanges whose client never read a status (aborted, reset, cut short)
  let bypassSent = 0
  const status = (code: number | undefined): void => {
    if (code === undefined) { undetermined++; count('no-status'); return }
    if (code === 503) rejectionsSeen++
    count(String(code))
  }

  async function viaUndici (kind: string): Promise<void> {
    const abort = new AbortController()
    let path = `/${kind}`
    let method: 'GET' | 'POST' = 'GET'
    let body: string | undefined
    const headers: Record<string, string> = {}
    if (kind === 'slow-abort') { path = '/slow'; setTimeout(() => abort.abort(), Math.floor(random() * 6)) }
    if (kind === 'hang') setTimeout(() => abort.abort(), 10 + Math.floor(random() * 30)) // the client's timeout
    if (kind === 'missing') path = `/missing/${Math.floor(random() * 1000)}`
    if (kind === 'bypass') bypassSent++
    if (kind === 'bad-json' || kind === 'too-big') {
      path = '/echo'
      method = 'POST'
      headers['content-type'] = 'application/json'
      body = kind === 'bad-json' ? '{"unterminated": ' : JSON.stringify({ pad: 'x'.repeat(BODY_LIMIT * 2) })
    }
    try {
      const res = await request(origin + path, { method, headers, body, dispatcher: agent, signal: abort.signal })
      await res.body.text()
      status(res.statusCode)
    } catch {
      status(undefined)
    }
  }

  async function viaRawSocket (kind: string): Promise<void> {
    const socket = await open(port)
    const done = collect(socket)
    const head = (method: string, path: string, extra = ''): string => `${method} ${path} HTTP/1.1\r\nHost: l\r\n${extra}`
    switch (kind) {
      case 'raw:partial-headers': // the server never sees a complete request
        socket.write(head('GET', '/ok') + 'X-Half: ')
        await tick(Math.floor(random() * 3))
        socket.destroy()
        break
      case 'raw:mid-body': // headers complete (onRequest ran), body cut short
        socket.write(head('POST', '/echo', 'Content-Type: application/json\r\nContent-Length: 2000\r\n\r\n{"a":"') + 'y'.repeat(100))
        await tick(1 + Math.floor(random() * 5))
        socket.destroy()
        break
      case 'raw:slow-upload': { // a body that arrives slower than the handler would take
        const json = JSON.stringify({ a: 'z'.repeat(300) })
        socket.write(head('POST', '/echo', `Content-Type: application/json\r\nContent-Length: ${json.length}\r\nConnection: close\r\n\r\n`))
        for (let i = 0; i < json.length; i += 60) {
          socket.write(json.slice(i, i + 60))
          await tick(2)
        }
        break
      }
      case 'raw:mid-stream': { // read the first chunk of a streamed response, then leave
        socket.write(head('GET', '/drip', 'Connection: close\r\n\r\n'))
        const first = await firstData(socket)
        socket.destroy()
        // A 200 was cut short (its status line was read, its body was not).
        if (statusOf(first) === 200) { count('cut-mid-stream'); undetermined++; return }
        status(statusOf(first))
        return
      }
      case 'raw:queued-abort': // leave a moment after sending: while queued or while served
        socket.write(head('GET', '/slow', '\r\n'))
        await tick(1 + Math.floor(random() * 4))
        socket.destroy()
        break
      case 'raw:keepalive-reset': { // one full exchange, then an RST during the second request
        socket.write(head('GET', '/ok', '\r\n'))
        status(statusOf(await firstData(socket)))
        socket.write(head('GET', '/slow', '\r\n'))
        await tick(Math.floor(random() * 4))
        socket.resetAndDestroy()
        undetermined++
        return
      }
    }
    if (kind !== 'raw:partial-headers') status(statusOf(await done))
    else await done
  }

  // The status route must keep answering throughout (it is never limited).
  let statusPolls = 0
  let statusFailures = 0
  const polling = { on: true }
  const poller = (async () => {
    while (polling.on) {
      try {
        const res = await request(`${origin}/status`, { dispatcher: agent })
        await res.body.json()
        if (res.statusCode === 200) statusPolls++
        else statusFailures++
      } catch { statusFailures++ }
      await tick(25)
    }
  })()

  let issued = 0
  async function worker (): Promise<void> {
    while (issued < TOTAL) {
      issued++
      const kind = KINDS[Math.floor(random() * KINDS.length)]
      count(`sent:${kind}`)
      if (kind.startsWith('raw:')) await viaRawSocket(kind)
      else await viaUndici(kind)
    }
  }
  const started = Date.now()
  await Promise.all(Array.from({ length: WORKERS }, worker))
  polling.on = false
  await poller
  // Close events of the last aborted sockets may still be on their way.
  await until(() => app.concurrency.inflight === 0 && app.concurrency.snapshot().queue?.length === 0)
  const c = app.concurrency
  const snap = c.snapshot()
  const q = snap.queue as NonNullable<typeof snap.queue>
  t.comment(`${TOTAL} requests in ${Date.now() - started} ms; clients saw ${JSON.stringify(Object.fromEntries([...seenByClient].sort()))}`)
  t.comment(`server: ${JSON.stringify({ ...snap, state: undefined })}`)

  t.equal(c.inflight, 0, 'in-flight is 0')
  t.equal(q.length, 0, 'the queue is empty')
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored + c.inflight, 'admitted = succeeded + dropped + ignored + inflight')
  t.equal(seen, c.admitted + c.rejected + c.bypassed + q.cancelled + c.abandoned + goneBeforeUs,
    'every request reaching the limiter was admitted, rejected, bypassed, withdrawn from the queue or abandoned with its body, exactly once')
  t.equal(q.enqueued, q.granted + q.timedOut + q.deadlineExpired + q.cancelled, 'every waiter left the queue one way')
  t.equal(c.bypassed, bypassSent, 'bypassed = /bypass requests sent (none of them is aborted)')
  t.ok(rejectionsSeen <= c.rejected && c.rejected <= rejectionsSeen + undetermined,
    `clients read ${rejectionsSeen} rejections; the server counted ${c.rejected} (≤ ${rejectionsSeen} + ${undetermined} undetermined)`)
  t.ok(statusPolls > 0 && statusFailures === 0, `the status route answered all ${statusPolls} polls`)

  // The chaos actually happened: every path was exercised.
  t.ok(c.rejected > 0 && q.rejectedFull > 0, 'rejections, including a full queue')
  t.ok(q.granted > 0 && q.timedOut > 0, 'waiters were granted and timed out')
  t.ok(q.cancelled > 0, 'clients left while queued')
  t.ok(c.ignored > 0 && c.dropped > 0 && c.succeeded > 0, 'all three outcomes')
  for (const code of ['400', '401', '403', '404', '413', '500']) t.ok(got(code) > 0, `clients saw ${code}s`)
  t.ok(got('cut-mid-stream') > 0, 'responses were cut mid-stream')

  // And the server still serves.
  const after = await request(`${origin}/ok`, { dispatcher: agent })
  t.equal(after.statusCode, 200)
  t.equal(await after.body.text(), 'ok')
})
