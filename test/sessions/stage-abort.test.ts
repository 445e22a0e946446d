// A client that leaves while its new session waits for a seat from a remote store (real
// sockets: inject cannot abort mid-hook). The 'close' listener gives the permit back; the late
// store answer must neither release it twice nor break the request pipeline.
import t from 'tap'
import Fastify from 'fastify'
import { request } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import type { Seat, SessionStore } from '../../lib/sessions/store'
import { recordingAlgorithm, until } from '../plugin/helpers'

for (const answer of ['granted', 'full'] as const) {
  t.test(`client aborts while the store answers; the store then says ${answer}`, async t => {
    let resolveSeat: ((seat: Seat) => void) | undefined
    const store: SessionStore = {
      register: () => new Promise<Seat>((resolve) => { resolveSeat = resolve }),
      touch () {},
      remove () {},
      count: () => undefined,
      close: async () => {}
    }
    const app = Fastify()
    await app.register(fastifyAdaptiveConcurrency, {
      algorithm: recordingAlgorithm(10),
      eventLoop: false,
      sessions: { key: (request) => request.headers['x-user'] as string | undefined, idleTimeout: 60_000, maxSessions: 5, store }
    } as FastifyAdaptiveConcurrencyOptions)
    app.get('/', async () => 'ok')
    const base = await app.listen({ port: 0, host: '127.0.0.1' })
    t.teardown(() => app.close())

    const controller = new AbortController()
    const pending = request(base, { headers: { 'x-user': 'alice' }, signal: controller.signal })
    await until(() => resolveSeat !== undefined)
    t.equal(app.concurrency.inflight, 1, 'the permit is held while the store answers')
    controller.abort()
    await t.rejects(pending)
    await until(() => app.concurrency.inflight === 0)
    t.equal(app.concurrency.ignored, 1, 'released by the close listener, without a sample')
    ;(resolveSeat as (seat: Seat) => void)(answer)
    await new Promise((resolve) => setTimeout(resolve, 20))
    t.equal(app.concurrency.inflight, 0)
    t.equal(app.concurrency.ignored, 1, 'not released a second time')
    t.equal(app.concurrency.admitted, 1)
    // The server goes on serving: bob's seat request gets through.
    const first = resolveSeat
    const next = request(base, { headers: { 'x-user': 'bob' } })
    await until(() => resolveSeat !== first)
    ;(resolveSeat as (seat: Seat) => void)('granted')
    const res = await next
    t.equal(await res.body.text(), 'ok')
    t.equal(app.concurrency.sessions?.refused, answer === 'full' ? 1 : 0)
  })
}
