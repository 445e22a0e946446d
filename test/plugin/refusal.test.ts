// One refusal contract for every reason: each reason the plugin can refuse a request for is
// checked against each rule (status code, Retry-After fixed and 'auto', the FST_ error through
// the app's error handler, onLimitExceeded's convention, onRefused as the sessions override).
// Service time is fake (hand-driven queue timers, so every case has a queue): a 2000 ms request
// before each refusal makes Retry-After 'auto' read 2 s (4 s behind one waiter), not the default 1.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse as Response } from 'fastify'
import type { FastifyAdaptiveConcurrencyOptions, RejectReason } from '../../lib/types'
import type { SessionStore } from '../../lib/sessions/store'
import type { SessionsOptions } from '../../lib/sessions/options'
import { MemoryStore } from '../../lib/sessions/memory-store'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { heldApp, inHandler, queued } from '../backlog/helpers'
import type { HeldApp } from '../backlog/helpers'
import { until } from './helpers'
import { PROTOCOLS, appFor, connectClient } from './protocols'

type Options = Partial<FastifyAdaptiveConcurrencyOptions>
/** A rule's options; its `sessions` fields are laid over the case's. */
type Rule = Partial<Omit<FastifyAdaptiveConcurrencyOptions, 'sessions'>> & { sessions?: Partial<SessionsOptions> }

interface Case {
  name: string
  reason: RejectReason
  code: 'FST_CONCURRENCY_LIMIT_EXCEEDED' | 'FST_CONCURRENCY_SESSION_REFUSED'
  opts: Options
  /** Retry-After with 'auto' after one 2000 ms request at limit 1: the wait behind the queue. */
  auto: string
  /** Sessions on: onRefused applies. */
  sessions: boolean
  warmHeaders?: Record<string, string>
  /** Produce one refusal for this reason; `cleanup` lets held requests finish. */
  refuse: (h: HeldApp) => Promise<{ res: Response, cleanup: () => Promise<void> }>
}

const byUser = (request: { headers: Record<string, unknown> }): string | undefined => request.headers['x-user'] as string | undefined
const unavailableStore = (): SessionStore => Object.assign(new MemoryStore(), { register: () => 'unavailable' as const })

async function holdOne (h: HeldApp): Promise<() => Promise<void>> {
  const held = h.send('held')
  await inHandler(h, 1)
  return async () => { await h.finish('held'); await held }
}

