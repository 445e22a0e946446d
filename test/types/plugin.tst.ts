import Fastify from 'fastify'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import plugin, { fastifyAdaptiveConcurrency } from '../../index'
import type { ConcurrencySnapshot, ConcurrencyStatus, FastifyAdaptiveConcurrencyOptions, LimitExceededInfo, Outcome } from '../../index'
import { FixedLimit } from '../../algorithms'
import type { Limiter } from '../../limiter'

const app = Fastify()

test('the plugin registers with valid options', () => {
  expect(app.register(plugin)).type.not.toRaiseError()
  expect(app.register(fastifyAdaptiveConcurrency, {})).type.not.toRaiseError()
  expect(app.register(plugin, {
    algorithm: 'aimd',
    algorithmOptions: { backoffRatio: 0.8, initialLimit: 10 },
    window: false,
    classify: (_req, reply) => reply.statusCode >= 500 ? 'drop' : 'success',
    timeout: 2000,
    bypass: req => req.url === '/health',
    statusCode: 429,
    retryAfter: 5,
    onLimitExceeded: async (_req, reply, info) => { reply.send({ limit: info.limit }) },
    exposeStatusRoute: { url: '/concurrency', routeOpts: { logLevel: 'warn' }, routeSchemaOpts: { hide: true } }
  })).type.not.toRaiseError()
  expect(app.register(plugin, { algorithm: new FixedLimit({ limit: 5 }) })).type.not.toRaiseError()
  expect(app.register(plugin, { algorithm: 'gradient2', window: { minSamples: 5 } })).type.not.toRaiseError()
  expect(app.register(plugin, { exposeStatusRoute: true })).type.not.toRaiseError()
  expect(app.register(plugin, { exposeStatusRoute: '/s' })).type.not.toRaiseError()
})

test('wrong option types fail to compile', () => {
  expect(app.register(plugin, { algorithm: 'nope' })).type.toRaiseError()
  expect(app.register(plugin, { algorithm: 'aimd', algorithmOptions: { backoffRatio: '0.9' } })).type.toRaiseError()
  expect(app.register(plugin, { algorithm: 'fixed', algorithmOptions: { backoffRatio: 0.9 } })).type.toRaiseError()
  expect(app.register(plugin, { algorithm: new FixedLimit({ limit: 5 }), algorithmOptions: {} })).type.toRaiseError()
  expect(app.register(plugin, { statusCode: 500 })).type.toRaiseError()
  expect(app.register(plugin, { timeout: '5s' })).type.toRaiseError()
  expect(app.register(plugin, { classify: () => 'maybe' })).type.toRaiseError()
  expect(app.register(plugin, { bypass: () => 'yes' })).type.toRaiseError()
  expect(app.register(plugin, { exposeStatusRoute: 1 })).type.toRaiseError()
  expect(app.register(plugin, { exposeStatusRoute: { path: '/x' } })).type.toRaiseError()
  expect(app.register(plugin, { unknownOption: true })).type.toRaiseError()
})

test('callbacks are typed', () => {
  app.register(plugin, {
    classify (request, reply) {
      expect(request).type.toBe<FastifyRequest>()
      expect(reply).type.toBe<FastifyReply>()
      return 'ignore'
    },
    onLimitExceeded (_request, _reply, info) {
      expect(info).type.toBe<LimitExceededInfo>()
    }
  })
  expect<Outcome>().type.toBe<'success' | 'drop' | 'ignore'>()
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
})

test('the options type is exported', () => {
  expect<{ algorithm: 'vegas', algorithmOptions: { alpha: 3 } }>().type.toBeAssignableTo<FastifyAdaptiveConcurrencyOptions>()
})
