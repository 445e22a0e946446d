// RedisStore against a real Redis (REDIS_URL; .ci/run starts one).
import t from 'tap'
import { randomUUID } from 'node:crypto'
import Redis from 'ioredis'
import { RedisStore } from '../../lib/sessions/redis-store'
import { SessionTracker } from '../../lib/sessions/tracker'
import { ManualClock } from './helpers'
import { ageSeats, redisTime } from './redis-server'

const url = process.env.REDIS_URL
if (url === undefined || url === '') {
  t.comment('REDIS_URL is unset: RedisStore tests SKIPPED (.ci/run starts redis-server and sets it)')
  t.plan(0, 'REDIS_URL unset')
} else {
  const clients: Redis[] = []
  const client = () => {
    const c = new Redis(url)
    clients.push(c)
    return c
  }
  t.teardown(async () => { await Promise.all(clients.map((c) => c.quit())) })
  const pool = () => `test:sessions:${randomUUID()}`

  t.test('grants up to maxSessions; a seated key is granted again; expiry frees the seat', async t => {
    const key = pool()
    const redis = client()
    const store = new RedisStore({ client: redis, key, heartbeatInterval: 1000, storeTimeout: 500 })
    t.teardown(() => store.close())
    t.equal(await store.register('a', 1000, 10_000, 2), 'granted')
    t.equal(await store.register('b', 1000, 10_000, 2), 'granted')
    t.equal(await store.register('c', 1000, 10_000, 2), 'full')
    t.equal(store.lastCount, 2)
    t.equal(await store.count(1000), 2)
    // Seats live ttl + grace (heartbeatInterval + storeTimeout: 11500 ms) from Redis's now.
    await ageSeats(redis, key, 10_000)
    const before = await redisTime(redis)
    t.equal(await store.register('a', 11_000, 10_000, 2), 'granted', 'already seated')
    const after = await redisTime(redis)
    const score = Number(await redis.zscore(key, 'a'))
    t.ok(score >= before + 11_500 && score <= after + 11_500, 'and extended by 11500 ms from Redis TIME')
    await ageSeats(redis, key, 1500)
    t.equal(await store.register('c', 12_500, 10_000, 2), 'granted', 'b expired, its seat freed')
    t.equal(await store.count(12_500), 2, 'a and c')
    await ageSeats(redis, key, 10_000)
    t.equal(await store.count(22_500), 1, 'a expired too; only c is left')
    const ttl = await redis.pttl(key)
    t.ok(ttl > 0 && ttl <= 11_500, `the pool key expires on its own (pttl ${ttl})`)
  })

  t.test('two trackers on one Redis share one cap', async t => {
    const key = pool()
    const clock = new ManualClock(Date.now())
    const redis = client()
    const make = () => new SessionTracker({
      idleTimeout: 1000,
      maxSessions: 3,
      clock: clock.now,
      timers: clock,
      store: new RedisStore({ client: client(), key, heartbeatInterval: 100, storeTimeout: 1000 })
    })
    const one = make()
    const two = make()
    t.teardown(async () => { await one.close(); await two.close() })
    t.equal(await one.admit('u1'), 'admitted')
    t.equal(await one.admit('u2'), 'admitted')
    t.equal(await two.admit('u3'), 'admitted')
    t.equal(await two.admit('u4'), 'session-cap', 'the second process sees the first one\'s seats')
    t.equal(await one.admit('u5'), 'session-cap')
    t.equal(await two.admit('u1'), 'admitted', 'a user moving to the other process keeps its seat')
    t.equal(two.stats().seats, 3)
    // u1 stays busy on process two; u2 and u3 go idle. Heartbeats carry u1's activity.
    clock.advance(900)
    await ageSeats(redis, key, 900)
    t.equal(two.classify('u1'), 'active')
    await (two.store as RedisStore).flush()
    // Seats live 2100 ms (idle 1000 + heartbeat 100 + timeout 1000): u2 and u3 have 1200 ms
    // left, u1 2100 again.
    clock.advance(1500)
    await ageSeats(redis, key, 1500)
    t.equal(await one.admit('u4'), 'admitted', 'u2 and u3 expired cluster-wide')
    t.equal(await two.admit('u5'), 'admitted')
    t.equal(await one.admit('u6'), 'session-cap', 'u1 kept its seat through the heartbeat')
  })

  t.test('heartbeat: extends seats, re-seats an expired key when there is room, reports lost ones', async t => {
    const key = pool()
    const redis = client()
    const store = new RedisStore({ client: redis, key, heartbeatInterval: 1000, storeTimeout: 1000 })
    t.teardown(() => store.close())
    const lost: string[] = []
    store.onSeatLost = (keys) => { lost.push(...keys) }
    // A seat lives for ttl + grace (2000) from Redis's now, less what the activity's age.
    const seatOf = async (member: string, flush: () => Promise<unknown>): Promise<[number, number]> => {
      const before = await redisTime(redis)
      await flush()
      const after = await redisTime(redis)
      return [Number(await redis.zscore(key, member)) - after, Number(await redis.zscore(key, member)) - before]
    }
    const [low0, high0] = await seatOf('a', () => store.register('a', 0, 1000, 2))
    t.ok(low0 <= 3000 && high0 >= 3000, `registered for 3000 ms (${low0}..${high0})`)
    store.touch('a', 500, 1000)
    store.touch('a', 700, 1000)
    store.touch('other', 900, 1000)
    // Age the seat so the heartbeat's effect shows.
    await ageSeats(redis, key, 1000)
    const [low, high] = await seatOf('a', () => store.flush())
    t.ok(low <= 2800 && high >= 2800, `latest activity wins: 700 + 1000 - 900 + 2000 ms left (${low}..${high})`)
    await redis.zrem(key, 'other')
    // 'a' expires; 'b' and 'c' take both seats afterwards.
    await ageSeats(redis, key, 3000)
    await store.register('b', 4000, 1000, 2)
    await store.register('c', 4000, 1000, 2)
    store.touch('a', 4100, 1000)
    await store.flush()
    t.same(lost, ['a'], 'no room left for a')
    await store.remove('c')
    store.touch('a', 4200, 1000)
    await store.flush()
    t.same(lost, ['a'], 'with room, an expired key is seated again')
    t.ok(Number(await redis.zscore(key, 'a')) > await redisTime(redis), 'a holds a live seat')
    t.equal(await store.flush(), undefined, 'nothing pending: nothing sent')
  })

  t.test('large heartbeat batches are sent in chunks; the timer flushes on its own', async t => {
    const key = pool()
    const redis = client()
    const store = new RedisStore({ client: redis, key, heartbeatInterval: 10, storeTimeout: 1000 })
    t.teardown(() => store.close())
    const now = Date.now()
    for (let i = 0; i < 1200; i++) await store.register(`k${i}`, now, 60_000, 5000)
    for (let i = 0; i < 1200; i++) store.touch(`k${i}`, now + 1000, 60_000)
    await ageSeats(redis, key, 10_000)
    const before = await redisTime(redis)
    const flushing = store.flush()
    t.equal(store.flush(), flushing, 'one flush at a time')
    await flushing
    t.ok(Number(await redis.zscore(key, 'k1199')) >= before + 61_010, 'the last chunk went out too')
    await ageSeats(redis, key, 10_000)
    const aged = Number(await redis.zscore(key, 'k0'))
    store.touch('k0', now + 2000, 60_000)
    // The interval timer flushes without help; wait for its effect (bounded).
    const deadline = Date.now() + 10_000
    while (Date.now() < deadline && Number(await redis.zscore(key, 'k0')) === aged) {
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    t.ok(Number(await redis.zscore(key, 'k0')) > aged, 'extended by the timer\'s flush')
  })

  t.test('close flushes pending activity and leaves the client open', async t => {
    const key = pool()
    const redis = client()
    const store = new RedisStore({ client: redis, key })
    await store.register('a', 0, 1000, 1)
    store.touch('a', 100, 1000)
    await ageSeats(redis, key, 1000)
    const aged = Number(await redis.zscore(key, 'a'))
    await store.close()
    await store.close()
    t.ok(Number(await redis.zscore(key, 'a')) > aged, 'the pending activity was sent')
    t.equal(await redis.ping(), 'PONG')
  })

  t.test('options are validated', async t => {
    const redis = client()
    t.throws(() => new RedisStore(undefined as never), /"RedisStore"/)
    t.throws(() => new RedisStore({} as never), /RedisStore\.client/)
    t.throws(() => new RedisStore({ client: redis, key: '' }), /RedisStore\.key/)
    t.throws(() => new RedisStore({ client: redis, storeTimeout: 0 }), /RedisStore\.storeTimeout/)
    t.throws(() => new RedisStore({ client: redis, onStoreError: 'maybe' as never }), /RedisStore\.onStoreError/)
    t.throws(() => new RedisStore({ client: redis, logger: {} as never }), /RedisStore\.logger\.warn/)
    t.throws(() => new RedisStore({ client: redis, typo: 1 } as never), /RedisStore\.typo/)
    const store = new RedisStore({ client: redis })
    t.match(store, { policy: 'open', storeTimeout: 100, heartbeatInterval: 1000 })
    await store.close()
  })
}
