// Bad requests: garbage and huge session keys, malformed deadline headers, odd Accept
// headers on the status route, and a flood of distinct session keys. The process must not crash,
// no permit may leak, and what the plugin remembers per client must stay bounded.
import t from 'tap'
import type { Test } from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { request } from 'undici'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { collect, open, prng, statusOf } from './helpers'

async function appWith (opts: FastifyAdaptiveConcurrencyOptions): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, { eventLoop: false, observability: { logging: false }, ...opts } as FastifyAdaptiveConcurrencyOptions)
  app.get('/', async () => 'ok')
  return app
}

function noLeak (t: Test, app: FastifyInstance): void {
  const c = app.concurrency
  t.equal(c.inflight, 0, 'no permit leaked')
  t.equal(c.admitted, c.succeeded + c.dropped + c.ignored, 'the counters add up')
}

const sessionKey = (request: { headers: Record<string, unknown> }): string | undefined => {
  const v = request.headers['x-session']
  return typeof v === 'string' ? v : undefined
}

t.test('garbage and huge session keys: answered, never a 500, and never tracked when unusable', async t => {
  // What key() really returned (header values arrive trimmed, repeated headers joined with ', ').
  const received = new Set<string>()
  const recordingKey = (request: { headers: Record<string, unknown> }): string | undefined => {
    const key = sessionKey(request)
    if (key !== undefined) received.add(key)
    return key
  }
  const app = await appWith({ sessions: { key: recordingKey, idleTimeout: 60_000, maxSessions: 100, maxKeyLength: 64 } })
  t.teardown(() => app.close())
  const random = prng(8)
  const garbage = [
    '', ' ', '\t', 'x'.repeat(65), 'x'.repeat(8000), '../../etc/passwd', '__proto__', 'constructor',
    'toString', '%00', 'null', 'undefined', '{"a":1}', 'é☃𝄞', '\u00ff'.repeat(64),
    Array.from({ length: 64 }, () => String.fromCharCode(33 + Math.floor(random() * 94))).join('')
  ]
  for (const key of garbage) {
    const res = await app.inject({ url: '/', headers: { 'x-session': key } })
    t.equal(res.statusCode, 200, `key ${JSON.stringify(key.slice(0, 20))}${key.length > 20 ? '…' : ''} (${key.length} chars)`)
  }
  const repeated = await app.inject({ url: '/', headers: { 'x-session': ['a', 'b'] as unknown as string } })
  t.equal(repeated.statusCode, 200)
  const s = app.concurrency.sessions
  // Unusable keys (empty, longer than maxKeyLength) count as sessionless: never remembered.
  const usable = [...received].filter(k => k.length > 0 && k.length <= 64).length
  t.ok(received.size > usable, 'some keys were unusable')
  t.equal(s?.active, usable, 'only usable keys are tracked')
  noLeak(t, app)
})

