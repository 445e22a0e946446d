import Fastify from 'fastify'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import plugin, { fastifyAdaptiveConcurrency } from '../../index'
import type { ConcurrencySnapshot, ConcurrencyStatus, FastifyAdaptiveConcurrencyOptions, LimitExceededInfo, Outcome, RejectReason } from '../../index'
import { FixedLimit } from '../../algorithms'
import type { Limiter } from '../../limiter'

const app = Fastify()

test('the plugin registers with valid options', () => {
  expect(app.register(plugin)).type.not.toRaiseError()
  expect(app.register(fastifyAdaptiveConcurrency, {})).type.not.toRaiseError()
  expect(app.register(plugin, {
    algorithm: { name: 'aimd', options: { backoffRatio: 0.8, initialLimit: 10 }, window: false },
    signal: {
      classify: (_req, reply) => reply.statusCode >= 500 ? 'drop' : 'success',
      timeout: 2000,
      sampleClass: req => req.routeOptions.url
    },
    bypass: req => req.url === '/health',
    rejection: {
      statusCode: 429,
      retryAfter: 5,
      onLimitExceeded: async (_req, reply, info) => { reply.send({ limit: info.limit }) }
    },
    observability: { instance: 'api', metrics: false, logging: { sheddingInterval: 5000 }, history: { seconds: 60 } },
    statusRoute: { url: '/concurrency', routeOpts: { logLevel: 'warn' }, routeSchemaOpts: { hide: true } }
  })).type.not.toRaiseError()
  expect(app.register(plugin, { algorithm: new FixedLimit({ limit: 5 }) })).type.not.toRaiseError()
  expect(app.register(plugin, { algorithm: { name: 'gradient2', window: { minSamples: 5 } } })).type.not.toRaiseError()
  expect(app.register(plugin, { statusRoute: true })).type.not.toRaiseError()
  expect(app.register(plugin, { statusRoute: '/s' })).type.not.toRaiseError()
  expect(app.register(plugin, { queue: { size: 0, deadlineHeader: 'x-budget-ms' } })).type.not.toRaiseError()
  expect(app.register(plugin, { partitions: { shares: { live: 0.7 }, choose: req => req.headers['x-plan'] === 'pro' ? 'live' : undefined } })).type.not.toRaiseError()
})

test('wrong option types fail to compile', () => {
  expect(app.register(plugin, { algorithm: 'nope' })).type.toRaiseError()
  expect(app.register(plugin, { algorithm: { name: 'aimd', options: { backoffRatio: '0.9' } } })).type.toRaiseError()
  expect(app.register(plugin, { algorithm: { name: 'fixed', options: { backoffRatio: 0.9 } } })).type.toRaiseError()
  expect(app.register(plugin, { algorithm: { name: 'gradient2', window: { clock: () => 0 } } })).type.toRaiseError()
  expect(app.register(plugin, { rejection: { statusCode: 500 } })).type.toRaiseError()
  expect(app.register(plugin, { signal: { timeout: '5s' } })).type.toRaiseError()
  expect(app.register(plugin, { signal: { classify: () => 'maybe' } })).type.toRaiseError()
  expect(app.register(plugin, { bypass: () => 'yes' })).type.toRaiseError()
  expect(app.register(plugin, { statusRoute: 1 })).type.toRaiseError()
  expect(app.register(plugin, { statusRoute: { path: '/x' } })).type.toRaiseError()
  expect(app.register(plugin, { partitions: { live: 0.5 } })).type.toRaiseError()
  expect(app.register(plugin, { unknownOption: true })).type.toRaiseError()
  expect(app.register(plugin, { statusCode: 429 })).type.toRaiseError()
})

test('callbacks are typed', () => {
  app.register(plugin, {
    signal: {
      classify (request, reply) {
        expect(request).type.toBe<FastifyRequest>()
        expect(reply).type.toBe<FastifyReply>()
        return 'ignore'
      }
    },
    rejection: {
      onLimitExceeded (_request, _reply, info) {
        expect(info).type.toBe<LimitExceededInfo>()
        expect(info.reason).type.toBe<RejectReason>()
      }
    }
  })
  expect<Outcome>().type.toBe<'success' | 'drop' | 'ignore'>()
  expect<'event-loop' | 'session-cap' | 'queue-full'>().type.toBeAssignableTo<RejectReason>()
  expect<'made-up'>().type.not.toBeAssignableTo<RejectReason>()
})

test('fastify.concurrency is typed and read-only', () => {
  expect(app.concurrency).type.toBe<ConcurrencyStatus>()
  expect(app.concurrency.limit).type.toBe<number>()
  expect(app.concurrency.limiter).type.toBe<Limiter>()
  expect(app.concurrency.snapshot()).type.toBe<ConcurrencySnapshot>()
  expect(app.concurrency.isOverloaded()).type.toBe<boolean>()
  expect(app.concurrency.state).type.toBe<Record<string, number | string>>()
  // @ts-expect-error Cannot assign to 'limit' because it is a read-only property
  app.concurrency.limit = 3
})

test('route config adaptiveConcurrency is typed through FastifyContextConfig', () => {
  expect(app.get('/', { config: { adaptiveConcurrency: false } }, async () => 'x')).type.not.toRaiseError()
  expect(app.get('/', { config: { adaptiveConcurrency: 'off' } }, async () => 'x')).type.toRaiseError()
  expect(app.get('/', { config: { adaptiveConcurrency: { longLived: true } } }, async () => 'x')).type.not.toRaiseError()
  expect(app.get('/', { config: { adaptiveConcurrency: { longLived: 'yes' } } }, async () => 'x')).type.toRaiseError()
})

test('long-lived requests on the status, and their option', () => {
  expect(app.concurrency.longLived.open).type.toBe<number>()
  expect(app.concurrency.longLived.routes['GET /poll'].longLived).type.toBe<'declared' | 'learned' | 'no'>()
  expect(app.concurrency.shedding).type.toBe<boolean>()
  expect(app.register(plugin, { signal: { longLivedAfter: false } })).type.not.toRaiseError()
  expect(app.register(plugin, { signal: { longLivedAfter: '1s' } })).type.toRaiseError()
})

test('the options type is exported', () => {
  expect<{ algorithm: { name: 'vegas', options: { alpha: 3 } } }>().type.toBeAssignableTo<FastifyAdaptiveConcurrencyOptions>()
})
