// One RedisStore instance belongs to one registration: a second registration would take over
// its onSeatLost, and closing either app would close the store for both. Refused at ready();
// two stores on one client and key are the way to share a cap (see stage-redis.test.ts).
import t from 'tap'
import Fastify from 'fastify'
import Redis from 'ioredis'
import { fastifyAdaptiveConcurrency } from '../../index'
import { RedisStore } from '../../sessions'
import type { FastifyAdaptiveConcurrencyOptions } from '../../index'
import { redisFor } from './redis-server'

t.test('one store instance in two registrations fails ready() with an FST_ error', async t => {
  const server = await redisFor(t, 'test')
  if (server === undefined) return
  const client = new Redis(server.url)
  t.teardown(() => client.disconnect())
  const store = new RedisStore({ client, key: 'test:shared-store', storeTimeout: 2000 })
  const options = (): FastifyAdaptiveConcurrencyOptions => ({
    eventLoop: false,
    sessions: { key: (request) => request.headers['x-user'] as string | undefined, idleTimeout: 60_000, maxSessions: 1, store }
  } as FastifyAdaptiveConcurrencyOptions)

  const first = Fastify()
  await first.register(fastifyAdaptiveConcurrency, options())
  first.get('/', async () => 'ok')
  await first.ready()
  t.teardown(() => first.close())

  const firstsListener = store.onSeatLost
  t.type(firstsListener, 'function')
  const second = Fastify()
  second.register(fastifyAdaptiveConcurrency, options())
  await t.rejects(async () => { await second.ready() }, {
    code: 'FST_CONCURRENCY_INVALID_OPTION',
    message: /"sessions\.store".*another registration/
  })
  await second.close()
  t.equal(store.onSeatLost, firstsListener, 'lost seats are still reported to the first registration')

  // The first registration is untouched: its store still seats sessions and reports to it.
  const as = async (user: string): Promise<number> => (await first.inject({ url: '/', headers: { 'x-user': user } })).statusCode
  t.equal(await as('alice'), 200)
  t.equal(await as('bob'), 503, 'the cap of 1 still holds')
  t.equal(await client.zcard('test:shared-store'), 1)

  // A second store on the same client and key is the supported way to share the cap.
  const third = Fastify()
  await third.register(fastifyAdaptiveConcurrency, {
    ...options(),
    sessions: { ...options().sessions, store: new RedisStore({ client, key: 'test:shared-store', storeTimeout: 2000 }) }
  } as FastifyAdaptiveConcurrencyOptions)
  third.get('/', async () => 'ok')
  await third.ready()
  t.equal((await third.inject({ url: '/', headers: { 'x-user': 'carol' } })).statusCode, 503, 'one cap across both apps')
  await third.close()
  t.equal(await as('alice'), 200, "closing the other app leaves this app's store working")
})