t.test('a key over Node\'s header limit is refused by Node (431) and the server keeps serving', async t => {
  const app = await appWith({ sessions: { key: sessionKey, idleTimeout: 60_000 } })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const socket = await open(port)
  const reply = collect(socket)
  socket.write(`GET / HTTP/1.1\r\nHost: l\r\nX-Session: ${'k'.repeat(64 * 1024)}\r\nConnection: close\r\n\r\n`)
  t.equal(statusOf(await reply), 431)
  const res = await request(`http://127.0.0.1:${port}/`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
  noLeak(t, app)
})

t.test('a flood of distinct session keys: tracked keys and seats stay capped', async t => {
  const MAX_TRACKED = 1000
  const MAX_SESSIONS = 200
  async function flood (app: FastifyInstance, n: number, prefix: string): Promise<{ statuses: Map<number, number>, peak: number }> {
    const statuses = new Map<number, number>()
    let peak = 0
    for (let i = 0; i < n; i++) {
      // Long keys (just under maxKeyLength) make an unbounded map obvious.
      const res = await app.inject({ url: '/', headers: { 'x-session': `${prefix}-${i}-${'p'.repeat(100)}` } })
      statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1)
      if (i % 2500 === 2499) peak = Math.max(peak, app.concurrency.sessions?.active ?? Infinity)
    }
    return { statuses, peak }
  }

  t.test('without a session cap: 30,000 keys, at most maxTracked remembered, the oldest evicted', async t => {
    const app = await appWith({ sessions: { key: sessionKey, idleTimeout: 600_000, maxTracked: MAX_TRACKED } })
    t.teardown(() => app.close())
    const { statuses, peak } = await flood(app, 30_000, 'a')
    const s = app.concurrency.sessions
    t.comment(`statuses ${JSON.stringify(Object.fromEntries(statuses))}; sessions ${JSON.stringify(s)}`)
    t.equal(statuses.get(200), 30_000, 'every request served')
    t.ok(peak <= MAX_TRACKED, `tracked keys never above maxTracked (${MAX_TRACKED}); peak ${peak}`)
    t.equal(s?.active, MAX_TRACKED)
    t.equal(s?.evicted, 30_000 - MAX_TRACKED, 'every key beyond the cap evicted an older one')
    noLeak(t, app)
  })

  t.test('with maxSessions: 20,000 keys, seats capped, the rest refused as new sessions', async t => {
    const app = await appWith({
      sessions: { key: sessionKey, idleTimeout: 600_000, maxSessions: MAX_SESSIONS, maxTracked: MAX_TRACKED }
    })
    t.teardown(() => app.close())
    const { statuses, peak } = await flood(app, 20_000, 'b')
    const s = app.concurrency.sessions
    t.comment(`statuses ${JSON.stringify(Object.fromEntries(statuses))}; sessions ${JSON.stringify(s)}`)
    t.ok(peak <= MAX_SESSIONS, `tracked keys ≤ maxSessions (${MAX_SESSIONS}); peak ${peak}`)
    t.equal(s?.seats, MAX_SESSIONS, 'seats = maxSessions')
    t.equal(statuses.get(200), MAX_SESSIONS, 'the first maxSessions keys got in')
    t.equal(statuses.get(503), 20_000 - MAX_SESSIONS, 'the rest were refused')
    t.equal(s?.refusedByReason['session-cap'], 20_000 - MAX_SESSIONS)
    noLeak(t, app)
  })
})

t.test('malformed deadline headers are ignored: answered 200, never a 500, nothing leaked', async t => {
  const app = await appWith({ algorithm: { name: 'fixed', options: { limit: 4 } }, queue: { size: 0, deadlineHeader: 'x-deadline' } })
  t.teardown(() => app.close())
  const values = [
    '', ' ', 'abc', '-5', '-0.5', '1e309', '1e3', 'NaN', 'Infinity', '-Infinity', '0x10', '12.5.6', '+7',
    '9'.repeat(400), '1 000', '100ms', '٣٣', '\u00a0100', '5,5', '.', 'null', '[]', '99999999999999999999'
  ]
  for (const value of values) {
    const res = await app.inject({ url: '/', headers: { 'x-deadline': value } })
    t.equal(res.statusCode, 200, `x-deadline: ${JSON.stringify(value.slice(0, 20))}`)
  }
  const repeated = await app.inject({ url: '/', headers: { 'x-deadline': ['10', '20'] as unknown as string } })
  t.equal(repeated.statusCode, 200, 'a repeated header is ambiguous and ignored')
  noLeak(t, app)
})

t.test('odd Accept headers and queries on the status route: always a 200 with JSON or the page', async t => {
  const app = await appWith({ statusRoute: true })
  t.teardown(() => app.close())
  const accepts = [
    undefined, '', '*/*', 'application/json', 'text/html', 'text/html;q=0', 'application/json;q=0, text/*',
    'image/png', 'text/*', '*/*;q=abc', ';;;,,,', 'x'.repeat(16_000), 'application/json, text/html',
    'TEXT/HTML', '\u0001\u0002', 'text/html'.repeat(100)
  ]
  for (const accept of accepts) {
    for (const query of ['', '?history=true', '?history=garbage', '?history[]=1', '?history=1&history=2']) {
      const res = await app.inject({ url: `/status${query}`, headers: accept === undefined ? {} : { accept } })
      const label = `Accept ${JSON.stringify(accept?.slice(0, 24))} ${query}`
      t.equal(res.statusCode, 200, label)
      const isHtml = (res.headers['content-type'] as string).startsWith('text/html')
      if (isHtml) t.match(res.body, /<html/i, `${label}: the page`)
      else t.equal(typeof (res.json() as { limit: unknown }).limit, 'number', `${label}: JSON`)
    }
  }
  noLeak(t, app)
})