const CASES: Case[] = [
  {
    // With a queue the limiter itself would queue: at limit 1, the sessions overload rule refuses.
    name: 'limit',
    reason: 'limit',
    code: 'FST_CONCURRENCY_LIMIT_EXCEEDED',
    opts: { sessions: { key: byUser, idleTimeout: 60_000 } },
    auto: '2',
    sessions: true,
    async refuse (h) {
      const cleanup = await holdOne(h)
      return { res: await h.send('refused'), cleanup }
    }
  },
  {
    name: 'deadline',
    reason: 'deadline',
    code: 'FST_CONCURRENCY_LIMIT_EXCEEDED',
    // heldApp's default queue, spelled out: the deadline header is a queue option.
    opts: { queue: { size: 10, timeout: 1000, deadlineHeader: 'x-budget' } },
    auto: '2',
    sessions: false,
    async refuse (h) {
      return { res: await h.send('refused', { 'x-budget': '0' }), cleanup: async () => {} }
    }
  },
  {
    name: 'queue-full',
    reason: 'queue-full',
    code: 'FST_CONCURRENCY_LIMIT_EXCEEDED',
    opts: { queue: { size: 1, timeout: 60_000 } },
    auto: '4',
    sessions: false,
    async refuse (h) {
      const release = await holdOne(h)
      const waiting = h.send('waiting')
      await queued(h, 1)
      const res = await h.send('refused')
      return {
        res,
        cleanup: async () => { await release(); await inHandler(h, 1); await h.finish('waiting'); await waiting }
      }
    }
  },
  {
    name: 'queue-timeout',
    reason: 'queue-timeout',
    code: 'FST_CONCURRENCY_LIMIT_EXCEEDED',
    opts: { queue: { size: 1, timeout: 100 } },
    auto: '2',
    sessions: false,
    async refuse (h) {
      const cleanup = await holdOne(h)
      const waiting = h.send('refused')
      await queued(h, 1)
      h.timers.advance(100)
      return { res: await waiting, cleanup }
    }
  },
  {
    name: 'session-cap',
    reason: 'session-cap',
    code: 'FST_CONCURRENCY_SESSION_REFUSED',
    opts: { sessions: { key: byUser, idleTimeout: 60_000, maxSessions: 1 } },
    auto: '2',
    sessions: true,
    warmHeaders: { 'x-user': 'alice' },
    async refuse (h) {
      return { res: await h.send('refused', { 'x-user': 'bob' }), cleanup: async () => {} }
    }
  },
  {
    name: 'store-unavailable',
    reason: 'store-unavailable',
    code: 'FST_CONCURRENCY_SESSION_REFUSED',
    // A fresh store per registration: one store instance belongs to one registration.
    get opts () { return { sessions: { key: byUser, idleTimeout: 60_000, maxSessions: 5, store: unavailableStore() } } },
    auto: '2',
    sessions: true,
    async refuse (h) {
      return { res: await h.send('refused', { 'x-user': 'bob' }), cleanup: async () => {} }
    }
  },
  {
    name: 'draining (sessions)',
    reason: 'draining',
    code: 'FST_CONCURRENCY_SESSION_REFUSED',
    opts: { sessions: { key: byUser, idleTimeout: 60_000 } },
    auto: '2',
    sessions: true,
    async refuse (h) {
      await h.app.concurrency.drain({ timeout: 1000 })
      return { res: await h.send('refused', { 'x-user': 'bob' }), cleanup: async () => {} }
    }
  },
  {
    name: 'draining (no sessions)',
    reason: 'draining',
    code: 'FST_CONCURRENCY_SESSION_REFUSED',
    opts: {},
    auto: '2',
    sessions: false,
    async refuse (h) {
      await h.app.concurrency.drain({ timeout: 1000 })
      return { res: await h.send('refused'), cleanup: async () => {} }
    }
  }
]

/** An app at limit 1 whose service time reads 2000 ms, and one request refused for the case's reason. */
async function refusal (t: tap.Test, c: Case, rule: Rule, setup?: (app: FastifyInstance) => void): Promise<{ h: HeldApp, res: Response }> {
  const opts = { ...c.opts, ...rule, sessions: c.opts.sessions === undefined ? rule.sessions : { ...c.opts.sessions, ...rule.sessions } } as Options
  const h = await heldApp(1, opts, setup)
  t.teardown(() => h.app.close())
  const warm = h.send('warm', c.warmHeaders)
  await inHandler(h, 1)
  await h.finish('warm', 2000)
  t.equal((await warm).statusCode, 200)
  const { res, cleanup } = await c.refuse(h)
  await cleanup()
  t.equal(h.app.concurrency.inflight, 0)
  return { h, res }
}

const messageReason = (res: Response): string | undefined => /\(([a-z-]+)\)$/.exec(res.json().message)?.[1]

