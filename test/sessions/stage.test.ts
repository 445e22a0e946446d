// The sessions stage (lib/sessions/stage.ts) through the plugin, with fastify.inject: classification, the session cap (default
// 503 and onRefused), expiry with an injected clock, a flood of made-up keys, refusals by a
// failing or slow store, options validation and the status route.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import type { SessionsOptions } from '../../lib/sessions/options'
import { kInternal } from '../../lib/internal'
import type { Seat, SessionStore } from '../../lib/sessions/store'
import { recordingAlgorithm, settle } from '../plugin/helpers'

// Tests read the key from a header for brevity; real apps must use a verified identity.
const byHeader = (request: { headers: Record<string, unknown> }): string | undefined => request.headers['x-user'] as string | undefined

async function app (
  t: tap.Test,
  sessions: Partial<SessionsOptions>,
  opts: Partial<FastifyAdaptiveConcurrencyOptions> = {},
  // A frozen clock unless a test brings its own: with the real one, a loaded machine taking
  // over idleTimeout between two requests would expire a session the test relies on.
  sessionClock: () => number = () => 1_000_000
): Promise<FastifyInstance> {
  const a = Fastify()
  await a.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(100),
    eventLoop: false,
    sessions: { key: byHeader, idleTimeout: 1000, ...sessions },
    ...opts,
    [kInternal]: { sessionClock }
  } as FastifyAdaptiveConcurrencyOptions)
  a.get('/', async () => ({ ok: true }))
  await a.ready()
  t.teardown(() => a.close())
  return a
}

const as = (user?: string) => ({ url: '/', headers: user === undefined ? {} : { 'x-user': user } })

t.test('a key seen within idleTimeout is an active session; no key is no session', async t => {
  let now = 1_000_000
  const a = await app(t, {}, {}, () => now)
  t.equal((await a.inject(as('alice'))).statusCode, 200)
  t.equal((await a.inject(as())).statusCode, 200)
  t.equal((await a.inject(as(''))).statusCode, 200, 'an empty key is no key')
  t.equal((await a.inject(as('x'.repeat(129)))).statusCode, 200, 'a key over maxKeyLength is no key')
  await settle()
  t.same(a.concurrency.sessions, { active: 1, seats: undefined, refused: 0, refusedByReason: { 'session-cap': 0, draining: 0, 'store-unavailable': 0 }, draining: false, evicted: 0 })
  now += 999
  t.equal(a.concurrency.sessions?.active, 1, 'still active 999 ms later')
  now += 1
  t.equal(a.concurrency.sessions?.active, 0, 'idle for idleTimeout: no longer active')
  t.equal(a.concurrency.inflight, 0)
  t.equal(a.concurrency.admitted, 4)
})

t.test('maxSessions: a new session beyond the cap gets 503 + Retry-After; existing sessions are unaffected', async t => {
  let now = 1_000_000
  const a = await app(t, { maxSessions: 2 }, { rejection: { retryAfter: 7 } }, () => now)
  t.equal((await a.inject(as('alice'))).statusCode, 200)
  t.equal((await a.inject(as('bob'))).statusCode, 200)
  const refused = await a.inject(as('carol'))
  t.equal(refused.statusCode, 503)
  t.equal(refused.headers['retry-after'], '7')
  t.not(refused.headers.connection, 'close', 'no Connection: close outside a drain')
  t.equal(refused.json().code, 'FST_CONCURRENCY_SESSION_REFUSED')
  t.match(refused.json().message, /session-cap/)
  t.equal((await a.inject(as('alice'))).statusCode, 200, 'an existing session is still served')
  now += 500
  t.equal((await a.inject(as('bob'))).statusCode, 200)
  await settle()
  const s = a.concurrency.sessions
  t.equal(s?.seats, 2)
  t.equal(s?.refused, 1)
  t.equal(s?.refusedByReason['session-cap'], 1)
  // The refused request held a permit while it asked for a seat: it is given back unsampled.
  t.equal(a.concurrency.inflight, 0)
  t.equal(a.concurrency.ignored, 1)
  t.equal(a.concurrency.rejected, 1)
  t.equal(a.concurrency.succeeded, 4)

  // alice was last seen at t0, bob at t0+500: at t0+1000 alice's seat is free again.
  now += 500
  t.equal((await a.inject(as('carol'))).statusCode, 200, 'an expired session frees its seat')
  t.equal((await a.inject(as('dave'))).statusCode, 503, 'bob and carol hold the two seats')
  t.equal((await a.inject(as())).statusCode, 200, 'sessionless requests never take a seat')
})

