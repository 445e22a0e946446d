// Seats in Redis must not lie: a seat outlives its session's activity on every process, and a
// seat exists only for a session that was let in. Runs its own redis-server child, so it can
// pause Redis (CLIENT PAUSE) without disturbing other test files.
// Time passing in Redis is simulated with `ageSeats`, alongside the trackers' manual clock.
import t from 'tap'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import Redis, { type RedisOptions } from 'ioredis'
import { RedisStore } from '../../lib/sessions/redis-store'
import { SessionTracker } from '../../lib/sessions/tracker'
import { ManualClock } from './helpers'
import { ageSeats as age, redisFor } from './redis-server'

t.test('Redis seats', async t => {
  const server = await redisFor(t, 'seat tests')
  if (server === undefined) return
  const clients: Redis[] = []
  const client = (options: RedisOptions = {}): Redis => {
    const c = new Redis(server.url, options)
    c.on('error', () => {})
    clients.push(c)
    return c
  }
  t.teardown(() => { for (const c of clients) c.disconnect() })
  const admin = client()
  const pool = (): string => `test:seats:${randomUUID()}`
  const ageSeats = async (key: string, ms: number): Promise<void> => await age(admin, key, ms)

  t.test('clock skew between hosts cannot free a live seat: expiry follows Redis TIME', async t => {
    const HOUR = 3_600_000
    const host = (key: string, offset: number): SessionTracker => {
      const tracker = new SessionTracker({
        idleTimeout: 60_000,
        maxSessions: 1,
        clock: () => Date.now() + offset,
        store: new RedisStore({ client: client(), key, storeTimeout: 2000 })
      })
      t.teardown(() => tracker.close())
      return tracker
    }
    const one = pool()
    t.equal(await host(one, 0).admit('alice'), 'admitted')
    t.equal(await host(one, HOUR).admit('bob'), 'session-cap', "a host an hour fast does not see alice's seat as expired")

    const two = pool()
    const slow = host(two, -HOUR)
    t.equal(await slow.admit('carol'), 'admitted')
    t.equal(await host(two, 0).admit('dave'), 'session-cap', 'a seat taken by a host an hour slow is not born expired')
    slow.classify('carol')
    await (slow.store as RedisStore).flush()
    t.equal(await host(two, 0).admit('erin'), 'session-cap', "the slow host's heartbeat keeps carol's seat live")
  })

  t.test('keys differing only by lone surrogates hold distinct seats', async t => {
    const key = pool()
    const store = new RedisStore({ client: client(), key, storeTimeout: 2000 })
    t.teardown(() => store.close())
    const high = 'user\uD800'
    const low = 'user\uDC00'
    t.equal(await store.register(high, Date.now(), 60_000, 1), 'granted')
    t.equal(await store.register(low, Date.now(), 60_000, 1), 'full', 'a different key: no seat left')
    t.equal(await store.register('user\uFFFD', Date.now(), 60_000, 1), 'full', 'nor for the replacement character')
    t.equal(await store.register(high, Date.now(), 60_000, 1), 'granted', 'the same key keeps its seat')

    t.equal(await store.register(low, Date.now(), 60_000, 2), 'granted')
    await store.remove(high)
    t.equal(await store.count(Date.now()), 1, 'removing one key leaves the other seated')
    t.equal(await store.register(low, Date.now(), 60_000, 1), 'granted')

    // A lost seat is reported under the caller's own key, not a mangled one.
    const other = new RedisStore({ client: client(), key, storeTimeout: 2000 })
    t.teardown(() => other.close())
    const lost: string[] = []
    store.onSeatLost = (keys) => { lost.push(...keys) }
    await ageSeats(key, 3_600_000)
    t.equal(await other.register('someone', Date.now(), 60_000, 1), 'granted')
    store.touch(low, Date.now(), 60_000)
    await store.flush()
    t.same(lost, [low])
  })

  t.test("onStoreError 'closed': a register answered after storeTimeout gives its seat back", async t => {
    const key = pool()
    const slowClient = client()
    const store = new RedisStore({ client: slowClient, key, storeTimeout: 50, onStoreError: 'closed' })
    const other = new RedisStore({ client: client(), key, storeTimeout: 2000 })
    t.teardown(async () => { await store.close(); await other.close() })
    // Load the scripts into Redis first (through a store whose timeout a loaded machine cannot
    // hit), so the late reply is the script's and not a NOSCRIPT retry.
    t.equal(await other.register('warm-up', Date.now(), 60_000, 2), 'granted')
    await other.remove('warm-up')
    t.equal(await other.register('seated-elsewhere', Date.now(), 60_000, 2), 'granted')

    // Writes (scripts included) wait until UNPAUSE: Redis is slower than storeTimeout.
    await admin.client('PAUSE', 60_000, 'WRITE')
    const refused = await store.register('ghost', Date.now(), 60_000, 2)
    const alreadySeated = await store.register('seated-elsewhere', Date.now(), 60_000, 2)
    await admin.client('UNPAUSE')
    t.equal(refused, 'unavailable')
    t.equal(alreadySeated, 'unavailable')
    // Commands on one connection run in order: once this answers, both late registers ran.
    await slowClient.ping()
    // The release follows the late reply; wait for it (bounded), then check.
    const deadline = Date.now() + 5000
    while (Date.now() < deadline && await admin.zcard(key) !== 1) await new Promise((resolve) => setTimeout(resolve, 10))
    t.equal(await admin.zcard(key), 1, 'the refused session holds no seat')
    t.equal(await other.register('next', Date.now(), 60_000, 2), 'granted', 'its seat is free for the next session')
    t.equal(await other.register('seated-elsewhere', Date.now(), 60_000, 2), 'granted',
      'a seat the key held before the refused request is left alone')
    t.equal(await admin.zcard(key), 2)
  })

  t.test('a failed heartbeat goes out with the next flush: a Redis blip does not expire an active seat', async t => {
    const key = pool()
    const clock = new ManualClock(Date.now())
    // No offline queue: while disconnected, commands fail at once (a blip the heartbeat loses).
    const flaky = client({ enableOfflineQueue: false, lazyConnect: true })
    await flaky.connect()
    const storeA = new RedisStore({ client: flaky, key, heartbeatInterval: 1000, storeTimeout: 1000 })
    const options = { idleTimeout: 10_000, maxSessions: 1, clock: clock.now, timers: clock }
    const a = new SessionTracker({ ...options, store: storeA })
    const b = new SessionTracker({ ...options, store: new RedisStore({ client: client(), key, heartbeatInterval: 1000, storeTimeout: 1000 }) })
    t.teardown(async () => { await a.close(); await b.close() })

    t.equal(await a.admit('alice'), 'admitted')
    // 9 s later alice is still busy, but the heartbeat carrying that is lost.
    clock.advance(9000)
    await ageSeats(key, 9000)
    t.equal(a.classify('alice'), 'active')
    const ended = once(flaky, 'end')
    flaky.disconnect()
    await storeA.flush()
    t.equal(storeA.failures, 1, 'the heartbeat failed')
    await ended
    await flaky.connect()
    await storeA.flush()
    // 3 s more: past the seat the admit took (10 s + 2 s grace), well within alice's activity.
    clock.advance(3000)
    await ageSeats(key, 3000)
    t.equal(await b.admit('bob'), 'session-cap', 'alice still holds her seat')
    t.equal(a.classify('alice'), 'active')
    await storeA.flush()
    t.equal(a.classify('alice'), 'active', 'and her seat was not reported lost')
  })
  t.test('a key removed while its heartbeat was failing is not sent again', async t => {
    const key = pool()
    const flaky = client({ enableOfflineQueue: false, lazyConnect: true })
    await flaky.connect()
    const store = new RedisStore({ client: flaky, key, storeTimeout: 2000 })
    t.teardown(() => store.close())
    t.equal(await store.register('kept', Date.now(), 60_000, 5), 'granted')
    t.equal(await store.register('gone', Date.now(), 60_000, 5), 'granted')
    store.touch('kept', Date.now(), 60_000)
    store.touch('gone', Date.now(), 60_000)
    const ended = once(flaky, 'end')
    flaky.disconnect()
    const flushing = store.flush()
    // Logout while the heartbeat is in flight (the ZREM fails too; an admin removes the seat).
    const removing = store.remove('gone')
    await flushing
    await removing
    await ended
    await admin.zrem(key, 'gone')
    await flaky.connect()
    await ageSeats(key, 30_000)
    const aged = Number(await admin.zscore(key, 'kept'))
    await store.flush()
    t.ok(Number(await admin.zscore(key, 'kept')) > aged, 'the failed heartbeat of kept went out')
    t.equal(await admin.zscore(key, 'gone'), null, 'gone was not seated again')
  })
  t.test('activity older than a seat could live is not sent', async t => {
    const key = pool()
    const store = new RedisStore({ client: client(), key, heartbeatInterval: 1000, storeTimeout: 1000 })
    t.teardown(() => store.close())
    t.equal(await store.register('fresh', 0, 10_000, 5), 'granted')
    // Idle at 10000 on this host's clock; with 2000 ms of grace it has no life left at 12000.
    store.touch('stale', 0, 10_000)
    store.touch('fresh', 12_000, 10_000)
    await store.flush()
    t.equal(await admin.zscore(key, 'stale'), null, 'not seated again though there is room')
    t.not(await admin.zscore(key, 'fresh'), null)
  })
})