for (const c of CASES) {
  t.test(`${c.name}: the default answer and statusCode 429`, async t => {
    for (const statusCode of [503, 429] as const) {
      const { res } = await refusal(t, c, statusCode === 503 ? {} : { rejection: { statusCode } })
      t.equal(res.statusCode, statusCode)
      t.match(res.json(), { code: c.code, statusCode })
      t.equal(messageReason(res), c.reason)
      t.equal(res.headers['retry-after'], '1')
    }
  })

  t.test(`${c.name}: Retry-After, fixed and 'auto'`, async t => {
    t.equal((await refusal(t, c, { rejection: { retryAfter: 7 } })).res.headers['retry-after'], '7')
    t.equal((await refusal(t, c, { rejection: { retryAfter: 'auto' } })).res.headers['retry-after'], c.auto, 'the estimated wait')
  })

  t.test(`${c.name}: the FST_ error goes through the app's error handler`, async t => {
    const seen: Array<{ code?: string, statusCode?: number }> = []
    const { res } = await refusal(t, c, { rejection: { statusCode: 429, retryAfter: 5 } }, app => {
      app.setErrorHandler((err: Error & { code?: string, statusCode?: number }, _request, reply) => {
        seen.push({ code: err.code, statusCode: err.statusCode })
        reply.code(err.statusCode ?? 500).send({ custom: err.code })
      })
    })
    t.same(seen, [{ code: c.code, statusCode: 429 }])
    t.equal(res.statusCode, 429)
    t.same(res.json(), { custom: c.code })
    t.equal(res.headers['retry-after'], '5', 'Retry-After survives the error handler')
  })

  t.test(`${c.name}: onLimitExceeded's convention`, async t => {
    const infos: unknown[] = []
    const sent = await refusal(t, c, {
      rejection: { onLimitExceeded (_request, _reply, info) { infos.push(info); return { shed: info.reason } as never } }
    })
    t.same(sent.res.json(), { shed: c.reason }, 'a returned value is sent')
    t.match(infos, [{ limit: 1, inflight: Number, reason: c.reason }])
    const answered = await refusal(t, c, {
      rejection: { onLimitExceeded (_request, reply) { return reply.code(418).send('answered') as never } }
    })
    t.same([answered.res.statusCode, answered.res.body], [418, 'answered'], 'returning reply: the callback answered')
    const fallthrough = await refusal(t, c, { rejection: { statusCode: 429, onLimitExceeded () {} } })
    t.same([fallthrough.res.statusCode, fallthrough.res.json().code], [429, c.code], 'nothing returned: the default answer')
  })

  if (c.sessions && c.code === 'FST_CONCURRENCY_SESSION_REFUSED') {
    t.test(`${c.name}: sessions.onRefused overrides onLimitExceeded`, async t => {
      const calls: string[] = []
      const { res } = await refusal(t, c, {
        rejection: { onLimitExceeded () { calls.push('onLimitExceeded') } },
        sessions: { onRefused (_request, _reply, reason) { calls.push(`onRefused:${reason}`); return { waitingRoom: true } } }
      })
      t.same(calls, [`onRefused:${c.reason}`])
      t.same(res.json(), { waitingRoom: true })
      t.equal(res.headers['retry-after'], '1')
    })
  }
}

t.test('with sessions, a request shed by the overload rule never reaches onRefused', async t => {
  const calls: string[] = []
  const { res } = await refusal(t, CASES[0], {
    sessions: { onRefused () { calls.push('onRefused') } },
    rejection: { onLimitExceeded (_request, _reply, info) { calls.push(`onLimitExceeded:${info.reason}`) } }
  })
  t.same(calls, ['onLimitExceeded:limit'])
  t.equal(res.statusCode, 503)
})

// Connection: close tells an HTTP/1.1 client of a draining server to reconnect elsewhere.
// HTTP/2 forbids connection-specific headers: Node drops them with a warning.
for (const protocol of PROTOCOLS) {
  t.test(`${protocol}: a draining refusal over real sockets`, async t => {
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.message) }
    process.on('warning', onWarning)
    t.teardown(() => { process.removeListener('warning', onWarning) })
    const app = appFor(protocol)
    await app.register(fastifyAdaptiveConcurrency, { eventLoop: false, rejection: { retryAfter: 3 } })
    app.get('/', async () => 'ok')
    await app.listen({ port: 0, host: '127.0.0.1' })
    const client = connectClient(protocol, (app.server.address() as { port: number }).port)
    t.teardown(async () => { client.close(); await app.close() })
    t.equal((await client.request('/').reply)?.status, 200)
    await app.concurrency.drain({ timeout: 1000 })
    const reply = await client.request('/').reply
    t.equal(reply?.status, 503)
    t.equal(reply?.headers['retry-after'], '3')
    t.equal(reply?.headers.connection, protocol === 'http1' ? 'close' : undefined)
    await until(() => app.concurrency.inflight === 0)
    await new Promise(resolve => setImmediate(resolve))
    t.same(warnings, [], 'no process warning')
  })
}
