// Observability (lib/observability/options.ts + attach.ts) through the real plugin: options, Prometheus metrics after known traffic (two apps
// sharing a registry), diagnostics_channel messages, logs through the app's pino logger, history
// on the status route and the HTML page.
import { test } from 'tap'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { register as globalRegistry, Registry } from 'prom-client'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import { METRIC_PREFIX } from '../../lib/metrics/prometheus'
import { attachObservability } from '../../lib/observability/attach'
import { resolveObservability } from '../../lib/observability/options'
import { LIMIT_CHANNEL, REJECT_CHANNEL, SAMPLE_CHANNEL } from '../../lib/observability/channels'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import type { LimitAlgorithm, Sample } from '../../lib/algorithms/types'
import { latch, recordingAlgorithm, settle } from '../plugin/helpers'

async function registrationError (opts: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  app.register(fastifyAdaptiveConcurrency, opts as FastifyAdaptiveConcurrencyOptions)
  try {
    await app.ready()
  } catch (err) {
    return err as Error & { code?: string }
  } finally {
    await app.close()
  }
  throw new Error('expected ready() to fail')
}

test('observability options are validated, naming the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [{ observability: 'on' }, /"observability": expected an object, got "on"/],
    [{ observability: { instance: '' } }, /"observability\.instance": expected a non-empty string, got ""/],
    [{ observability: { instance: 3 } }, /"observability\.instance": expected a non-empty string, got 3/],
    [{ observability: { metrics: 'yes' } }, /"observability\.metrics": expected a boolean or an object, got "yes"/],
    [{ observability: { metrics: { registry: {} } } }, /"observability\.metrics\.registry": expected a prom-client Registry/],
    [{ observability: { metrics: { registry: null } } }, /"observability\.metrics\.registry": expected a prom-client Registry, got null/],
    [{ observability: { metrics: { rttBuckets: [] } } }, /"observability\.metrics\.rttBuckets": expected a non-empty array of increasing positive numbers/],
    [{ observability: { metrics: { rttBuckets: [0.1, 0.05] } } }, /"observability\.metrics\.rttBuckets"/],
    [{ observability: { metrics: { rttBuckets: 'fast' } } }, /"observability\.metrics\.rttBuckets"/],
    [{ observability: { metrics: { registery: new Registry() } } }, /"observability\.metrics\.registery": unknown option; accepted: registry, rttBuckets/],
    [{ observability: { logging: null } }, /"observability\.logging": expected a boolean or an object, got null/],
    [{ observability: { logging: { sheddingInterval: 0 } } }, /"observability\.logging\.sheddingInterval": expected a number in \[1, Infinity\)/],
    [{ observability: { logging: { interval: 5 } } }, /"observability\.logging\.interval": unknown option; accepted: sheddingInterval/],
    [{ observability: { history: [] } }, /"observability\.history": expected a boolean or an object, got an array/],
    [{ observability: { history: { seconds: 1.5 } } }, /"observability\.history\.seconds": expected an integer in \[1, 86400\]/],
    [{ observability: { instanc: 'x' } }, /"observability\.instanc": unknown option; accepted: instance, metrics, logging, history/],
    // The old top-level names are gone, not aliased.
    [{ metrics: true }, /"metrics": unknown option/],
    [{ statusRoute: { page: 'yes' } }, /"statusRoute\.page": expected an object/],
    [{ statusRoute: { page: { title: 1 } } }, /"statusRoute\.page\.title": expected a string, got 1/],
    [{ statusRoute: { page: { heading: 'x' } } }, /"statusRoute\.page\.heading": unknown option; accepted: title/]
  ]
  for (const [opts, message] of cases) {
    const err = await registrationError(opts)
    t.equal(err.code, 'FST_CONCURRENCY_INVALID_OPTION', JSON.stringify(opts))
    t.match(err.message, message)
  }
})

/** Scrape the text exposition; index sample lines by `name{labels}` without the metric prefix. */
async function scrape (registry: Registry): Promise<Map<string, number>> {
  const out = new Map<string, number>()
  for (const line of (await registry.metrics()).split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.lastIndexOf(' ')
    out.set(line.slice(0, i).replaceAll(METRIC_PREFIX, ''), Number(line.slice(i + 1)))
  }
  return out
}

/**
 * An app with limit 2 whose `/hold` requests wait on a latch, plus `/ok`, `/fail` (500) and a
 * bypassed `/health`. Known traffic: 3 ok, 1 fail, 2 held while 3 more are rejected, 1 bypassed.
 */
