// Graceful drain (the sessions stage, lib/sessions/stage.ts) over real sockets (Connection: close and fastify.close() only show there).
// Time is a manual clock: sessions go idle, and the drain ends, when the test says so.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { request } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { kInternal } from '../../lib/internal'
import { recordingAlgorithm, settle, until } from '../plugin/helpers'
import { ManualClock } from './helpers'

const BODY = 'x'.repeat(256 * 1024) // several socket writes: a cut-short response would show

interface Reply { status: number, connection: string | undefined, retryAfter: string | undefined, body: string }

async function setup (t: tap.Test, opts: Partial<FastifyAdaptiveConcurrencyOptions>, server: FastifyServerOptions = {}) {
  const clock = new ManualClock(Date.now())
  const app: FastifyInstance = Fastify(server)
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(100),
    eventLoop: false,
    sessions: { key: (request) => request.headers['x-user'] as string | undefined, idleTimeout: 10_000 },
    ...opts,
    [kInternal]: { sessionClock: clock.now, drainTimers: clock }
  } as FastifyAdaptiveConcurrencyOptions)
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let inside = 0
  app.get('/fast', async () => 'ok')
  app.get('/slow', async () => { inside++; await gate; return BODY })
  const base = await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  async function get (path: string, user?: string): Promise<Reply> {
    const res = await request(base + path, { headers: user === undefined ? {} : { 'x-user': user } })
    const body = await res.body.text()
    const h = res.headers
    return { status: res.statusCode, connection: h.connection as string | undefined, retryAfter: h['retry-after'] as string | undefined, body }
  }
  async function arrived (n: number): Promise<void> {
    await until(() => inside >= n)
  }
  return { app, clock, get, arrived, release }
}

t.test('a drain during load: in-flight requests complete in full, new users are refused, active sessions served until idle', async t => {
  const { app, clock, get, arrived, release } = await setup(t, {})
  for (const user of ['alice', 'bob']) t.equal((await get('/fast', user)).status, 200)
  // Load: requests of active sessions, new sessions and sessionless ones, all in flight.
  const inflight = [get('/slow', 'alice'), get('/slow', 'carol'), get('/slow', 'dave'), get('/slow'), get('/slow'), get('/slow', 'bob')]
  await arrived(6)
  t.equal(app.concurrency.inflight, 6)

  let drained: { reason: string, remaining: number } | undefined
  const drain = app.concurrency.drain({ timeout: 60_000 }).then((r) => { drained = r })
  t.equal(app.concurrency.sessions?.draining, true)
  t.equal(app.concurrency.sessions?.active, 4, 'alice, bob, carol, dave')

  const newUser = await get('/fast', 'erin')
  t.equal(newUser.status, 503, 'a new user is refused')
  t.equal(newUser.connection, 'close')
  t.equal(newUser.retryAfter, '1')
  t.match(JSON.parse(newUser.body), { code: 'FST_CONCURRENCY_SESSION_REFUSED', message: /draining/ })
  const sessionless = await get('/fast')
  t.equal(sessionless.status, 503, 'so is a sessionless request')
  t.equal(sessionless.connection, 'close')
  t.equal((await get('/fast', 'carol')).status, 200, 'a session admitted before the drain is still served')

  release()
  for (const res of await Promise.all(inflight)) {
    t.equal(res.status, 200)
    t.equal(res.body.length, BODY.length, 'the full response arrived')
  }
  await settle()
  t.equal(app.concurrency.inflight, 0)
  t.equal(app.concurrency.ignored, 0, 'no admitted request was cut short')

  clock.advance(5_000)
  t.equal((await get('/fast', 'bob')).status, 200)
  clock.advance(5_000) // alice, carol and dave are idle now; bob was seen 5 s ago
  await settle()
  t.equal(drained, undefined, 'bob is still active')
  t.equal(app.concurrency.sessions?.active, 1)
  clock.advance(5_000)
  await drain
  t.same(drained, { reason: 'idle', remaining: 0 })
  t.equal((await get('/fast', 'bob')).status, 503, 'an idle session is a new one: refused')
  const s = app.concurrency.sessions
  t.equal(s?.draining, true, 'the process stays draining until it closes')
  t.equal(s?.refusedByReason.draining, 3)
  t.equal(app.concurrency.rejected, 3)
  await app.close()
})

