// A user callback that throws must never take a request (or the app) down through the plugin:
// the exception is caught, logged at error level, and the request is handled on the safe side.
// One test per callback the plugin calls on the request path: signal.classify, bypass,
// partitions.choose, sessions.key and observers added to the limiter.
// (rejection.onLimitExceeded and sessions.onRefused answer the request themselves: their errors
// go to Fastify's error handler, as a route handler's would; see rejection.test.ts.)
import t from 'tap'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { settle } from './helpers'

interface LogLine { level: number, msg: string, err?: { message: string } }

async function appWith (opts: FastifyAdaptiveConcurrencyOptions): Promise<{ app: FastifyInstance, logs: LogLine[] }> {
  const logs: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      logs.push(JSON.parse(chunk.toString()) as LogLine)
      cb()
    }
  })
  const app = Fastify({ logger: { level: 'error', stream } })
  await app.register(fastifyAdaptiveConcurrency, { eventLoop: false, ...opts } as FastifyAdaptiveConcurrencyOptions)
  app.get('/', async () => 'ok')
  await app.ready()
  return { app, logs }
}

function boom (): never {
  throw new Error('user callback bug')
}

function loggedBug (logs: LogLine[], callback: string): boolean {
  return logs.some(l => l.level === 50 && l.msg.includes(`${callback} threw`) && l.err?.message === 'user callback bug')
}

t.test('bypass throws: the request is limited as usual (not bypassed), answered 200, and the bug logged', async t => {
  const { app, logs } = await appWith({ algorithm: { name: 'fixed', options: { limit: 4 } }, bypass: boom })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  await settle()
  t.equal(res.statusCode, 200)
  const s = app.concurrency
  t.same({ admitted: s.admitted, succeeded: s.succeeded, bypassed: s.bypassed, inflight: s.inflight },
    { admitted: 1, succeeded: 1, bypassed: 0, inflight: 0 })
  t.ok(loggedBug(logs, 'bypass'), 'logged at error level with the error')
})

t.test('partitions.choose throws: the request goes to the default partition, answered 200, and the bug logged', async t => {
  const { app, logs } = await appWith({
    algorithm: { name: 'fixed', options: { limit: 4 } },
    partitions: { shares: { live: 0.5 }, choose: boom }
  })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  await settle()
  t.equal(res.statusCode, 200)
  const partitions = app.concurrency.snapshot().partitions
  t.equal(partitions?.default.admitted, 1)
  t.equal(partitions?.live.admitted, 0)
  t.equal(app.concurrency.inflight, 0)
  t.ok(loggedBug(logs, 'partitions.choose'))
})

t.test('signal.classify throws: the request counts as ignored (no sample), answered 200, and the bug logged', async t => {
  const { app, logs } = await appWith({ algorithm: { name: 'fixed', options: { limit: 4 } }, signal: { classify: boom } })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  await settle()
  t.equal(res.statusCode, 200)
  const s = app.concurrency
  t.same({ admitted: s.admitted, ignored: s.ignored, succeeded: s.succeeded, inflight: s.inflight },
    { admitted: 1, ignored: 1, succeeded: 0, inflight: 0 })
  t.ok(loggedBug(logs, 'classify'))
})

t.test('sessions.key throws: the request counts as sessionless, answered 200, and the bug logged', async t => {
  const { app, logs } = await appWith({
    algorithm: { name: 'fixed', options: { limit: 4 } },
    sessions: { key: boom, idleTimeout: 60_000, maxSessions: 1 }
  })
  t.teardown(() => app.close())
  const res = await app.inject('/')
  await settle()
  t.equal(res.statusCode, 200)
  t.equal(app.concurrency.sessions?.active, 0, 'no session was created from a failed key')
  t.equal(app.concurrency.inflight, 0)
  t.ok(loggedBug(logs, 'sessions.key'))
})

t.test('a throwing callback under a queue: 50 requests at limit 2, every one answered, nothing leaked', async t => {
  let calls = 0
  const { app, logs } = await appWith({
    algorithm: { name: 'fixed', options: { limit: 2 } },
    queue: { size: 100, timeout: 5000 },
    partitions: {
      shares: { live: 0.5 },
      // Every other call throws, so queued and immediate requests both meet the bug.
      choose: () => { if (calls++ % 2 === 0) boom(); return 'live' }
    },
    bypass: () => { if (calls % 3 === 0) boom(); return false },
    signal: { classify: () => { if (calls % 5 === 0) boom(); return 'success' } }
  })
  t.teardown(() => app.close())
  const responses = await Promise.all(Array.from({ length: 50 }, () => app.inject('/')))
  await settle()
  t.same([...new Set(responses.map(r => r.statusCode))], [200])
  const s = app.concurrency
  t.equal(s.inflight, 0)
  t.equal(s.admitted, 50)
  t.equal(s.admitted, s.succeeded + s.dropped + s.ignored + s.inflight)
  t.equal(s.snapshot().queue?.length, 0)
  t.ok(logs.length > 0)
})

t.test('a user observer that throws (fastify.concurrency.limiter.addObserver): requests are served, nothing leaks, logged once', async t => {
  const { app, logs } = await appWith({ algorithm: { name: 'fixed', options: { limit: 4 } } })
  t.teardown(() => app.close())
  app.concurrency.limiter.addObserver({ onAdmit: boom, onRelease: boom })
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/')).statusCode, 200)
  await settle()
  const s = app.concurrency
  t.same({ admitted: s.admitted, succeeded: s.succeeded, inflight: s.inflight }, { admitted: 3, succeeded: 3, inflight: 0 })
  const lines = logs.filter(l => l.level === 50 && l.msg.includes('a limiter observer threw') && l.err?.message === 'user callback bug')
  t.equal(lines.length, 1, 'six errors, one log line (at most one per 10 s)')
})