async function trafficApp (opts: Partial<FastifyAdaptiveConcurrencyOptions>): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, {
    signal: { sampleClass: false },
    algorithm: recordingAlgorithm(2),
    eventLoop: false,
    bypass: request => request.url === '/health',
    // Known traffic: requests at the limit are refused at once, not queued.
    queue: false,
    ...opts
  } as FastifyAdaptiveConcurrencyOptions)
  const gate = latch()
  app.get('/ok', async () => 'ok')
  app.get('/fail', async (_req, reply) => reply.code(500).send('no'))
  app.get('/hold', async () => { await gate.wait(); return 'held' })
  app.get('/health', async () => 'up')
  await app.ready()
  for (let i = 0; i < 3; i++) await app.inject('/ok')
  await app.inject('/fail')
  await app.inject('/health')
  const held = [app.inject('/hold'), app.inject('/hold')]
  await gate.arrived(2)
  for (let i = 0; i < 3; i++) t503(await app.inject('/ok'))
  gate.open()
  await Promise.all(held)
  await settle()
  return app
}

function t503 (res: { statusCode: number }): void {
  if (res.statusCode !== 503) throw new Error(`expected a rejection, got ${res.statusCode}`)
}

test('metrics after known traffic, two apps sharing one registry', async t => {
  const registry = new Registry()
  const a = await trafficApp({ observability: { instance: 'a', metrics: { registry } } })
  const b = await trafficApp({ observability: { instance: 'b', metrics: { registry, rttBuckets: [1] } } })
  await b.inject('/ok')
  await settle()
  const m = await scrape(registry)
  for (const [inst, extra] of [['a', 0], ['b', 1]] as const) {
    t.equal(m.get(`limit{instance="${inst}"}`), 2, `${inst}: limit`)
    t.equal(m.get(`inflight{instance="${inst}"}`), 0, `${inst}: inflight`)
    t.equal(m.get(`queue_length{instance="${inst}"}`), 0, `${inst}: queue_length (no queue)`)
    t.equal(m.get(`admitted_total{instance="${inst}"}`), 6 + extra, `${inst}: admitted`)
    t.equal(m.get(`succeeded_total{instance="${inst}"}`), 5 + extra, `${inst}: succeeded`)
    t.equal(m.get(`dropped_total{instance="${inst}"}`), 1, `${inst}: dropped (the 500)`)
    t.equal(m.get(`ignored_total{instance="${inst}"}`), 0, `${inst}: ignored`)
    t.equal(m.get(`rejected_total{instance="${inst}",reason="limit"}`), 3, `${inst}: rejected by reason`)
    t.equal(m.get(`bypassed_total{instance="${inst}"}`), 1, `${inst}: bypassed`)
    t.equal(m.get(`sample_rtt_seconds_count{instance="${inst}"}`), 6 + extra, `${inst}: one RTT sample per success or drop`)
  }
  // The first app created the histogram: its default buckets win over b's rttBuckets.
  t.ok(m.has('sample_rtt_seconds_bucket{le="0.001",instance="b"}'), 'shared histogram keeps its buckets')
  t.equal(m.get('sample_rtt_seconds_bucket{le="+Inf",instance="a"}'), 6)

  await a.close()
  const after = await scrape(registry)
  t.notOk(after.has('limit{instance="a"}'), 'a closed app is no longer reported')
  t.equal(after.get('admitted_total{instance="b"}'), 7)
  await b.close()
})

test('metrics: true registers on prom-client\'s default registry, once for several apps', async t => {
  t.teardown(() => globalRegistry.clear())
  const apps = [await trafficApp({ observability: { metrics: true } }), await trafficApp({ observability: { metrics: true } })]
  const m = await scrape(globalRegistry)
  t.equal(m.get('admitted_total{instance="default"}'), 12, 'two apps with the same instance label add up')
  t.equal(m.get('limit{instance="default"}'), 4)
  for (const app of apps) await app.close()
})