t.test('a drain timeout ends the wait with sessions still active', async t => {
  const { app, clock, get } = await setup(t, {})
  t.equal((await get('/fast', 'alice')).status, 200)
  const drain = app.concurrency.drain({ timeout: 15_000 })
  for (let i = 0; i < 3; i++) {
    clock.advance(5_000)
    t.equal((await get('/fast', 'alice')).status, 200)
  }
  t.same(await drain, { reason: 'timeout', remaining: 1 })
})

t.test('drain() without sessions: every new request is refused, the drain ends at once', async t => {
  const { app, get } = await setup(t, { sessions: undefined })
  t.equal(app.concurrency.sessions, undefined)
  t.same(await app.concurrency.drain({ timeout: 1000 }), { reason: 'idle', remaining: 0 })
  const res = await get('/fast', 'alice')
  t.equal(res.status, 503)
  t.equal(res.connection, 'close')
  t.match(app.concurrency.sessions, { draining: true, refused: 1, active: 0 })
})

t.test('drainOnClose: close() serves active sessions until they go idle, refuses new users, then closes', async t => {
  const { app, clock, get, arrived, release } = await setup(t, { drainOnClose: { timeout: 60_000 } }, { return503OnClosing: false })
  t.equal((await get('/fast', 'alice')).status, 200)
  const slow = get('/slow', 'bob')
  await arrived(1)
  let closed = false
  const closing = app.close().then(() => { closed = true })
  await settle()
  t.equal(app.concurrency.sessions?.draining, true)
  const active = await get('/fast', 'alice')
  t.equal(active.status, 200, 'an active session is served during close')
  t.equal(active.connection, 'close', 'Fastify asks clients to reconnect while closing')
  const newUser = await get('/fast', 'carol')
  t.equal(newUser.status, 503)
  t.equal(newUser.retryAfter, '1')
  release()
  const slowRes = await slow
  t.equal(slowRes.status, 200)
  t.equal(slowRes.body.length, BODY.length)
  t.notOk(closed, 'close waits for the sessions')
  clock.advance(10_000)
  await closing
  t.ok(closed)
})

t.test('drainOnClose: the drain timeout bounds close()', async t => {
  const { app, clock, get } = await setup(t, { drainOnClose: true }, { return503OnClosing: false })
  t.equal((await get('/fast', 'alice')).status, 200)
  const closing = app.close()
  await settle()
  let closed = false
  closing.then(() => { closed = true }, () => {})
  for (let i = 0; i < 2; i++) {
    clock.advance(4_000)
    t.equal((await get('/fast', 'alice')).status, 200)
  }
  await settle()
  t.notOk(closed)
  clock.advance(2_000) // the default drain timeout, 10 s, has passed; alice is still active
  await closing
  t.ok(closed, 'closed after the drain timeout')
})

t.test('drainOnClose requires return503OnClosing: false; bad values fail ready()', async t => {
  for (const [server, drainOnClose, message] of [
    [{}, true, /"drainOnClose": requires Fastify\(\{ return503OnClosing: false \}\)/],
    [{ return503OnClosing: true }, { timeout: 5 }, /return503OnClosing/],
    [{ return503OnClosing: false }, { timeout: -1 }, /"drainOnClose\.timeout"/],
    [{ return503OnClosing: false }, { timout: 5 }, /"drainOnClose\.timout": unknown option/],
    [{ return503OnClosing: false }, 'yes', /"drainOnClose": expected an object/]
  ] as const) {
    const app = Fastify(server)
    app.register(fastifyAdaptiveConcurrency, { drainOnClose } as never)
    await t.rejects(async () => { await app.ready() }, { code: 'FST_CONCURRENCY_INVALID_OPTION', message })
    await app.close()
  }
  const ok = Fastify({ return503OnClosing: false })
  await ok.register(fastifyAdaptiveConcurrency, { drainOnClose: false })
  await ok.close()
})
