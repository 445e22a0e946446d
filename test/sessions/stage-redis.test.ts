// RedisStore through the plugin: two Fastify apps sharing one Redis share one session cap
// (REDIS_URL; .ci/run starts redis-server and sets it).
import t from 'tap'
import { randomUUID } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import Redis from 'ioredis'
import { fastifyAdaptiveConcurrency } from '../../index'
import { RedisStore } from '../../sessions'
import type { FastifyAdaptiveConcurrencyOptions } from '../../index'

const url = process.env.REDIS_URL
if (url === undefined || url === '') {
  t.comment('REDIS_URL is unset: plugin + RedisStore tests SKIPPED (.ci/run starts redis-server and sets it)')
  t.plan(0, 'REDIS_URL unset')
} else {
  t.test('two apps, one Redis: maxSessions is one cap across both', async t => {
    const client = new Redis(url)
    const pool = `test:plugin-sessions:${randomUUID()}`
    const apps: FastifyInstance[] = []
    for (let i = 0; i < 2; i++) {
      const app = Fastify()
      await app.register(fastifyAdaptiveConcurrency, {
        eventLoop: false,
        sessions: {
          key: (request) => request.headers['x-user'] as string | undefined,
          idleTimeout: 60_000,
          maxSessions: 3,
          store: new RedisStore({ client, key: pool, storeTimeout: 2000 })
        },
        statusRoute: true
      } as FastifyAdaptiveConcurrencyOptions)
      app.get('/', async () => 'ok')
      await app.ready()
      apps.push(app)
    }
    t.teardown(async () => {
      for (const app of apps) await app.close()
      await client.quit()
    })
    const [a, b] = apps
    const as = (app: FastifyInstance, user: string) => app.inject({ url: '/', headers: { 'x-user': user } }).then((r) => r.statusCode)

    t.equal(await as(a, 'alice'), 200)
    t.equal(await as(b, 'bob'), 200)
    t.equal(await as(a, 'carol'), 200)
    t.equal(await as(b, 'dave'), 503, 'the fourth session is refused on the other app: the cap is global')
    t.equal(await as(a, 'erin'), 503)
    t.equal(await as(b, 'alice'), 200, 'alice keeps her seat when her request lands on the other app')
    t.equal(await as(a, 'bob'), 200)
    t.equal(await client.zcard(pool), 3)
    const status = (await b.inject('/status')).json()
    t.match(status.sessions, { active: 2, seats: 3, refused: 1, refusedByReason: { 'session-cap': 1 } })
    await a.close()
    t.equal(client.status, 'ready', 'closing an app leaves the user\'s Redis client open')
    t.equal(await as(b, 'carol'), 200, 'and the other app goes on using it')
  })
}
