// The status route serialises with fast-json-stringify, which silently drops any field its schema
// does not name. These tests fail when a status field is missing from the schema: a snapshot
// with every field filled (the type makes the fixture list them all) must come back unchanged,
// and the live route must serve every field the snapshot has. test/types/status-schema.tst.ts
// checks the same against the types, at compile time.
import t from 'tap'
import Fastify from 'fastify'
import underPressure from '@fastify/under-pressure'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { snapshotSchema } from '../../lib/status-route'
import type { ConcurrencySnapshot } from '../../lib/types'

/** Every optional field made required and every `| undefined` removed, at every depth. */
type Full<T> =
  T extends ReadonlyArray<infer E> ? Array<Full<E>>
    : T extends object ? { [K in keyof T]-?: Full<Exclude<T[K], undefined>> }
      : T

// Adding a field to ConcurrencySnapshot or anything it contains makes this fail to compile until
// the field is given a value here; the test below then fails until the schema names it.
const full: Full<ConcurrencySnapshot> = {
  algorithm: 'gradient2',
  limit: 12,
  inflight: 3,
  admitted: 100,
  rejected: 7,
  succeeded: 90,
  dropped: 2,
  ignored: 1,
  bypassed: 4,
  overloaded: false,
  shedding: true,
  state: { minRtt: 1.25, phase: 'probe' },
  longLived: { open: 6, websockets: 3, waiting: 2, sending: 1, admitted: 40, routes: { 'GET /poll': { open: 2, longLived: 'learned' } } },
  sessions: {
    active: 5,
    seats: 6,
    refused: 3,
    refusedByReason: { 'session-cap': 1, draining: 1, 'store-unavailable': 1 },
    draining: true,
    evicted: 2
  },
  underPressure: { eventLoopDelay: 1.5, rssBytes: 1024, heapUsed: 512, eventLoopUtilized: 0.25, underPressure: true },
  history: [{ t: 1_700_000_000_000, limit: 12, inflight: 4, admitted: 30, rejected: 2, rttP50: null, rttP99: 4.5 }],
  queue: {
    length: 2,
    size: 50,
    timeout: 500,
    order: 'fifo',
    standingTimeout: 5,
    interval: 250,
    standing: true,
    waitP99: 12.5,
    waitCount: 9,
    waitWindow: 10_000,
    estimatedWait: 33.5,
    enqueued: 20,
    granted: 15,
    timedOut: 1,
    deadlineExpired: 1,
    cancelled: 1,
    rejectedFull: 1,
    evicted: 1,
    standingEpisodes: 2
  },
  partitions: { live: { share: 0.7, limit: 8, inflight: 2, admitted: 60, rejected: 1 } },
  unknownPartitions: 3,
  serviceTime: 3.25,
  sampleClasses: { classes: 4, learned: 3, unsampled: 0 }
}

t.test('a snapshot with every field filled comes back unchanged through the schema', async t => {
  const app = Fastify()
  app.get('/status', { schema: { response: { 200: snapshotSchema } } }, async () => full)
  t.teardown(() => app.close())
  const res = await app.inject('/status')
  t.equal(res.statusCode, 200)
  t.strictSame(res.json(), full)
})

/** The key paths of a JSON value, map keys and array indexes included. */
function paths (value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object') return [prefix]
  const entries = Object.entries(value)
  if (entries.length === 0) return [prefix]
  return entries.flatMap(([k, v]) => paths(v, `${prefix}.${k}`)).sort()
}

t.test('the live route serves every field of the snapshot, with every feature on', async t => {
  const app = Fastify()
  await app.register(underPressure)
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: { name: 'fixed', options: { limit: 10 } },
    signal: { sampleClass: () => 'one' },
    statusRoute: true,
    queue: { size: 5, timeout: 100, deadlineHeader: 'x-budget' },
    partitions: { shares: { live: 0.5 } },
    rejection: { retryAfter: 'auto' },
    sessions: { key: request => request.headers['x-user'] as string | undefined, idleTimeout: 60_000, maxSessions: 10 }
  })
  app.get('/', async () => 'ok')
  t.teardown(() => app.close())
  await app.inject({ url: '/', headers: { 'x-user': 'alice', 'x-budget': '1000' } })
  const res = await app.inject('/status?history=true')
  const snapshot = JSON.parse(JSON.stringify(app.concurrency.snapshot({ history: true })))
  for (const block of ['sessions', 'underPressure', 'queue', 'partitions', 'serviceTime', 'unknownPartitions', 'history', 'sampleClasses']) {
    t.ok(block in snapshot, `the snapshot has ${block}`)
  }
  t.same(paths(res.json()), paths(snapshot))
})
