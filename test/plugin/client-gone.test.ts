// A client that leaves while an earlier async onRequest hook runs (auth, rate limit), over real
// sockets, for HTTP/1.1 and HTTP/2 alike. Its response's 'close' has fired before our hook runs,
// so a permit taken then would never be released: with a limit of 1, one such reset would turn
// every later request into a 503. HTTP/2 is where this differs: Http2ServerResponse has no
// `destroyed`, the stream's state tells. Each path that attaches a permit is covered: the
// immediate one, the queue, and a new session's seat request to an async store.
import t from 'tap'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import type { Seat, SessionStore } from '../../lib/sessions/store'
import { recordingAlgorithm, settle, until } from './helpers'
import { PROTOCOLS, appFor, connectClient } from './protocols'
import type { Client, Protocol } from './protocols'

interface Held { raw: FastifyReply['raw'], closed: Promise<void>, open: () => void }

/** A store whose seat answers the test gives by hand. */
function manualStore (): SessionStore & { answer: (seat: Seat) => void, asked: () => number } {
  const pending: Array<(seat: Seat) => void> = []
  let asked = 0
  return {
    register: () => { asked++; return new Promise<Seat>((resolve) => { pending.push(resolve) }) },
    touch () {},
    remove () {},
    count: () => undefined,
    close: async () => {},
    answer: (seat) => { (pending.shift() as (seat: Seat) => void)(seat) },
    asked: () => asked
  }
}

async function setup (t: tap.Test, protocol: Protocol, opts: Partial<FastifyAdaptiveConcurrencyOptions> = {}) {
  const app: FastifyInstance = appFor(protocol)
  // An async hook before the plugin, holding requests marked x-hold until the test opens it.
  const held: Held[] = []
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers['x-hold'] === undefined) return
    let open!: () => void
    const gate = new Promise<void>((resolve) => { open = resolve })
    const closed = new Promise<void>((resolve) => { reply.raw.once('close', () => resolve()) })
    held.push({ raw: reply.raw, closed, open })
    await gate
  })
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(1), eventLoop: false, ...opts } as FastifyAdaptiveConcurrencyOptions)
  const release: Array<() => void> = []
  app.get('/', async () => 'ok')
  app.get('/slow', async () => { await new Promise<void>((resolve) => release.push(resolve)); return 'slow' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const client: Client = connectClient(protocol, port)
  t.teardown(async () => { client.close(); await app.close() })

  /** Send a request that the earlier hook holds, reset it, and let it on once the server saw it go. */
  async function resetWhileHeld (headers: Record<string, string> = {}): Promise<void> {
    const before = held.length
    const exchange = client.request('/', { 'x-hold': '1', ...headers })
    await until(() => held.length > before)
    const h = held[before]
    exchange.reset()
    await h.closed
    h.open()
    // The rest of onRequest (our hook included) runs in the microtasks after the gate opens.
    await settle()
    t.equal(await exchange.reply, undefined, 'the client never got a reply')
  }
  return { app, client, resetWhileHeld, release }
}

for (const protocol of PROTOCOLS) {
  t.test(`${protocol}: a request reset during an earlier async hook takes no permit`, async t => {
    const { app, client, resetWhileHeld } = await setup(t, protocol)
    await resetWhileHeld()
    t.equal(app.concurrency.inflight, 0, 'no permit held for the gone request')
    for (let i = 0; i < 3; i++) {
      const reply = await client.request('/').reply
      t.equal(reply?.status, 200, `request ${i + 1} after the reset is served (limit 1)`)
    }
    await until(() => app.concurrency.inflight === 0)
    t.same([app.concurrency.admitted, app.concurrency.rejected], [3, 0])
  })

  t.test(`${protocol}: a reset request that would queue is neither queued nor granted later`, async t => {
    const { app, client, resetWhileHeld, release } = await setup(t, protocol, { queue: { size: 4, timeout: 60_000 } })
    const first = client.request('/slow').reply
    await until(() => release.length === 1)
    await resetWhileHeld()
    t.equal(app.concurrency.limiter.queue?.length, 0, 'nothing waits for the gone request')
    t.equal(app.concurrency.inflight, 1)
    const next = client.request('/').reply
    await until(() => app.concurrency.limiter.queue?.length === 1)
    ;(release.shift() as () => void)()
    t.equal((await first)?.status, 200)
    t.equal((await next)?.status, 200, 'the permit went to the live waiter')
    await until(() => app.concurrency.inflight === 0)
    t.equal(app.concurrency.limiter.queue?.granted, 1)
  })

  t.test(`${protocol}: a request reset while queued is withdrawn and never granted`, async t => {
    const { app, client, release } = await setup(t, protocol, { queue: { size: 4, timeout: 60_000 } })
    const first = client.request('/slow').reply
    await until(() => release.length === 1)
    const leaving = client.request('/')
    await until(() => app.concurrency.limiter.queue?.length === 1)
    leaving.reset()
    t.equal(await leaving.reply, undefined)
    await until(() => app.concurrency.limiter.queue?.length === 0)
    t.equal(app.concurrency.limiter.queue?.cancelled, 1, 'withdrawn at its close')
    ;(release.shift() as () => void)()
    t.equal((await first)?.status, 200)
    await until(() => app.concurrency.inflight === 0)
    t.same([app.concurrency.admitted, app.concurrency.limiter.queue?.granted], [1, 0])
    t.equal((await client.request('/').reply)?.status, 200)
  })

  t.test(`${protocol}: sessions: a reset before the seat request takes neither a permit nor a seat`, async t => {
    const store = manualStore()
    const { app, client, resetWhileHeld } = await setup(t, protocol, {
      sessions: { key: (request) => request.headers['x-user'] as string | undefined, idleTimeout: 60_000, maxSessions: 5, store }
    })
    await resetWhileHeld({ 'x-user': 'mallory' })
    t.equal(app.concurrency.inflight, 0)
    t.equal(store.asked(), 0, 'the store was not asked for a seat')
    const next = client.request('/', { 'x-user': 'alice' }).reply
    await until(() => store.asked() === 1)
    store.answer('granted')
    t.equal((await next)?.status, 200)
    await until(() => app.concurrency.inflight === 0)
  })

  t.test(`${protocol}: sessions: a reset while the store answers releases once`, async t => {
    const store = manualStore()
    const { app, client } = await setup(t, protocol, {
      sessions: { key: (request) => request.headers['x-user'] as string | undefined, idleTimeout: 60_000, maxSessions: 5, store }
    })
    const leaving = client.request('/', { 'x-user': 'alice' })
    await until(() => store.asked() === 1)
    t.equal(app.concurrency.inflight, 1, 'the permit is held while the store answers')
    leaving.reset()
    t.equal(await leaving.reply, undefined)
    await until(() => app.concurrency.inflight === 0)
    store.answer('granted')
    await settle()
    t.same([app.concurrency.inflight, app.concurrency.ignored, app.concurrency.admitted], [0, 1, 1], 'released by its close, not twice')
    const next = client.request('/', { 'x-user': 'bob' }).reply
    await until(() => store.asked() === 2)
    store.answer('granted')
    t.equal((await next)?.status, 200)
  })
}
