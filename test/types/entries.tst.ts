// The types each entry point exports: the root (plugin, errors, option and status types) and the
// subpaths ./limiter, ./algorithms and ./sessions.
import Fastify from 'fastify'
import type Redis from 'ioredis'
import { expect, test } from 'tstyche'
import plugin, { errors, fastifyAdaptiveConcurrency } from '../../index'
import type { DrainResult, FastifyAdaptiveConcurrencyOptions, HistoryPoint, MetricsRegistry, QueueOptions, SessionStats } from '../../index'
import { Registry as PromRegistry } from 'prom-client'
import {
  DEFAULT_PARTITION, Limiter, PartitionSet, Permit, SampleClasses, ServiceTimeEwma, WaitQueue, Waiter, estimateWait, parseDeadlineHeader
} from '../../limiter'
import type { LimiterObserver, LimiterOptions, LimiterSnapshot, PartitionStatus, QueueOrder, RejectReason, SampleClassStats } from '../../limiter'
import {
  ALGORITHM_NAMES, AIMDLimit, FixedLimit, Gradient2Limit, VegasLimit, WindowedLimit, createAlgorithm, isLimitAlgorithm
} from '../../algorithms'
import type { AlgorithmName, LimitAlgorithm, Sample } from '../../algorithms'
import { MemoryStore, RedisStore, SessionOverloadPolicy, SessionTracker, StoreTimeoutError } from '../../sessions'
import type { RedisClient, SessionRefusal, SessionStore, SessionTrackerOptions, Seat } from '../../sessions'

declare const redis: Redis

test('root: the plugin under every name, its errors, no framework-agnostic classes', () => {
  expect(plugin).type.toBeAssignableTo<typeof fastifyAdaptiveConcurrency>()
  expect(plugin.default).type.toBe(plugin.fastifyAdaptiveConcurrency)
  expect(Fastify().register(plugin.default, { algorithm: 'fixed' })).type.not.toRaiseError()
  expect(errors.FST_CONCURRENCY_INVALID_OPTION).type.toBeConstructableWith('x', 'y')
  expect<typeof import('../../index')>().type.not.toHaveProperty('Limiter')
  expect<typeof import('../../index')>().type.not.toHaveProperty('createAlgorithm')
  expect<typeof import('../../index')>().type.not.toHaveProperty('MemoryStore')
})

test('root: option and status types', () => {
  expect<{ queue: QueueOptions }>().type.toBeAssignableTo<FastifyAdaptiveConcurrencyOptions>()
  expect<HistoryPoint['rttP99']>().type.toBe<number | null>()
  expect<SessionStats['refusedByReason']>().type.toBe<Record<SessionRefusal, number>>()
  expect<DrainResult['reason']>().type.toBe<'idle' | 'timeout' | 'cancelled'>()
})

test('limiter: Limiter, permits, the queue and partitions', () => {
  const options: LimiterOptions<string> = { algorithm: new FixedLimit({ limit: 2 }), partitions: new PartitionSet({ live: 0.5 }) }
  const limiter = new Limiter(options)
  expect(limiter.tryAcquire('ctx')).type.toBe<Permit<string> | RejectReason>()
  expect(limiter.acquire('ctx', 'live', 50)).type.toBe<Permit<string> | Waiter<string> | RejectReason>()
  expect(limiter.snapshot()).type.toBe<LimiterSnapshot>()
  expect(new Limiter({ algorithm: 5 })).type.toRaiseError()
  expect<LimiterObserver>().type.toHaveProperty('onRelease')
  expect(new WaitQueue<string>({ size: 1, timeout: 10, onExpire: () => {} })).type.toBe<WaitQueue<string>>()
  expect(new WaitQueue<string>({ size: 1, timeout: 10 })).type.toRaiseError()
  expect<QueueOrder>().type.toBe<'lifo' | 'fifo'>()
  expect<PartitionStatus['share']>().type.toBe<number>()
  expect(DEFAULT_PARTITION).type.toBe<'default'>()
  expect(new ServiceTimeEwma(20)).type.toBe<ServiceTimeEwma>()
  expect(estimateWait(3, 10, 20)).type.toBe<number>()
  expect(parseDeadlineHeader('100')).type.toBe<number | undefined>()
  const classes = new SampleClasses()
  expect(new Limiter({ algorithm: new FixedLimit({ limit: 2 }), sampleClasses: classes })).type.toBe<Limiter<unknown>>()
  expect(classes.stats()).type.toBe<SampleClassStats>()
})

