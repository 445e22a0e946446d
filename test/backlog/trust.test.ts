// The README's partition example, run as documented: the partition comes from an identity an
// auth hook verified before the plugin's hook, and everyone else goes to the last partition.
// At limit 1 with `{ live: 0.7, batch: 0.3 }`, each partition is guaranteed one permit: a batch
// request is in flight and a batch waiter fills the queue. A client that forges what an unsafe
// `partition` would read (a traffic-class header, an unsigned or badly signed token) cannot raise
// its priority: it stays in batch, so it is neither admitted on live's guaranteed permit nor
// allowed to evict the waiter. A verified identity of the top class is admitted at once (the
// control that shows priority is really in play).
import t from 'tap'
import { createHmac } from 'node:crypto'
import Fastify from 'fastify'
import type { FastifyRequest } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { latch, settle, until } from '../plugin/helpers'
import { evaluate, readmeCodeBlock } from '../readme-snippets'

const SECRET = 'trust-test-secret'
const PLANS: Record<string, string> = { alice: 'interactive', bob: 'batch', carol: 'batch' }
const sign = (user: string): string => createHmac('sha256', SECRET).update(user).digest('base64url')
const token = (user: string): string => `Bearer ${user}.${sign(user)}`

/** The `choose:` expression (the partition chooser) of the README's backlog example. */
function readmePartition (): (request: FastifyRequest) => string | undefined {
  const block = readmeCodeBlock('backlog', 'partitions:')
  const line = /^\s*choose: (.+?),?\s*$/m.exec(block)
  if (line === null) throw new Error('the README backlog example has no choose line')
  return evaluate(line[1])
}

t.test('the README partition pattern: an unverified header or token cannot raise priority', async t => {
  const partition = readmePartition()
  const app = Fastify()
  app.decorateRequest('user', null)
  // Authentication before the plugin: a user is set only for a correctly signed token.
  app.addHook('onRequest', async (request) => {
    const m = /^Bearer ([a-z]+)\.([\w-]+)$/.exec(request.headers.authorization ?? '')
    if (m !== null && m[2] === sign(m[1]) && PLANS[m[1]] !== undefined) {
      (request as unknown as { user: { name: string, plan: string } }).user = { name: m[1], plan: PLANS[m[1]] }
    }
  })
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'fixed', options: { limit: 1 } },
    eventLoop: false,
    partitions: { shares: { live: 0.7, batch: 0.3 }, choose: partition },
    queue: { size: 1, timeout: 60_000, order: 'fifo' }
  })
  const hold = latch()
  const served: string[] = []
  app.get('/work', async (request) => {
    const who = (request as unknown as { user: { name: string } | null }).user?.name ?? 'anonymous'
    served.push(who)
    if (who === 'bob') await hold.wait()
    return { who }
  })
  await app.ready()
  t.teardown(() => app.close())

  const held = app.inject({ url: '/work', headers: { authorization: token('bob') } })
  await hold.arrived(1)
  // The queue's one place goes to a verified batch user.
  const waiter = app.inject({ url: '/work', headers: { authorization: token('carol') } })
  await until(() => app.concurrency.limiter.queue?.length === 1)

  const forgeries = [
    { 'x-traffic-class': 'live' },
    { 'x-traffic-class': 'live', authorization: 'Bearer alice.forged-signature' },
    { authorization: `Bearer mallory.${sign('mallory')}`, 'x-partition': 'live' }
  ]
  for (const headers of forgeries) {
    const res = await app.inject({ url: '/work', headers })
    t.equal(res.statusCode, 503, `forged ${JSON.stringify(headers)}: not served on live's permit`)
    t.match(res.json().message, /queue-full/, 'the full queue turned it away: it could not evict the batch waiter')
  }
  t.equal(app.concurrency.limiter.queue?.length, 1)
  t.equal(app.concurrency.snapshot().queue?.evicted, 0, 'no waiter was evicted for a forged request')
  t.equal(app.concurrency.snapshot().partitions?.live.admitted, 0)

  // Control: a verified interactive user is served at once, ahead of the batch waiter.
  const alice = await app.inject({ url: '/work', headers: { authorization: token('alice') } })
  t.same([alice.statusCode, alice.json()], [200, { who: 'alice' }])
  t.equal(app.concurrency.limiter.queue?.length, 1, 'the batch waiter still waits')
  hold.open()
  t.equal((await held).statusCode, 200)
  t.equal((await waiter).statusCode, 200)
  await settle()
  t.same(served, ['bob', 'alice', 'carol'])
  t.equal(app.concurrency.snapshot().partitions?.live.admitted, 1)
  t.equal(app.concurrency.inflight, 0)
})