t.test('onRefused can redirect to a waiting page, or send a body, or fall back to the default', async t => {
  const seen: string[] = []
  let mode: 'redirect' | 'body' | 'nothing' | 'async' | 'throw' = 'redirect'
  const a = await app(t, {
    maxSessions: 1,
    onRefused (request, reply, reason) {
      seen.push(`${request.headers['x-user'] as string}:${reason}`)
      if (mode === 'redirect') return reply.redirect('/waiting-room.html')
      if (mode === 'body') return { wait: true }
      if (mode === 'async') return Promise.resolve(reply.code(429).send('later'))
      if (mode === 'throw') throw new Error('hook bug')
      return undefined
    }
  })
  t.equal((await a.inject(as('alice'))).statusCode, 200)
  const redirected = await a.inject(as('bob'))
  t.equal(redirected.statusCode, 302)
  t.equal(redirected.headers.location, '/waiting-room.html')
  t.equal(redirected.headers['retry-after'], '1')
  mode = 'body'
  t.same((await a.inject(as('bob'))).json(), { wait: true })
  mode = 'async'
  const async = await a.inject(as('bob'))
  t.equal(async.statusCode, 429)
  t.equal(async.body, 'later')
  mode = 'nothing'
  const fallback = await a.inject(as('bob'))
  t.equal(fallback.statusCode, 503)
  t.equal(fallback.json().code, 'FST_CONCURRENCY_SESSION_REFUSED')
  mode = 'throw'
  t.equal((await a.inject(as('bob'))).statusCode, 500)
  t.same(seen, ['bob:session-cap', 'bob:session-cap', 'bob:session-cap', 'bob:session-cap', 'bob:session-cap'])
  await settle()
  t.equal(a.concurrency.inflight, 0)
})

t.test('a flood of made-up keys stays within maxTracked', async t => {
  const now = 1_000_000
  const a = await app(t, { maxTracked: 50 }, {}, () => now)
  for (let i = 0; i < 500; i++) await a.inject(as(`fake-${i}`))
  const s = a.concurrency.sessions
  t.equal(s?.active, 50, 'only the 50 most recently seen are remembered')
  t.equal(s?.evicted, 450)
})

t.test('with maxSessions, made-up keys beyond the cap are refused and never tracked', async t => {
  const a = await app(t, { maxSessions: 10 })
  let refused = 0
  for (let i = 0; i < 200; i++) if ((await a.inject(as(`fake-${i}`))).statusCode === 503) refused++
  t.equal(refused, 190)
  t.equal(a.concurrency.sessions?.active, 10)
  t.equal(a.concurrency.sessions?.evicted, 0)
})

t.test('key() that throws: logged, and the request counts as sessionless', async t => {
  const a = await app(t, { key () { throw new Error('no cookie plugin') } })
  t.equal((await a.inject(as('alice'))).statusCode, 200)
  t.equal(a.concurrency.sessions?.active, 0)
  t.equal((await a.inject(as('alice'))).statusCode, 200)
})

/** A store whose answers the test decides, synchronously or later. */
function scriptedStore (answer: () => Seat | Promise<Seat>): SessionStore & { registered: string[] } {
  const registered: string[] = []
  return {
    registered,
    register (key) { registered.push(key); return answer() },
    touch () {},
    remove () {},
    count: () => undefined,
    close: async () => {}
  }
}

t.test('a failing store with onStoreError closed refuses new sessions as store-unavailable', async t => {
  const store = scriptedStore(() => 'unavailable')
  const a = await app(t, { maxSessions: 5, store })
  const res = await a.inject(as('alice'))
  t.equal(res.statusCode, 503)
  t.match(res.json().message, /store-unavailable/)
  t.equal(a.concurrency.sessions?.refusedByReason['store-unavailable'], 1)
  t.equal((await a.inject(as())).statusCode, 200, 'sessionless requests do not ask the store')
  t.same(store.registered, ['alice'])
})

