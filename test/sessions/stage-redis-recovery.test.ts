// The reserve for active sessions with a RedisStore shared by two apps (two processes): each
// app keeps it for the sessions it counts as active, those go when they expire or when the
// cluster lost their seats, and the seat cap stays exact throughout. Runs its own redis-server
// child; time passing in Redis is simulated with `ageSeats`, alongside the apps' manual clock.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import Redis from 'ioredis'
import { RedisStore } from '../../lib/sessions/redis-store'
import { ManualClock } from './helpers'
import { heldApp } from './held-app'
import { ageSeats, redisFor } from './redis-server'

const IDLE_TIMEOUT = 1000
// No heartbeat on a timer during a test: it flushes when the test says so.
const HEARTBEAT = 3_600_000
const STORE_TIMEOUT = 2000
const SEAT_LIFE = IDLE_TIMEOUT + HEARTBEAT + STORE_TIMEOUT

t.test('RedisStore: the reserve follows the sessions active in each app', async t => {
  const server = await redisFor(t, 'plugin + RedisStore recovery tests')
  if (server === undefined) return
  const admin = new Redis(server.url)
  t.teardown(() => admin.disconnect())

  async function cluster (t: tap.Test, maxSessions: number) {
    const pool = `test:recovery:${randomUUID()}`
    const clock = new ManualClock(Date.now())
    const app = async () => {
      const client = new Redis(server!.url)
      t.teardown(() => client.disconnect())
      const store = new RedisStore({ client, key: pool, storeTimeout: STORE_TIMEOUT, heartbeatInterval: HEARTBEAT })
      const held = await heldApp(t, { limit: 10, clock, serviceMs: 25, sessions: { idleTimeout: IDLE_TIMEOUT, maxSessions, store } })
      return { ...held, store }
    }
    return { pool, a: await app(), b: await app() }
  }

  t.test('after an overload, new users get in as soon as the old sessions expired; the seat cap stays exact', async t => {
    const { pool, a } = await cluster(t, 25)
    for (let i = 0; i < 20; i++) t.equal(await a.serve(`old${i}`), 200)
    let refused = 0
    for (let i = 0; i < 20; i++) if (await a.hold(`old${i}`) !== 'admitted') refused++
    t.equal(refused, 10, 'the overload: the limit of 10 is full, the other 10 sessions refused')
    t.same(await a.releaseAll(), Array(10).fill(200))

    a.clock.advance(IDLE_TIMEOUT)
    t.equal(a.app.concurrency.sessions?.active, 0, 'the old sessions expired in the app')
    t.equal(await admin.zcard(pool), 20, 'their seats outlive them by the heartbeat grace')
    for (let i = 0; i < 5; i++) t.equal(await a.hold(`new${i}`), 'admitted', `new user ${i}: no reserve for the expired sessions`)
    t.equal(await a.hold('new5'), 503, 'but the 26th seat is refused: the cap is exact')
    t.match(a.app.concurrency.sessions?.refusedByReason, { 'session-cap': 1 })
    t.same(await a.releaseAll(), Array(5).fill(200))

    await ageSeats(admin, pool, SEAT_LIFE)
    t.equal(await a.serve('new5'), 200, 'once the old seats expired in Redis, the cap has room again')
    t.equal(await admin.zcard(pool), 1)
  })

  t.test('sessions whose seats the cluster lost take their share of the reserve with them', async t => {
    const { pool, a, b } = await cluster(t, 10)
    for (let i = 0; i < 10; i++) t.equal(await a.serve(`s${i}`), 200)
    // The ten sessions overload app A: its limit is theirs, and more of them are refused.
    for (let i = 0; i < 10; i++) t.equal(await a.hold(`s${i}`), 'admitted')
    for (let i = 0; i < 5; i++) t.equal(await a.hold(`s${i}`), 503)
    t.same(await a.releaseAll(), Array(10).fill(200))
    t.equal(await a.hold(), 'admitted', 'A idle: one request always gets in')
    t.equal(await a.hold(), 503, 'the rest of the limit is kept for the ten active sessions')
    t.same(await a.releaseAll(), [200])

    // Their seats expire in Redis (A's last heartbeat is still pending) and app B fills the cap.
    await ageSeats(admin, pool, SEAT_LIFE)
    for (let i = 0; i < 10; i++) t.equal(await b.serve(`b${i}`), 200)
    t.equal(await admin.zcard(pool), 10)
    await a.store.flush()
    t.equal(a.app.concurrency.sessions?.active, 0, "A's heartbeat found the seats gone: A forgets those sessions")
    const codes: Array<'admitted' | number> = []
    for (let i = 0; i < 10; i++) codes.push(await a.hold())
    t.same(codes, Array(10).fill('admitted'), 'A keeps nothing for them: its whole limit is open')
    t.same(await a.releaseAll(), Array(10).fill(200))
    t.equal(await admin.zcard(pool), 10, "B's sessions keep their seats")
  })
})
