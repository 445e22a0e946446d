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
  // Top level: wrong types and unknown keys (the old flat names are gone, not aliased).
  { names: 'algorithm', options: { algorithm: 'netflix' } },
  { names: 'algorithm', options: { algorithm: 42 } },
  { names: 'algorithm.name', options: { algorithm: { name: 'half-made' } } },
  { names: 'maxLimt', options: { maxLimt: 10 } },
  { names: 'algorithmOptions', options: { algorithmOptions: { limit: 10 } } },
  { names: 'timeout', options: { timeout: 1000 } },
  { names: 'exposeStatusRoute', options: { exposeStatusRoute: true } },
  { names: 'signal', options: { signal: 'fast' } },
  { names: 'signal.timeout', options: { signal: { timeout: 0 } } },
  { names: 'signal.timeout', options: { signal: { timeout: -5 } } },
  { names: 'signal.timeout', options: { signal: { timeout: '5s' } } },
  { names: 'signal.timeout', options: { signal: { timeout: Number.NaN } } },
  { names: 'signal.classify', options: { signal: { classify: 'success' } } },
  { names: 'signal.sampleClass', options: { signal: { sampleClass: 'route' } } },
  { names: 'signal.typo', options: { signal: { typo: 1 } } },
  { names: 'bypass', options: { bypass: true } },
  { names: 'rejection', options: { rejection: 503 } },
  { names: 'rejection.statusCode', options: { rejection: { statusCode: 500 } } },
  { names: 'rejection.statusCode', options: { rejection: { statusCode: '503' } } },
  { names: 'rejection.retryAfter', options: { rejection: { retryAfter: -1 } } },
  { names: 'rejection.retryAfter', options: { rejection: { retryAfter: 1.5 } } },
  { names: 'rejection.retryAfter', options: { rejection: { retryAfter: 86_401 } } },
  { names: 'rejection.retryAfter', options: { rejection: { retryAfter: 'soon' } } },
  { names: 'rejection.onLimitExceeded', options: { rejection: { onLimitExceeded: {} } } },
  // Algorithm options: out of range and contradictory bounds.
  { names: 'algorithm.options', options: { algorithm: { name: 'gradient2', options: 'fast' } } },
  { names: 'algorithm.options.minLimit', options: { algorithm: { name: 'aimd', options: { minLimit: 0 } } } },
  { names: 'algorithm.options.maxLimit', options: { algorithm: { name: 'vegas', options: { maxLimit: 2.5 } } } },
  { names: 'algorithm.options.minLimit', options: { algorithm: { name: 'gradient2', options: { minLimit: 50, maxLimit: 10 } } } },
  { names: 'algorithm.options.initialLimit', options: { algorithm: { name: 'vegas', options: { initialLimit: 100, maxLimit: 10 } } } },
  { names: 'algorithm.options.limit', options: { algorithm: { name: 'fixed', options: { limit: -3 } } } },
  { names: 'algorithm.options.initialLimit', options: { algorithm: { name: 'fixed', options: { limit: 10, initialLimit: 20 } } } },
  { names: 'algorithm.options.rttTolerance', options: { algorithm: { name: 'gradient2', options: { rttTolerance: 0.5 } } } },
  { names: 'algorithm.options.longWindow', options: { algorithm: { name: 'gradient2', options: { longWindow: 0 } } } },
  { names: 'algorithm.options.timeout', options: { algorithm: { name: 'aimd', options: { timeout: 0 } } } },
  { names: 'algorithm.options.beta', options: { algorithm: { name: 'vegas', options: { alpha: 6, beta: 3 } } } },
  { names: 'algorithm.options.smoothing', options: { algorithm: { name: 'gradient2', options: { smoothing: 2 } } } },
  { names: 'algorithm.options.typo', options: { algorithm: { name: 'aimd', options: { typo: 1 } } } },
  { names: 'algorithm.typo', options: { algorithm: { name: 'vegas', typo: 1 } } },
  { names: 'algorithm.window', options: { algorithm: { name: 'gradient2', window: 'none' } } },
  { names: 'algorithm.window.minSamples', options: { algorithm: { name: 'gradient2', window: { minSamples: 0 } } } },
  { names: 'algorithm.window.maxWindow', options: { algorithm: { name: 'gradient2', window: { minWindow: 2000, maxWindow: 1000 } } } },
  { names: 'algorithm.window.percentile', options: { algorithm: { name: 'gradient2', window: { percentile: 101 } } } },
  // The window's clock is a test hook of the class, not a plugin option.
  { names: 'algorithm.window.clock', options: { algorithm: { name: 'gradient2', window: { clock: () => 0 } } } },
  // Status route.
  { names: 'statusRoute', options: { statusRoute: 'status' } },
  { names: 'statusRoute', options: { statusRoute: 3 } },
  { names: 'statusRoute.routeOpts.handler', options: { statusRoute: { routeOpts: { handler: fn } } } },
  { names: 'statusRoute.routeSchemaOpts.response', options: { statusRoute: { routeSchemaOpts: { response: {} } } } },
  { names: 'statusRoute.page.title', options: { statusRoute: { page: { title: 7 } } } },
  // Event-loop gate.
  { names: 'eventLoop', options: { eventLoop: 'on' } },
  { names: 'eventLoop.maxWait', options: { eventLoop: { maxWait: 0 } } },
  { names: 'eventLoop.maxWait', options: { eventLoop: { maxWait: 60_001 } } },
  // Backlog: queue, estimated wait, deadlines, partitions.
  { names: 'queue', options: { queue: true } },
  { names: 'queue.size', options: { queue: { size: -1 } } },
  { names: 'queue.size', options: { queue: { size: 2.5 } } },
  { names: 'queue.timeout', options: { queue: { timeout: 0 } } },
  { names: 'queue.order', options: { queue: { order: 'random' } } },
  // An estimated-wait check without a waiting room could never let a request wait.
  { names: 'queue.maxEstimatedWait', options: { queue: { size: 0, maxEstimatedWait: 100 } } },
  { names: 'queue.maxEstimatedWait', options: { queue: { maxEstimatedWait: -1 } } },
  { names: 'queue.deadlineHeader', options: { queue: { size: 0, deadlineHeader: 'x deadline' } } },
  { names: 'queue.deadlineHeader', options: { queue: { size: 0, deadlineHeader: 12 } } },
  { names: 'maxEstimatedWait', options: { queue: {}, maxEstimatedWait: 100 } },
  // The old shape (shares at the top of `partitions`) is refused, naming the stray key.
  { names: 'partitions.live', options: { partitions: { live: 0.5 } } },
  { names: 'partitions.shares', options: { partitions: { shares: {} } } },
  { names: 'partitions.shares.live', options: { partitions: { shares: { live: 1.5 } } } },
  { names: 'partitions.shares.live', options: { partitions: { shares: { live: 0 } } } },
  { names: 'partitions.shares', options: { partitions: { shares: { live: 0.7, batch: 0.7 } } } },
  { names: 'partitions.shares.1', options: { partitions: { shares: { 1: 0.5 } } } },
  { names: 'partitions.shares', options: { partitions: { choose: fn } } },
  { names: 'partitions.choose', options: { partitions: { shares: { live: 0.5 }, choose: 'live' } } },
  { names: 'partition', options: { partition: fn } },
  {
    names: 'config.adaptiveConcurrency.partition (GET /x)',
    options: { partitions: { shares: { live: 0.5 } } },
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
  // The test hooks are no longer options.
  { names: 'sessions.clock', options: { sessions: { key: fn, idleTimeout: 1000, clock: () => 0 } } },
  { names: 'drainOnClose', options: { drainOnClose: 'yes' } },
  { names: 'drainOnClose.timeout', options: { drainOnClose: { timeout: -1 } }, fastify: { return503OnClosing: false } },
  { names: 'drainOnClose', options: { drainOnClose: true } },
  // Observability.
  { names: 'observability', options: { observability: true } },
  { names: 'observability.instance', options: { observability: { instance: '' } } },
  { names: 'observability.metrics', options: { observability: { metrics: 'prometheus' } } },
  { names: 'observability.metrics.registry', options: { observability: { metrics: { registry: {} } } } },
  { names: 'observability.metrics.rttBuckets', options: { observability: { metrics: { rttBuckets: [0.5, 0.1] } } } },
  { names: 'observability.logging.sheddingInterval', options: { observability: { logging: { sheddingInterval: 0 } } } },
  { names: 'observability.history.seconds', options: { observability: { history: { seconds: 0 } } } },
  { names: 'observability.history', options: { observability: { history: 300 } } },
  { names: 'instance', options: { instance: 'api' } }
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
