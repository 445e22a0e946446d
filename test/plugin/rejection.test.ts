// Admission and every rejection path, through fastify.inject.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { latch, recordingAlgorithm, settle } from './helpers'

/**
 * An app with a limit of `limit`, a held route /slow and a plain route /fast. Requests at the
 * limit are refused at once (`queue: false`) unless `opts` brings a queue: these tests are about
 * the refusal itself.
 */
async function saturated (t: tap.Test, limit: number, opts: Partial<FastifyAdaptiveConcurrencyOptions> = {}, setup?: (app: FastifyInstance) => void) {
  const app = Fastify()
  const hold = latch()
  let handlerRuns = 0
  let bodyParses = 0
  app.addContentTypeParser('application/x-count', { parseAs: 'string' }, (_req, body, done) => {
    bodyParses++
    done(null, body)
  })
  await app.register(fastifyAdaptiveConcurrency, { algorithm: recordingAlgorithm(limit), queue: false, ...opts } as FastifyAdaptiveConcurrencyOptions)
  setup?.(app)
  app.get('/slow', async () => { await hold.wait(); return { ok: true } })
  app.post('/fast', async () => { handlerRuns++; return { ok: true } })
  await app.ready()
  t.teardown(() => app.close())
  const held = Array.from({ length: limit }, () => app.inject('/slow'))
  await hold.arrived(limit)
  const rejectedPost = () => app.inject({ method: 'POST', url: '/fast', headers: { 'content-type': 'application/x-count' }, payload: 'x' })
  const finish = async () => {
    hold.open()
    for (const res of await Promise.all(held)) t.equal(res.statusCode, 200)
    await settle()
  }
  return { app, finish, rejectedPost, counts: () => ({ handlerRuns, bodyParses }) }
}

t.test('default rejection: 503, Retry-After 1, FST_CONCURRENCY_LIMIT_EXCEEDED, no body parsing, no handler', async t => {
  const { app, finish, rejectedPost, counts } = await saturated(t, 2)
  t.equal(app.concurrency.inflight, 2)
  t.ok(app.concurrency.isOverloaded())
  const res = await rejectedPost()
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.match(res.json(), { code: 'FST_CONCURRENCY_LIMIT_EXCEEDED', statusCode: 503, message: /concurrency limit reached \(limit\)/ })
  t.same(counts(), { handlerRuns: 0, bodyParses: 0 })
  const again = await rejectedPost()
  t.equal(again.statusCode, 503, 'the shared error instance serves a second rejection')
  await finish()
  t.equal(app.concurrency.rejected, 2)
  t.equal(app.concurrency.admitted, 2)
  t.equal(app.concurrency.succeeded, 2)
  t.equal(app.concurrency.inflight, 0)
  t.notOk(app.concurrency.isOverloaded())
  const ok = await rejectedPost()
  t.equal(ok.statusCode, 200)
  t.same(counts(), { handlerRuns: 1, bodyParses: 1 })
})

t.test('statusCode 429 and a custom retryAfter', async t => {
  const { finish, rejectedPost } = await saturated(t, 1, { rejection: { statusCode: 429, retryAfter: 30 } })
  const res = await rejectedPost()
  t.equal(res.statusCode, 429)
  t.equal(res.headers['retry-after'], '30')
  t.equal(res.json().statusCode, 429)
  await finish()
})

t.test('the app setErrorHandler formats the rejection, and Retry-After survives', async t => {
  const { finish, rejectedPost } = await saturated(t, 1, {}, app => {
    app.setErrorHandler((err: Error & { code?: string, statusCode?: number }, _req, reply) => {
      reply.code(err.statusCode ?? 500).send({ custom: err.code })
    })
  })
  const res = await rejectedPost()
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  t.same(res.json(), { custom: 'FST_CONCURRENCY_LIMIT_EXCEEDED' })
  await finish()
})

t.test('onLimitExceeded sends its own response (sync send; info carries limit, inflight, reason)', async t => {
  const seen: unknown[] = []
  const { app, finish, rejectedPost, counts } = await saturated(t, 2, {
    rejection: {
      onLimitExceeded (_req, reply, info) {
        seen.push(info)
        reply.code(200).header('x-cached', '1').send('cached page')
      }
    }
  })
  const res = await rejectedPost()
  t.equal(res.statusCode, 200)
  t.equal(res.body, 'cached page')
  t.equal(res.headers['retry-after'], '1', 'Retry-After is set before the callback runs')
  t.same(seen, [{ limit: 2, inflight: 2, reason: 'limit' }])
  t.same(counts(), { handlerRuns: 0, bodyParses: 0 })
  await finish()
  t.equal(app.concurrency.rejected, 1)
})

t.test('onLimitExceeded: async send + return reply, returned payload, and fallthrough to the default', async t => {
  let mode = 'async-reply'
  const { finish, rejectedPost } = await saturated(t, 1, {
    rejection: {
      async onLimitExceeded (_req, reply) {
        if (mode === 'async-reply') {
          await new Promise(resolve => setImmediate(resolve))
          reply.code(503).send({ from: 'callback' })
          return reply as never
        }
        if (mode === 'value') return { cached: true } as never
        if (mode === 'throw') throw new Error('callback failed')
        // 'nothing': the default rejection goes on
      }
    }
  })
  let res = await rejectedPost()
  t.same([res.statusCode, res.json()], [503, { from: 'callback' }])
  mode = 'value'
  res = await rejectedPost()
  t.same([res.statusCode, res.json()], [200, { cached: true }])
  mode = 'nothing'
  res = await rejectedPost()
  t.same([res.statusCode, res.json().code], [503, 'FST_CONCURRENCY_LIMIT_EXCEEDED'])
  mode = 'throw'
  res = await rejectedPost()
  t.same([res.statusCode, res.json().message], [500, 'callback failed'])
  await finish()
})

t.test('a synchronous onLimitExceeded that throws or returns nothing', async t => {
  let shouldThrow = true
  const { finish, rejectedPost } = await saturated(t, 1, {
    rejection: {
      onLimitExceeded () {
        if (shouldThrow) throw new Error('sync failure')
      }
    }
  })
  let res = await rejectedPost()
  t.equal(res.statusCode, 500)
  shouldThrow = false
  res = await rejectedPost()
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '1')
  await finish()
})