test('diagnostics_channel: limit, reject and sample messages carry the instance', async t => {
  const seen: Record<string, unknown[]> = { limit: [], reject: [], sample: [] }
  const subs: Array<[string, (m: unknown) => void]> = [
    [LIMIT_CHANNEL, m => seen.limit.push(m)],
    [REJECT_CHANNEL, m => seen.reject.push(m)],
    [SAMPLE_CHANNEL, m => seen.sample.push(m)]
  ]
  for (const [name, fn] of subs) subscribe(name, fn)
  t.teardown(() => { for (const [name, fn] of subs) unsubscribe(name, fn) })
  // Up by one per success, back to 2 on a drop: every completed request moves the limit, and it
  // is 2 again (after the 500) when the held requests arrive, so the rejections still happen.
  let limit = 2
  const stepping: LimitAlgorithm = { name: 'stepping', get limit () { return limit }, onSample (s: Sample) { limit = s.dropped ? 2 : limit + 1 }, state: () => ({}) }
  const app = await trafficApp({ observability: { instance: 'chan' }, algorithm: stepping })
  t.teardown(() => app.close())
  t.same(seen.reject, [1, 2, 3].map(() => ({ instance: 'chan', reason: 'limit', partition: undefined })))
  t.equal(seen.sample.length, 6)
  t.match(seen.sample[0], { instance: 'chan', inflight: 1, dropped: false, partition: undefined, rtt: Number })
  t.equal(seen.sample.filter(s => (s as { dropped: boolean }).dropped).length, 1, 'the 500 is a dropped sample')
  t.same(seen.limit.map(m => { const { oldLimit, newLimit, reason } = m as Record<string, unknown>; return [oldLimit, newLimit, reason] }),
    [[2, 3, 'sample'], [3, 4, 'sample'], [4, 5, 'sample'], [5, 2, 'drop'], [2, 3, 'sample'], [3, 4, 'sample']])
  t.match(seen.limit[0], { instance: 'chan' })
})

/** A Fastify logger writing parsed pino lines into an array. */
function capturingLogger (level: string): { lines: Array<Record<string, unknown>>, logger: { level: string, stream: Writable } } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l))
      cb()
    }
  })
  return { lines, logger: { level, stream } }
}

test('logs: limit changes at debug, sustained shedding at warn with counts', async t => {
  const { lines, logger } = capturingLogger('debug')
  const app = Fastify({ logger })
  let limit = 1
  const algorithm: LimitAlgorithm = {
    name: 'toggle',
    get limit () { return limit },
    onSample () { limit = limit === 1 ? 0 : 1 },
    state: () => ({})
  }
  // queue: false: shedding is immediate refusal, counted as it happens.
  await app.register(fastifyAdaptiveConcurrency, { algorithm, signal: { sampleClass: false }, eventLoop: false, queue: false, observability: { logging: { sheddingInterval: 20 } } })
  app.get('/', async () => 'x')
  t.teardown(() => app.close())

  await app.inject('/') // limit 1 -> 0
  await settle()
  const debug = lines.filter(l => l.level === 20 && l.oldLimit !== undefined)
  t.same(debug.map(l => [l.oldLimit, l.newLimit, l.reason, l.msg]), [[1, 0, 'sample', 'concurrency limit 1 -> 0 (sample)']])

  // Every request is now shed. Keep rejecting until one whole interval of shedding has passed
  // (real time: the warning is due at the first rejection 20 ms after the episode started).
  let sent = 0
  const warned = (): Array<Record<string, unknown>> => lines.filter(l => l.level === 40)
  while (warned().length === 0) {
    t503(await app.inject('/'))
    if (++sent > 100_000) throw new Error('no shedding warning')
  }
  const [warn] = warned()
  t.match(warn, { limit: 0, seconds: 0, reasons: { limit: Number } })
  t.ok((warn.rejected as number) >= 2 && (warn.rejected as number) <= sent, `counts the episode's rejections (${String(warn.rejected)})`)
  // The p50 is the last closed second's: n/a while the one admitted request's second is still
  // open, its RTT once a slow box has crossed a second boundary. Both forms are checked.
  if (warn.rttP50 === null) {
    t.match(warn.msg, /^rejected \d+ requests in the last 0 s; limit 0, rtt p50 n\/a$/)
  } else {
    t.type(warn.rttP50, 'number')
    t.match(warn.msg, /^rejected \d+ requests in the last 0 s; limit 0, rtt p50 \d+(\.\d+)? ms$/)
  }
})

test('logging: false attaches no logger; debug is skipped when the level is off', async t => {
  for (const [level, logging, expected] of [['debug', false, 0], ['info', true, 0], ['debug', true, 1]] as const) {
    const { lines, logger } = capturingLogger(level)
    const app = Fastify({ logger })
    let limit = 1
    const algorithm: LimitAlgorithm = { name: 'once', get limit () { return limit }, onSample () { limit = 3 }, state: () => ({}) }
    await app.register(fastifyAdaptiveConcurrency, { algorithm, signal: { sampleClass: false }, eventLoop: false, observability: { logging } })
    app.get('/', async () => 'x')
    await app.inject('/')
    await settle()
    t.equal(lines.filter(l => l.oldLimit !== undefined).length, expected, `level ${level}, logging ${logging}`)
    await app.close()
  }
})

