import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import plugin from '../../index'
import type { ConcurrencySnapshot, PartitionStatus, QueueSnapshot } from '../../index'
import type { Limiter, Permit, RejectReason, Waiter } from '../../limiter'

const app = Fastify()

test('backlog options are typed', () => {
  expect(app.register(plugin, {
    queue: { size: 50, timeout: 500, order: 'lifo', maxEstimatedWait: 200, deadlineHeader: 'x-request-budget-ms' },
    rejection: { retryAfter: 'auto' },
    partitions: {
      shares: { live: 0.7, batch: 0.3 },
      choose: (request) => request.headers['x-class'] === 'batch' ? 'batch' : undefined
    }
  })).type.not.toRaiseError()
  expect(app.register(plugin, { queue: false })).type.not.toRaiseError()
  expect(app.register(plugin, { queue: { timeout: 300, standingTimeout: 10, interval: 100 } })).type.not.toRaiseError()
  expect(app.register(plugin, { queue: { interval: '100' } })).type.toRaiseError()
  expect(app.register(plugin, { queue: { standingTimeout: false } })).type.not.toRaiseError()
  expect(app.register(plugin, { queue: { standingTimeout: true } })).type.toRaiseError()
  expect(app.register(plugin, { queue: { order: 'random' } })).type.toRaiseError()
  expect(app.register(plugin, { queue: { size: '10' } })).type.toRaiseError()
  expect(app.register(plugin, { rejection: { retryAfter: 'later' } })).type.toRaiseError()
  expect(app.register(plugin, { partitions: { shares: { live: '0.7' } } })).type.toRaiseError()
  expect(app.register(plugin, { partitions: { shares: { live: 0.7 }, choose: () => 5 } })).type.toRaiseError()
  expect(app.register(plugin, { queue: { deadlineHeader: true } })).type.toRaiseError()
  expect(app.register(plugin, { maxEstimatedWait: 200 })).type.toRaiseError()
})

test('route config may name a partition', () => {
  expect(app.get('/', { config: { adaptiveConcurrency: { partition: 'live' } } }, async () => 'x')).type.not.toRaiseError()
  expect(app.get('/', { config: { adaptiveConcurrency: { partition: 5 } } }, async () => 'x')).type.toRaiseError()
})

test('the snapshot carries the backlog fields', () => {
  const snap = app.concurrency.snapshot()
  expect(snap.queue).type.toBe<QueueSnapshot | undefined>()
  expect(snap.partitions).type.toBe<Record<string, PartitionStatus> | undefined>()
  expect(snap.unknownPartitions).type.toBe<number | undefined>()
  expect(snap.serviceTime).type.toBe<number | undefined>()
  expect<ConcurrencySnapshot['queue']>().type.toBe<QueueSnapshot | undefined>()
})

test('Limiter.acquire may return a Waiter; tryAcquire never does', () => {
  const limiter = {} as Limiter<string>
  expect(limiter.acquire('ctx', 'live', 100)).type.toBe<Permit<string> | Waiter<string> | RejectReason>()
  expect(limiter.tryAcquire('ctx')).type.toBe<Permit<string> | RejectReason>()
})