t.test('an asynchronous store: the request waits for its seat holding a permit', async t => {
  let grant!: (seat: Seat) => void
  const store = scriptedStore(() => new Promise<Seat>((resolve) => { grant = resolve }))
  const a = await app(t, { maxSessions: 5, store })
  const first = a.inject(as('alice'))
  while (store.registered.length === 0) await settle()
  t.equal(a.concurrency.inflight, 1, 'the permit is held while the store answers')
  grant('granted')
  t.equal((await first).statusCode, 200)
  const second = a.inject(as('bob'))
  while (store.registered.length === 1) await settle()
  grant('full')
  t.equal((await second).statusCode, 503)
  await settle()
  t.equal(a.concurrency.inflight, 0)
  t.same(store.registered, ['alice', 'bob'], 'alice, now active, never asks the store again')
  t.equal((await a.inject(as('alice'))).statusCode, 200)
  t.equal(store.registered.length, 2)
})

t.test('requests shed by the limiter never reach the store', async t => {
  const store = scriptedStore(() => 'granted')
  // queue: false: the limiter refuses at once (a queued request would only reach the store once granted).
  const a = await app(t, { maxSessions: 5, store }, { algorithm: recordingAlgorithm(0) as never, queue: false })
  t.equal((await a.inject(as('alice'))).statusCode, 503)
  t.same(store.registered, [])
  t.equal(a.concurrency.rejected, 1)
})

t.test('the status route serves the sessions block through its schema', async t => {
  const a = await app(t, { maxSessions: 1 }, { statusRoute: true })
  await a.inject(as('alice'))
  await a.inject(as('bob'))
  const body = (await a.inject('/status')).json()
  t.same(body.sessions, { active: 1, seats: 1, refused: 1, refusedByReason: { 'session-cap': 1, draining: 0, 'store-unavailable': 0 }, draining: false, evicted: 0 })
})

t.test('without sessions there is no sessions block in the status', async t => {
  const a = Fastify()
  await a.register(fastifyAdaptiveConcurrency, { statusRoute: true })
  t.teardown(() => a.close())
  t.equal(a.concurrency.sessions, undefined)
  t.notOk('sessions' in (await a.inject('/status')).json())
})

t.test('invalid session options fail ready() naming the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ idleTimeout: 1000 }, /"sessions\.key": required/],
    [{ key: 'sid', idleTimeout: 1000 }, /"sessions\.key": expected a function/],
    [{ key: byHeader }, /"sessions\.idleTimeout": required/],
    [{ key: byHeader, idleTimeout: 1000, maxSessions: 0 }, /"sessions\.maxSessions"/],
    [{ key: byHeader, idleTimeout: 1000, onRefused: 1 }, /"sessions\.onRefused"/],
    [{ key: byHeader, idleTimeout: 1000, overload: { headroom: 0 } }, /"sessions\.overload\.headroom"/],
    [{ key: byHeader, idleTimeout: 1000, store: {} }, /"sessions\.store"/],
    [{ key: byHeader, idleTimeout: 1000, maxSesions: 5 }, /"sessions\.maxSesions": unknown option/],
    // The clock and timers are test hooks now (lib/internal.ts), no longer options.
    [{ key: byHeader, idleTimeout: 1000, clock: () => 0 }, /"sessions\.clock": unknown option/],
    [{ key: byHeader, idleTimeout: 1000, timers: {} }, /"sessions\.timers": unknown option/],
    ['yes', /"sessions": expected an object/]
  ]
  for (const [sessions, message] of cases) {
    const a = Fastify()
    a.register(fastifyAdaptiveConcurrency, { sessions } as never)
    await t.rejects(async () => { await a.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message }, String(message))
    await a.close()
  }
})

t.test('the sessions entry point exports the stores and the tracker', async t => {
  const root = require('../../sessions')
  for (const name of ['MemoryStore', 'RedisStore', 'SessionTracker', 'SessionOverloadPolicy', 'StoreTimeoutError']) {
    t.type(root[name], 'function', name)
  }
  const { MemoryStore } = root
  const a = await app(t, { maxSessions: 1, store: new MemoryStore() })
  t.equal((await a.inject(as('alice'))).statusCode, 200)
  t.equal((await a.inject(as('bob'))).statusCode, 503)
})
