// Redis stops mid-run: each failure policy answers within storeTimeout, warns at most once per
// interval, and nothing throws. Runs its own redis-server child so it can kill it.
import t from 'tap'
import Redis from 'ioredis'
import { RedisStore } from '../../lib/sessions/redis-store'
import { SessionTracker } from '../../lib/sessions/tracker'
import { redisFor } from './redis-server'

const STORE_TIMEOUT = 150
// Slack for a loaded 2-core machine; without the timeout these calls would never return.
const SLACK = 1000

async function timed<T> (work: () => Promise<T>): Promise<{ value: T, ms: number }> {
  const start = performance.now()
  const value = await work()
  return { value, ms: performance.now() - start }
}

t.test('Redis stopped mid-run', async t => {
  const redis = await redisFor(t, 'failure-policy tests')
  if (redis === undefined) return
  // maxRetriesPerRequest null: while Redis is down, ioredis queues commands forever, so only
  // the store's own timeout can answer.
  const hanging = new Redis(redis.url, { maxRetriesPerRequest: null, lazyConnect: true })
  // No offline queue: commands fail at once while disconnected (the error path).
  const failing = new Redis(redis.url, { enableOfflineQueue: false, lazyConnect: true })
  t.teardown(() => { hanging.disconnect(); failing.disconnect() })
  // Connection errors are reported by the store's policy; the clients' own events are noise.
  hanging.on('error', () => {})
  failing.on('error', () => {})
  await Promise.all([hanging.connect(), failing.connect()])

  const warnings: Array<{ obj: Record<string, unknown>, msg: string }> = []
  const logger = { warn: (obj: object, msg: string) => { warnings.push({ obj: obj as Record<string, unknown>, msg }) } }
  const key = `test:failure:${redis.port}`
  const open = new RedisStore({ client: hanging, key, storeTimeout: STORE_TIMEOUT, onStoreError: 'open', logger })
  const closed = new RedisStore({ client: failing, key, storeTimeout: STORE_TIMEOUT, onStoreError: 'closed', logger })
  const openTracker = new SessionTracker({ idleTimeout: 60_000, maxSessions: 10, store: open })
  const closedTracker = new SessionTracker({ idleTimeout: 60_000, maxSessions: 10, store: closed })
  t.teardown(async () => { await openTracker.close(); await closedTracker.close() })

  t.equal(await openTracker.admit('before-open'), 'admitted')
  t.equal(await closedTracker.admit('before-closed'), 'admitted')
  t.equal(open.failures + closed.failures, 0)

  await redis.stop()

  t.test("'open' admits new sessions within storeTimeout and warns once", async t => {
    for (let i = 0; i < 3; i++) {
      const { value, ms } = await timed(async () => await openTracker.admit(`new-open-${i}`))
      t.equal(value, 'admitted')
      t.ok(ms >= STORE_TIMEOUT - 5 && ms < STORE_TIMEOUT + SLACK, `answered by the timeout after ${ms.toFixed(0)} ms`)
    }
    t.equal(openTracker.classify('before-open'), 'active', 'existing sessions are unaffected')
    t.equal(openTracker.classify('new-open-0'), 'active', 'an open-admitted session is tracked')
    t.equal(open.failures, 3)
    const mine = warnings.filter((w) => w.obj.policy === 'open')
    t.equal(mine.length, 1, 'one warning per warnInterval')
    t.match(mine[0], { obj: { operation: 'register', suppressed: 0 }, msg: /admitted without a shared seat/ })
    t.equal(mine[0].obj.err instanceof Error && mine[0].obj.err.name, 'StoreTimeoutError')
  })

  t.test("'closed' refuses new sessions within storeTimeout; existing ones keep going", async t => {
    const { value, ms } = await timed(async () => await closedTracker.admit('new-closed'))
    t.equal(value, 'store-unavailable')
    t.ok(ms < STORE_TIMEOUT + SLACK, `answered after ${ms.toFixed(0)} ms`)
    t.equal(closedTracker.classify('before-closed'), 'active')
    t.equal(closedTracker.stats().refusedByReason['store-unavailable'], 1)
    t.match(warnings.find((w) => w.obj.policy === 'closed'), { msg: /refused/ })
  })

  t.test('heartbeats, remove and count fail quietly', async t => {
    openTracker.classify('before-open')
    await open.flush()
    await openTracker.end('before-open')
    t.equal(await open.count(Date.now()), undefined)
    closedTracker.classify('before-closed')
    await closed.flush()
    t.ok(open.failures >= 6, `failures counted (${open.failures})`)
  })

  t.test('after Redis comes back, seats are shared again', async t => {
    await redis.restart()
    await hanging.ping()
    t.equal(await open.register('back', Date.now(), 60_000, 10), 'granted')
    t.equal(await hanging.zscore(key, 'back') !== null, true, 'the seat is in Redis again')
  })
})
