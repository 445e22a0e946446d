// Bad options, table-driven: every invalid value must fail `ready()` (never later, at request
// time) with FST_CONCURRENCY_INVALID_OPTION whose message names the offending option. Rows cover
// wrong types, out-of-range values and contradictory combinations, for every option group.
import t from 'tap'
import Fastify from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'

interface Row {
  /** The option the error must name (the quoted name in the message). */
  names: string
  options: Record<string, unknown>
  /** Fastify options, when the row depends on them. */
  fastify?: Record<string, unknown>
  /** A route registered after the plugin, when the row is about route config. */
  route?: Record<string, unknown>
}

const fn = (): undefined => undefined

const ROWS: Row[] = [
  // Top level: wrong types and unknown keys.
  { names: 'algorithm', options: { algorithm: 'netflix' } },
  { names: 'algorithm', options: { algorithm: 42 } },
  { names: 'algorithm', options: { algorithm: { name: 'half-made' } } },
  { names: 'maxLimt', options: { maxLimt: 10 } },
  { names: 'timeout', options: { timeout: 0 } },
  { names: 'timeout', options: { timeout: -5 } },
  { names: 'timeout', options: { timeout: '5s' } },
  { names: 'timeout', options: { timeout: Number.NaN } },
  { names: 'classify', options: { classify: 'success' } },
  { names: 'bypass', options: { bypass: true } },
  { names: 'statusCode', options: { statusCode: 500 } },
  { names: 'statusCode', options: { statusCode: '503' } },
  { names: 'retryAfter', options: { retryAfter: -1 } },
  { names: 'retryAfter', options: { retryAfter: 1.5 } },
  { names: 'retryAfter', options: { retryAfter: 86_401 } },
  { names: 'retryAfter', options: { retryAfter: 'soon' } },
  { names: 'onLimitExceeded', options: { onLimitExceeded: {} } },
  // Algorithm options: out of range and contradictory bounds.
  { names: 'algorithmOptions', options: { algorithmOptions: 'fast' } },
  { names: 'algorithmOptions.minLimit', options: { algorithm: 'aimd', algorithmOptions: { minLimit: 0 } } },
  { names: 'algorithmOptions.maxLimit', options: { algorithm: 'vegas', algorithmOptions: { maxLimit: 2.5 } } },
  { names: 'algorithmOptions.minLimit', options: { algorithm: 'gradient2', algorithmOptions: { minLimit: 50, maxLimit: 10 } } },
  { names: 'algorithmOptions.initialLimit', options: { algorithm: 'gradient', algorithmOptions: { initialLimit: 100, maxLimit: 10 } } },
  { names: 'algorithmOptions.limit', options: { algorithm: 'fixed', algorithmOptions: { limit: -3 } } },
  { names: 'algorithmOptions.initialLimit', options: { algorithm: 'fixed', algorithmOptions: { limit: 10, initialLimit: 20 } } },
  { names: 'algorithmOptions.rttTolerance', options: { algorithm: 'gradient2', algorithmOptions: { rttTolerance: 0.5 } } },
  { names: 'algorithmOptions.longWindow', options: { algorithm: 'gradient2', algorithmOptions: { longWindow: 0 } } },
  { names: 'algorithmOptions.timeout', options: { algorithm: 'aimd', algorithmOptions: { timeout: 0 } } },
  { names: 'algorithmOptions.beta', options: { algorithm: 'vegas', algorithmOptions: { alpha: 6, beta: 3 } } },
  { names: 'algorithmOptions.smoothing', options: { algorithm: 'gradient2', algorithmOptions: { smoothing: 2 } } },
  { names: 'algorithmOptions.typo', options: { algorithm: 'aimd', algorithmOptions: { typo: 1 } } },
  { names: 'algorithmOptions', options: { algorithm: { name: 'x', limit: 1, onSample: fn, state: () => ({}) }, algorithmOptions: {} } },
  { names: 'window', options: { algorithm: { name: 'x', limit: 1, onSample: fn, state: () => ({}) }, window: {} } },
  { names: 'window', options: { window: 'none' } },
  { names: 'window.minSamples', options: { window: { minSamples: 0 } } },
  { names: 'window.maxWindow', options: { window: { minWindow: 2000, maxWindow: 1000 } } },
  { names: 'window.percentile', options: { window: { percentile: 101 } } },
  // Status route.
  { names: 'exposeStatusRoute', options: { exposeStatusRoute: 'status' } },
  { names: 'exposeStatusRoute', options: { exposeStatusRoute: 3 } },
  { names: 'exposeStatusRoute.routeOpts.handler', options: { exposeStatusRoute: { routeOpts: { handler: fn } } } },
  { names: 'exposeStatusRoute.routeSchemaOpts.response', options: { exposeStatusRoute: { routeSchemaOpts: { response: {} } } } },
  { names: 'exposeStatusRoute.page.title', options: { exposeStatusRoute: { page: { title: 7 } } } },
  // Event-loop gate.
  { names: 'eventLoop', options: { eventLoop: 'on' } },
  { names: 'eventLoop.maxWait', options: { eventLoop: { maxWait: 0 } } },
  { names: 'eventLoop.maxWait', options: { eventLoop: { maxWait: 60_001 } } },
  // Backlog: queue, estimated wait, deadlines, partitions.
  { names: 'queue', options: { queue: true } },
  { names: 'queue.size', options: { queue: { size: 0 } } },
  { names: 'queue.size', options: { queue: { size: 2.5 } } },
  { names: 'queue.timeout', options: { queue: { timeout: 0 } } },
  { names: 'queue.order', options: { queue: { order: 'random' } } },
  { names: 'maxEstimatedWait', options: { maxEstimatedWait: 100 } },
  { names: 'maxEstimatedWait', options: { queue: {}, maxEstimatedWait: -1 } },
  { names: 'deadlineHeader', options: { deadlineHeader: 'x deadline' } },
  { names: 'deadlineHeader', options: { deadlineHeader: 12 } },
  { names: 'partitions', options: { partitions: {} } },
  { names: 'partitions.live', options: { partitions: { live: 1.5 } } },
  { names: 'partitions.live', options: { partitions: { live: 0 } } },
  { names: 'partitions', options: { partitions: { live: 0.7, batch: 0.7 } } },
  { names: 'partitions.1', options: { partitions: { 1: 0.5 } } },
  { names: 'partition', options: { partition: fn } },
  { names: 'partition', options: { partitions: { live: 0.5 }, partition: 'live' } },
  {
    names: 'config.adaptiveConcurrency.partition (GET /x)',
    options: { partitions: { live: 0.5 } },
    route: { adaptiveConcurrency: { partition: 'batch' } }
  },
  { names: 'config.adaptiveConcurrency.partition (GET /x)', options: {}, route: { adaptiveConcurrency: { partition: 'live' } } },
  // Sessions and drain.
  { names: 'sessions', options: { sessions: 'cookie' } },
  { names: 'sessions.key', options: { sessions: { idleTimeout: 1000 } } },
  { names: 'sessions.idleTimeout', options: { sessions: { key: fn } } },
  { names: 'sessions.idleTimeout', options: { sessions: { key: fn, idleTimeout: 0 } } },
  { names: 'sessions.maxSessions', options: { sessions: { key: fn, idleTimeout: 1000, maxSessions: 0 } } },
  { names: 'sessions.maxKeyLength', options: { sessions: { key: fn, idleTimeout: 1000, maxKeyLength: 100_000 } } },
  { names: 'sessions.store', options: { sessions: { key: fn, idleTimeout: 1000, store: {} } } },
  { names: 'drainOnClose', options: { drainOnClose: 'yes' } },
  { names: 'drainOnClose.timeout', options: { drainOnClose: { timeout: -1 } }, fastify: { return503OnClosing: false } },
  { names: 'drainOnClose', options: { drainOnClose: true } },
  // Observability.
  { names: 'instance', options: { instance: '' } },
  { names: 'metrics', options: { metrics: 'prometheus' } },
  { names: 'metrics.registry', options: { metrics: { registry: {} } } },
  { names: 'metrics.rttBuckets', options: { metrics: { rttBuckets: [0.5, 0.1] } } },
  { names: 'logging.sheddingInterval', options: { logging: { sheddingInterval: 0 } } },
  { names: 'history.seconds', options: { history: { seconds: 0 } } },
  { names: 'history', options: { history: 300 } }
]

t.ok(ROWS.length >= 40, `${ROWS.length} invalid option values (at least 40)`)

for (const row of ROWS) {
  t.test(`${row.names}: ${JSON.stringify(row.options, (_k, v: unknown) => typeof v === 'function' ? '[fn]' : v)}`, async t => {
    const app = Fastify(row.fastify)
    t.teardown(() => app.close())
    app.register(fastifyAdaptiveConcurrency, row.options as never)
    app.register(async function routes (scope) {
      if (row.route !== undefined) scope.get('/x', { config: row.route }, async () => 'x')
    })
    const err = await app.ready().then(() => undefined, (e: unknown) => e as Error & { code?: string })
    t.ok(err instanceof Error, 'ready() rejects')
    t.equal(err?.code, 'FST_CONCURRENCY_INVALID_OPTION')
    t.match(err?.message, `Invalid option "${row.names}"`, 'the message names the option')
  })
}
