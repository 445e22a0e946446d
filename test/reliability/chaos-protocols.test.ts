// Chaos over HTTP/1.1 and HTTP/2 alike: the same seeded mix for both protocols, against a small
// fixed limit with the wait queue, behind an async onRequest hook (auth, rate limit) that runs
// before the plugin; once without sessions and once with them (with sessions only active-session
// requests reach the queue, so the queue needs its own run). Clients reset their requests at
// random points: during that hook, while queued, while a new session waits for its seat from an
// async store, in the handler.
// HTTP/1.1 resets destroy a connection; HTTP/2 resets cancel one stream (RST_STREAM) of a shared
// session and leave the others running. At the end: in-flight is 0, the queue is empty, and the
// counters add up exactly, for each protocol.
// The mix is seeded (RELIABILITY_SEED): the seed is logged, so a failure can be replayed.
import t from 'tap'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { MemoryStore } from '../../lib/sessions/memory-store'
import type { Seat, SessionStore } from '../../lib/sessions/store'
import { PROTOCOLS, appFor, connectClient, serverSideGone } from '../plugin/protocols'
import type { Client, Protocol } from '../plugin/protocols'
import { prng, tick, until } from './helpers'

const TOTAL = 2500
const WORKERS = 32
const HTTP2_SESSIONS = 4
const LIMIT = 4
const QUEUE = { size: 6, timeout: 15 }
const USERS = 12
// Fewer seats than users: some new sessions keep asking for a seat and being refused. Sessions
// stay active for the whole run (a long idleTimeout), as signed-in users would.
const MAX_SESSIONS = 8

const MIX: Array<[string, number]> = [
  ['ok', 3], ['slow', 3], ['user', 4], ['reset-at-once', 2], ['reset-soon', 3], ['user-reset', 2],
  ['hang', 1], ['throw', 1], ['bypass', 1]
]
const KINDS = MIX.flatMap(([kind, weight]) => Array<string>(weight).fill(kind))

/** Seats from a MemoryStore, every other one answered after a macrotask, as a remote store would. */
function sometimesAsyncStore (counters: { asyncSeats: number }): SessionStore {
  const store = new MemoryStore()
  const register = store.register.bind(store)
  let calls = 0
  return Object.assign(store, {
    register (key: string, now: number, ttl: number, maxSessions: number): Seat | Promise<Seat> {
      if (calls++ % 2 === 0) return register(key, now, ttl, maxSessions)
      counters.asyncSeats++
      return new Promise<Seat>((resolve) => setImmediate(() => resolve(register(key, now, ttl, maxSessions))))
    }
  })
}

type Setup = 'queue' | 'queue+sessions'

const RUNS = PROTOCOLS.flatMap(protocol => (['queue', 'queue+sessions'] as Setup[]).map(setup => ({ protocol, setup })))

