import Fastify from 'fastify'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type Redis from 'ioredis'
import { expect, test } from 'tstyche'
import plugin from '../../index'
import type { DrainResult, SessionRefusal, SessionStats, SessionsOptions } from '../../index'
import { MemoryStore, RedisStore } from '../../sessions'
import type { SessionStore } from '../../sessions'

const app = Fastify({ return503OnClosing: false })
declare const redis: Redis

test('sessions and drainOnClose options', () => {
  expect(app.register(plugin, {
    sessions: {
      key: (request) => request.headers['x-user'] as string | undefined,
      idleTimeout: 300_000,
      maxSessions: 500,
      maxTracked: 50_000,
      maxKeyLength: 64,
      store: new RedisStore({ client: redis, storeTimeout: 100, onStoreError: 'closed', logger: app.log }),
      onRefused: (_request, reply) => reply.redirect('/waiting-room.html'),
      overload: { headroom: 1.5, decay: 0.3, minReserveRatio: 0.2 }
    },
    drainOnClose: { timeout: 20_000 }
  })).type.not.toRaiseError()
  expect(app.register(plugin, { sessions: { key: () => undefined, idleTimeout: 1000, store: new MemoryStore() }, drainOnClose: true })).type.not.toRaiseError()
})

test('wrong session options fail to compile', () => {
  expect(app.register(plugin, { sessions: { idleTimeout: 1000 } })).type.toRaiseError()
  expect(app.register(plugin, { sessions: { key: () => undefined } })).type.toRaiseError()
  expect(app.register(plugin, { sessions: { key: () => 42, idleTimeout: 1000 } })).type.toRaiseError()
  expect(app.register(plugin, { sessions: { key: () => undefined, idleTimeout: '5m' } })).type.toRaiseError()
  expect(app.register(plugin, { sessions: { key: () => undefined, idleTimeout: 1, store: {} } })).type.toRaiseError()
  expect(app.register(plugin, { sessions: { key: () => undefined, idleTimeout: 1, overload: { headrom: 2 } } })).type.toRaiseError()
  expect(app.register(plugin, { drainOnClose: { timout: 5 } })).type.toRaiseError()
  expect(new RedisStore({ client: redis, onStoreError: 'maybe' })).type.toRaiseError()
})

test('callbacks are typed', () => {
  const options: SessionsOptions = {
    key (request) {
      expect(request).type.toBe<FastifyRequest>()
      return undefined
    },
    idleTimeout: 1000,
    onRefused (request, reply, reason) {
      expect(request).type.toBe<FastifyRequest>()
      expect(reply).type.toBe<FastifyReply>()
      expect(reason).type.toBe<SessionRefusal>()
    }
  }
  expect(options).type.toBeAssignableTo<SessionsOptions>()
  expect<SessionRefusal>().type.toBe<'session-cap' | 'draining' | 'store-unavailable'>()
  expect(new MemoryStore()).type.toBeAssignableTo<SessionStore>()
})

test('fastify.concurrency: drain() and the sessions block', () => {
  expect(app.concurrency.drain({ timeout: 1000 })).type.toBe<Promise<DrainResult>>()
  expect(app.concurrency.drain({})).type.toRaiseError()
  expect(app.concurrency.sessions).type.toBe<SessionStats | undefined>()
  expect(app.concurrency.snapshot().sessions).type.toBe<SessionStats | undefined>()
  expect<DrainResult['reason']>().type.toBe<'idle' | 'timeout' | 'cancelled'>()
})