test('algorithms: classes, the factory, the interface', () => {
  expect(createAlgorithm('aimd', { backoffRatio: 0.8 })).type.toBe<LimitAlgorithm>()
  expect(createAlgorithm('nope')).type.toRaiseError()
  expect(ALGORITHM_NAMES).type.toBe<readonly AlgorithmName[]>()
  expect(new Gradient2Limit({ initialLimit: '5' })).type.toRaiseError()
  expect(new WindowedLimit(new VegasLimit(), { minSamples: 5 })).type.toBeAssignableTo<LimitAlgorithm>()
  for (const a of [new AIMDLimit(), new FixedLimit(), new Gradient2Limit()]) {
    expect(a).type.toBeAssignableTo<LimitAlgorithm>()
  }
  expect<{ rtt: number, inflight: number, dropped: boolean }>().type.toBeAssignableTo<Sample>()
  const x: unknown = {}
  if (isLimitAlgorithm(x)) expect(x).type.toBe<LimitAlgorithm>()
})

test('sessions: the tracker, the policy and the stores', () => {
  expect(new MemoryStore()).type.toBeAssignableTo<SessionStore>()
  expect(new RedisStore({ client: redis })).type.toBeAssignableTo<SessionStore>()
  expect(new RedisStore({ client: redis, onStoreError: 'maybe' })).type.toRaiseError()
  const options: SessionTrackerOptions = { idleTimeout: 1000, maxSessions: 10, store: new MemoryStore() }
  expect(new SessionTracker(options)).type.toBe<SessionTracker>()
  expect(new SessionTracker({ maxSessions: 10 })).type.toRaiseError()
  expect(new SessionOverloadPolicy({ headroom: 2 })).type.toBe<SessionOverloadPolicy>()
  expect(new SessionOverloadPolicy({}, new SessionTracker(options))).type.toBe<SessionOverloadPolicy>()
  expect(new SessionOverloadPolicy({}, { activeSessions: (now: number) => now })).type.toBe<SessionOverloadPolicy>()
  expect(new SessionOverloadPolicy({}, { activeSessions: () => 'many' })).type.toRaiseError()
  expect(new StoreTimeoutError(100)).type.toBeAssignableTo<Error>()
  expect<Seat>().type.toBe<'granted' | 'full' | 'unavailable'>()
})

// prom-client and ioredis are optional peers: the public types name neither, and describe the
// registry and the client by their shape. The real ones must still fit those shapes.
test('optional peers: a prom-client Registry and ioredis clients satisfy the structural types', () => {
  expect<import('prom-client').Registry>().type.toBeAssignableTo<MetricsRegistry>()
  expect(Fastify().register(plugin, { observability: { metrics: { registry: new PromRegistry() } } })).type.not.toRaiseError()
  expect<import('ioredis').Redis>().type.toBeAssignableTo<RedisClient>()
  expect<import('ioredis').Cluster>().type.toBeAssignableTo<RedisClient>()
  expect(new RedisStore({ client: redis })).type.not.toRaiseError()
  // The shapes still refuse what is neither.
  expect<{ getSingleMetric: (name: string) => unknown }>().type.not.toBeAssignableTo<MetricsRegistry>()
  expect<{ zrem: (key: string) => Promise<number> }>().type.not.toBeAssignableTo<RedisClient>()
})