for (const { protocol, setup } of RUNS) {
  t.test(`${protocol} chaos (${setup}): ${TOTAL} requests with resets and an earlier async hook end with in-flight 0 and exact counters`, async t => {
    t.setTimeout(120_000)
    const seed = Number(process.env.RELIABILITY_SEED ?? Date.now() % 1_000_000)
    t.comment(`seed ${seed} (replay with RELIABILITY_SEED=${seed})`)
    const random = prng(seed)
    const serverRandom = prng(seed + 1)
    const sessions = setup === 'queue+sessions'
    const { app, clients } = await serve(t, protocol, sessions, serverRandom)
    const counters = app.counters

    const seenByClient = new Map<string, number>()
    const count = (key: string): void => { seenByClient.set(key, (seenByClient.get(key) ?? 0) + 1) }
    let rejectionsSeen = 0
    let undetermined = 0
    let bypassSent = 0
    const servedUsers = new Set<string>()

    // With sessions, most requests of every kind come from users (signed in, or new).
    async function one (client: Client, kind: string): Promise<void> {
      const signedIn = kind === 'user' || kind === 'user-reset' || (sessions && kind !== 'bypass' && random() < 0.7)
      const user = signedIn ? { 'x-user': `user-${Math.floor(random() * USERS)}` } : undefined
      const path = kind === 'slow' || kind === 'user' || kind.includes('reset') ? '/slow' : `/${kind}`
      if (kind === 'bypass') bypassSent++
      const exchange = client.request(path, user)
      if (kind === 'reset-at-once') exchange.reset()
      if (kind === 'reset-soon' || kind === 'user-reset') setTimeout(exchange.reset, Math.floor(random() * 4))
      if (kind === 'hang') setTimeout(exchange.reset, 20 + Math.floor(random() * 40))
      const reply = await exchange.reply
      if (reply === undefined) { undetermined++; count('no-status'); return }
      if (reply.status === 503) rejectionsSeen++
      if (reply.status === 200 && user !== undefined) servedUsers.add(user['x-user'])
      count(String(reply.status))
    }

    if (sessions) {
      // Before the load: the first MAX_SESSIONS users take every seat, the others are refused.
      for (let i = 0; i < USERS; i++) {
        const reply = await clients[0].request('/ok', { 'x-user': `user-${i}` }).reply
        t.equal(reply?.status, i < MAX_SESSIONS ? 200 : 503, `user-${i} ${i < MAX_SESSIONS ? 'seated' : 'refused at the cap'}`)
      }
    }

    let issued = 0
    async function worker (index: number): Promise<void> {
      const client = clients[index % clients.length]
      while (issued < TOTAL) {
        issued++
        const kind = KINDS[Math.floor(random() * KINDS.length)]
        count(`sent:${kind}`)
        await one(client, kind)
      }
    }
    const started = Date.now()
    await Promise.all(Array.from({ length: WORKERS }, (_, i) => worker(i)))
    // Close events of the last reset streams may still be on their way.
    await until(() => app.concurrency.inflight === 0 && app.concurrency.snapshot().queue?.length === 0)
    const c = app.concurrency
    const snap = c.snapshot()
    const q = snap.queue as NonNullable<typeof snap.queue>
    const s = c.sessions ?? { refusedByReason: { 'session-cap': 0, draining: 0, 'store-unavailable': 0 } }
    t.comment(`${protocol}: ${TOTAL} requests in ${Date.now() - started} ms; clients saw ${JSON.stringify(Object.fromEntries([...seenByClient].sort()))}`)
    t.comment(`server: ${JSON.stringify({ ...counters, admitted: c.admitted, rejected: c.rejected, succeeded: c.succeeded, dropped: c.dropped, ignored: c.ignored, bypassed: c.bypassed, queue: q, sessions: s })}`)

    t.equal(c.inflight, 0, 'in-flight is 0')
    t.equal(q.length, 0, 'the queue is empty')
    t.equal(c.admitted, c.succeeded + c.dropped + c.ignored + c.inflight, 'admitted = succeeded + dropped + ignored + inflight')
    // A new session refused for its seat held a permit first: it counts in admitted and rejected.
    const refusedAfterPermit = s.refusedByReason['session-cap'] + s.refusedByReason['store-unavailable']
    t.equal(counters.seen, c.admitted + c.rejected + c.bypassed + q.cancelled + c.abandoned + counters.goneBeforeUs - refusedAfterPermit,
      'every request reaching the limiter was admitted, rejected, bypassed, withdrawn from the queue or gone before it, exactly once')
    t.equal(q.enqueued, q.granted + q.timedOut + q.deadlineExpired + q.cancelled + q.evicted, 'every waiter left the queue one way')
    t.equal(c.bypassed, bypassSent, 'bypassed = /bypass requests sent (none of them is reset)')
    t.ok(rejectionsSeen <= c.rejected && c.rejected <= rejectionsSeen + undetermined,
      `clients read ${rejectionsSeen} rejections; the server counted ${c.rejected} (≤ ${rejectionsSeen} + ${undetermined} undetermined)`)

    // The chaos actually happened: every path was exercised.
    t.ok(counters.goneBeforeUs > 0, `${counters.goneBeforeUs} requests were reset during the earlier async hook`)
    t.ok(q.granted > 0 && q.timedOut > 0 && q.cancelled > 0, 'waiters were granted, timed out, and reset while queued')
    if (sessions) {
      t.ok(s.refusedByReason['session-cap'] > 0, 'new sessions were refused at the cap')
      t.ok(counters.asyncSeats > 0, `${counters.asyncSeats} seat requests were answered asynchronously`)
    }
    t.ok(c.ignored > 0 && c.succeeded > 0 && c.dropped > 0, 'all three outcomes')

    // And the server still serves, at its full limit: nothing leaked. With sessions, as a signed-in
    // user (new and sessionless requests yield to active sessions' reserve after an overload).
    const user = [...servedUsers][0]
    t.ok(!sessions || user !== undefined, 'a user was served during the run')
    const headers = user === undefined ? undefined : { 'x-user': user }
    const replies = await Promise.all(Array.from({ length: LIMIT }, (_, i) => clients[i % clients.length].request('/ok', headers).reply))
    t.same(replies.map(r => r?.status), Array<number>(LIMIT).fill(200))
  })
}

async function serve (t: tap.Test, protocol: Protocol, sessions: boolean, serverRandom: () => number) {
  const app = appFor(protocol, { forceCloseConnections: true })
  const counters = { seen: 0, goneBeforeUs: 0, asyncSeats: 0 }
  // Auth or a rate limit: an async hook before the plugin, sometimes a microtask, sometimes longer.
  app.addHook('onRequest', async () => {
    const r = serverRandom()
    if (r < 0.3) return
    if (r < 0.6) { await null; return }
    if (r < 0.85) { await new Promise(resolve => setImmediate(resolve)); return }
    await tick(1 + Math.floor(serverRandom() * 2))
  })
  // Counts what reaches our hook, which runs right after this one, synchronously.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.adaptiveConcurrency !== false) {
      counters.seen++
      if (serverSideGone(reply.raw)) counters.goneBeforeUs++
    }
    done()
  })
  const store = sometimesAsyncStore(counters)
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'fixed', options: { limit: LIMIT } },
    queue: QUEUE,
    bypass: request => request.url === '/bypass',
    eventLoop: false,
    observability: { logging: false },
    sessions: sessions
      ? { key: request => request.headers['x-user'] as string | undefined, idleTimeout: 600_000, maxSessions: MAX_SESSIONS, store }
      : undefined
  })
  app.get('/ok', async () => 'ok')
  app.get('/slow', async () => { await tick(1 + Math.floor(serverRandom() * 6)); return 'slow' })
  app.get('/throw', () => { throw new Error('bug') })
  app.get('/hang', () => new Promise(() => {}))
  app.get('/bypass', async () => 'bypassed')
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const clients = protocol === 'http2'
    ? Array.from({ length: HTTP2_SESSIONS }, () => connectClient(protocol, port))
    : [connectClient(protocol, port)]
  t.teardown(async () => {
    for (const client of clients) client.close()
    await app.close()
  })
  return { app: Object.assign(app, { counters }), clients }
}