test('the status route: history on request, the HTML page for browsers', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, {
    signal: { sampleClass: false },
    algorithm: recordingAlgorithm(5),
    eventLoop: false,
    statusRoute: { url: '/status', page: { title: 'Shop <API>' } }
  })
  app.get('/', async () => 'x')
  t.teardown(() => app.close())

  const plain = await app.inject('/status')
  t.equal(plain.json().history, undefined, 'no history unless asked')
  t.equal(plain.headers.vary, 'Accept')
  for (const q of ['history=true', 'history=1', 'history']) {
    t.ok(Array.isArray((await app.inject(`/status?${q}`)).json().history), `?${q}`)
  }
  t.equal((await app.inject('/status?history=false')).json().history, undefined)

  for (let i = 0; i < 7; i++) await app.inject('/')
  await settle()
  // The second the requests landed in closes at the next boundary (real time, at most ~1 s).
  type Point = { t: number, limit: number, inflight: number, admitted: number, rejected: number, rttP50: number | null, rttP99: number | null }
  let points: Point[] = []
  const deadline = Date.now() + 5000
  while (points.reduce((n, p) => n + p.admitted, 0) !== 7) {
    if (Date.now() > deadline) throw new Error('the requests never showed up in the history')
    await new Promise(resolve => setTimeout(resolve, 50))
    points = (await app.inject('/status?history=true')).json().history
  }
  const busy = points.filter(p => p.admitted > 0)
  // A second may close between a request's admission and its sample (a slow box): that point
  // has the admission and no RTT yet. Every point keeps every field; some carry the RTTs.
  t.ok(busy.every(p => p.limit === 5 && 'rttP50' in p && 'rttP99' in p && p.t % 1000 === 0),
    'points keep every field through the response schema')
  t.ok(busy.some(p => typeof p.rttP50 === 'number' && typeof p.rttP99 === 'number'), 'the RTT percentiles come through')
  t.same(app.concurrency.snapshot({ history: true }).history?.slice(0, points.length), points)

  const html = await app.inject({ url: '/status', headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
  t.equal(html.statusCode, 200)
  t.equal(html.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(html.headers['cache-control'], 'no-store')
  t.equal(html.headers.vary, 'Accept')
  t.match(html.body, /<title>Shop &lt;API&gt;<\/title>/)
  t.equal(app.concurrency.admitted, 7, 'status requests are never counted')
})

test('history: false keeps no history; page: false serves JSON to browsers', async t => {
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, {
    signal: { sampleClass: false },
    algorithm: recordingAlgorithm(5),
    observability: { history: false },
    statusRoute: { page: false }
  })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/status?history=true', headers: { accept: 'text/html' } })
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.same(res.json().history, [])
  t.same(app.concurrency.snapshot({ history: true }).history, [])
})

test('metrics read the queue length and partitions from the limiter when it has them', async t => {
  const registry = new Registry()
  const observers: unknown[] = []
  const partitions = [
    { name: 'live', inflight: 3, guaranteed: (limit: number) => Math.ceil(limit * 0.7) },
    { name: 'default', inflight: 1, guaranteed: (limit: number) => Math.ceil(limit * 0.3) }
  ]
  const counters = { limit: 10, inflight: 4, admitted: 4, rejected: 0, succeeded: 0, dropped: 0, ignored: 0, bypassed: 0 }
  const limiter = {
    ...counters,
    queue: { length: 5 },
    partitions: { list: partitions },
    addObserver (o: unknown) { observers.push(o) }
  }
  const o = attachObservability(limiter, resolveObservability({ instance: 'p', metrics: { registry }, logging: false, history: false }), Fastify().log)
  t.equal(o.history, undefined)
  t.equal(observers.length, 2, 'channels and metrics only')
  const m = await scrape(registry)
  t.equal(m.get('queue_length{instance="p"}'), 5)
  t.equal(m.get('partition_limit{instance="p",partition="live"}'), 7)
  t.equal(m.get('partition_inflight{instance="p",partition="default"}'), 1)
  o.close()
  t.notOk((await scrape(registry)).has('queue_length{instance="p"}'))
})
