// Active sessions first under overload, through the plugin. A fixed limit, handlers held open
// until the test releases them and one manual clock (sessions and limiter) make every admission
// decision deterministic.
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { kInternal } from '../../lib/internal'
import { recordingAlgorithm, settle, until } from '../plugin/helpers'
import { heldApp as held } from './held-app'

const SERVICE_MS = 10
const heldApp = (t: tap.Test, limit: number) => held(t, { limit, serviceMs: SERVICE_MS })

t.test('at the limit, active sessions get the slots and new sessions are shed first', async t => {
  const { app, hold, releaseAll } = await heldApp(t, 10)
  // Five users become active sessions.
  for (let i = 1; i <= 5; i++) t.equal((await app.inject({ url: '/fast', headers: { 'x-user': `u${i}` } })).statusCode, 200)

  // Three active-session requests in flight: demand 3, reserve ceil(1.25 * 3) = 4, of which 3
  // are in use, so new sessions may fill the limit minus the one unused reserved slot.
  for (let i = 1; i <= 3; i++) t.equal(await hold(`u${i}`), 'admitted')
  for (let i = 1; i <= 6; i++) t.equal(await hold(`new${i}`), 'admitted', `new session ${i} admitted`)
  t.equal(app.concurrency.inflight, 9)
  t.equal(await hold('new7'), 503, 'a new session is shed while a slot is still free')
  t.equal(await hold(), 503, 'so is a sessionless request')
  t.equal(await hold('u4'), 'admitted', 'an active session takes the last slot')
  t.equal(app.concurrency.inflight, 10)
  t.equal(await hold('u5'), 503, 'at the limit itself active sessions are refused too')
  t.equal(await hold('new8'), 503)
  t.equal(app.concurrency.rejected, 4)
  t.equal(app.concurrency.sessions?.refused, 0, 'overload shedding is not a session refusal')
  t.same(await releaseAll(), Array(10).fill(200))
  t.equal(app.concurrency.inflight, 0)
})

t.test('with no active sessions in flight, new sessions get all but the minimum reserve', async t => {
  const { app, clock, hold, releaseAll } = await heldApp(t, 20)
  // minReserveRatio 0.1: floor(0.1 * 20) = 2 slots are kept for active sessions.
  for (let i = 1; i <= 18; i++) t.equal(await hold(`n${i}`), 'admitted')
  t.equal(await hold('n19'), 503)
  t.equal(app.concurrency.inflight, 18)
  // n1..n18 are active sessions now: their next requests may use the reserve.
  t.equal(await hold('n1'), 'admitted')
  t.equal(await hold('n2'), 'admitted')
  t.equal(await hold('n3'), 503, 'the limit itself')
  t.same(await releaseAll(), Array(20).fill(200))
  t.equal(app.concurrency.inflight, 0)

  // The refused active request raised the estimated demand: fewer new sessions get in now.
  let before = 0
  while (await hold(`m${before}`) === 'admitted') before++
  t.same(await releaseAll(), Array(before).fill(200))
  t.ok(before < 18, `new sessions admitted with the raised reserve: ${before}`)
  // Demand decays with time (20 % of the excess per service time), completions or not:
  // capacity active sessions stopped using flows back.
  clock.advance(5 * SERVICE_MS)
  let after = 0
  while (await hold(`k${after}`) === 'admitted') after++
  t.equal(after, 18, 'back to all but the minimum reserve')
  t.same(await releaseAll(), Array(after).fill(200))
})

t.test('with a wait queue, active sessions wait for a slot while new sessions are shed at once', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(2),
    eventLoop: false,
    queue: { size: 10, timeout: 60_000 },
    sessions: { key: (request) => request.headers['x-user'] as string | undefined, idleTimeout: 60_000 },
    // A frozen session clock: no session may go idle between two requests on a slow machine.
    [kInternal]: { sessionClock: () => 1_000_000 }
  } as FastifyAdaptiveConcurrencyOptions)
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let inside = 0
  app.get('/fast', async () => 'ok')
  app.get('/slow', async () => { inside++; await gate; return 'ok' })
  await app.ready()
  t.teardown(() => app.close())
  const as = (url: string, user: string) => app.inject({ url, headers: { 'x-user': user } })

  t.equal((await as('/fast', 'alice')).statusCode, 200)
  const held = [as('/slow', 'alice'), as('/slow', 'alice')]
  await until(() => inside >= 2)
  const queued = as('/fast', 'alice')
  await settle()
  t.equal(app.concurrency.snapshot().queue?.length, 1, 'the active session waits in the queue')
  const bob = await as('/fast', 'bob')
  t.equal(bob.statusCode, 503, 'the new session is shed at once, not queued')
  t.equal(app.concurrency.snapshot().queue?.length, 1)
  release()
  t.same((await Promise.all([...held, queued])).map((r) => r.statusCode), [200, 200, 200])
  await settle()
  t.equal(app.concurrency.inflight, 0)
})
