// The admission pipeline on its own: stages built from a complete context, run in declared
// order, one way out for refusals, one record and one 'close' listener per request.
import t from 'tap'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { attachCapacityStage, backlogLimiterOptions } from '../../lib/backlog/stage'
import { LongLivedTracker, WAITING } from '../../lib/longlived/tracker'
import { resolveOptions } from '../../lib/options'
import { Pipeline } from '../../lib/pipeline/pipeline'
import type { RequestState } from '../../lib/pipeline/request-state'
import { PASS, type AdmissionStage, type StageContext } from '../../lib/pipeline/stage'
import type { RejectReason } from '../../lib/refusal'

interface Probe {
  calls: string[]
  /** What `enter` answers, by request id (?id=...). */
  verdicts: Map<string, RejectReason | typeof PASS>
  /** Requests this stage holds once admitted, resumed or withdrawn by hand. */
  holds: Set<string>
  held: Map<string, RequestState>
  ctx: StageContext | undefined
  /** The stage objects as built, by name. */
  built: Map<string, AdmissionStage>
}

function probeStage (name: string, probe: Probe, ctx: StageContext): AdmissionStage {
  probe.ctx = ctx
  const stage: AdmissionStage = {
    enter (state) {
      const id = idOf(state)
      probe.calls.push(`${name}.enter ${id}`)
      return probe.verdicts.get(`${name}:${id}`) as RejectReason | typeof PASS | undefined
    },
    admitted (state) {
      const id = idOf(state)
      probe.calls.push(`${name}.admitted ${id}`)
      if (!probe.holds.has(`${name}:${id}`)) return true
      probe.held.set(id, state)
      return false
    },
    released (state) { probe.calls.push(`${name}.released ${idOf(state)}`) },
    preClose () { probe.calls.push(`${name}.preClose`) }
  }
  probe.built.set(name, stage)
  return stage
}

function idOf (state: RequestState): string {
  return (state.request.query as { id: string }).id
}

async function setup (limit: number, extra: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, probe: Probe, pipeline: Pipeline<Record<string, AdmissionStage>, ReturnType<typeof attachCapacityStage>>, longLived: LongLivedTracker }> {
  const options = resolveOptions({ algorithm: { name: 'fixed', options: { limit } }, eventLoop: false, ...extra })
  const probe: Probe = { calls: [], verdicts: new Map(), holds: new Set(), held: new Map(), ctx: undefined, built: new Map() }
  const app = Fastify()
  const longLived = new LongLivedTracker(undefined)
  const pipeline = new Pipeline({
    fastify: app,
    options,
    classes: undefined,
    pressure: { isUnderPressure: undefined, memoryUsage: undefined },
    longLived,
    limiter: { algorithm: options.algorithm, ...backlogLimiterOptions(options) },
    stages: (ctx) => ({ first: probeStage('first', probe, ctx), second: probeStage('second', probe, ctx) }),
    capacity: attachCapacityStage
  })
  app.addHook('onRequest', pipeline.onRequest)
  app.addHook('preClose', async () => { for (const stage of pipeline.lifecycle) await stage.preClose?.() })
  app.get('/', async (request) => {
    probe.calls.push(`handler ${(request.query as { id: string }).id}`)
    return 'ok'
  })
  await app.ready()
  t.teardown(() => app.close())
  return { app, probe, pipeline, longLived }
}

t.test('stages run in declared order, admitted hooks too, released once when the response closes', async t => {
  const { app, probe, pipeline } = await setup(2)
  const res = await app.inject('/?id=a')
  t.equal(res.statusCode, 200)
  await new Promise(resolve => setImmediate(resolve))
  t.same(probe.calls, ['first.enter a', 'second.enter a', 'first.admitted a', 'second.admitted a', 'handler a', 'first.released a', 'second.released a'])
  t.same([pipeline.limiter.admitted, pipeline.limiter.inflight, pipeline.limiter.succeeded], [1, 0, 1])
})

t.test('PASS lets a request through uncounted; a reason refuses it, counted once, before capacity is asked', async t => {
  const { app, probe, pipeline } = await setup(1, { partitions: { shares: { live: 0.5 } } })
  probe.verdicts.set('first:p', PASS)
  probe.verdicts.set('second:r', 'draining')
  t.equal((await app.inject('/?id=p')).statusCode, 200)
  const refused = await app.inject('/?id=r')
  t.equal(refused.statusCode, 503)
  t.match(refused.json(), { code: 'FST_CONCURRENCY_SESSION_REFUSED' })
  t.same(probe.calls, ['first.enter p', 'handler p', 'first.enter r', 'second.enter r'], 'no later stage, no capacity, no handler')
  const limiter = pipeline.limiter
  t.same([limiter.admitted, limiter.rejected], [0, 1])
  t.equal(limiter.partitions?.status(1).default.rejected, 1, 'counted against the request\'s partition')
})

t.test('a stage that holds an admitted request resumes it later; the following stages run then', async t => {
  const { app, probe } = await setup(2)
  probe.holds.add('first:h')
  const pending = app.inject('/?id=h')
  for (let i = 0; i < 20 && !probe.held.has('h'); i++) await new Promise(resolve => setImmediate(resolve))
  t.same(probe.calls, ['first.enter h', 'second.enter h', 'first.admitted h'], 'held: the second stage and the handler wait')
  const state = probe.held.get('h') as RequestState
  const ctx = probe.ctx as StageContext
  ctx.resume(state, probe.built.get('first') as AdmissionStage)
  t.equal((await pending).statusCode, 200)
  t.same(probe.calls.slice(3, 5), ['second.admitted h', 'handler h'])
})

t.test('a long-lived request gives its permit back once the stages admitted it; one whose client left while held is not counted open', async t => {
  const { app, probe, pipeline, longLived } = await setup(1)
  probe.holds.add('first:a')
  probe.holds.add('first:b')
  const a = app.inject('/?id=a')
  for (let i = 0; i < 20 && !probe.held.has('a'); i++) await new Promise(resolve => setImmediate(resolve))
  const ctx = probe.ctx as StageContext
  const first = probe.built.get('first') as AdmissionStage
  const held = probe.held.get('a') as RequestState
  held.longLived = WAITING
  t.equal(pipeline.limiter.inflight, 1, 'held with its permit')
  ctx.resume(held, first)
  t.equal(pipeline.limiter.inflight, 0, 'given back when the last stage admitted it')
  t.equal(longLived.status().waiting, 1)
  t.equal((await a).statusCode, 200)
  await new Promise(resolve => setImmediate(resolve))
  t.equal(longLived.status().waiting, 0, 'closed')
  // Held, then its client leaves: 'close' releases the permit; resuming it later counts nothing open.
  const b = app.inject('/?id=b')
  for (let i = 0; i < 20 && !probe.held.has('b'); i++) await new Promise(resolve => setImmediate(resolve))
  const left = probe.held.get('b') as RequestState
  left.longLived = WAITING
  left.reply.raw.emit('close')
  t.equal(pipeline.limiter.inflight, 0)
  ctx.resume(left, first)
  await b.catch(() => {}) // light-my-request reports the 'close' as a reset
  t.same(longLived.status(), { open: 0, websockets: 0, waiting: 0, sending: 0, admitted: 1, routes: {} })
  const l = pipeline.limiter
  t.same([l.admitted, l.ignored, l.inflight], [2, 2, 0], 'each released once, with no sample')
})

t.test('withdraw gives the permit back without a sample, counts and answers the refusal', async t => {
  const { app, probe, pipeline } = await setup(2)
  probe.holds.add('second:w')
  const pending = app.inject('/?id=w')
  for (let i = 0; i < 20 && !probe.held.has('w'); i++) await new Promise(resolve => setImmediate(resolve))
  const ctx = probe.ctx as StageContext
  ctx.withdraw(probe.held.get('w') as RequestState, 'session-cap')
  const res = await pending
  t.equal(res.statusCode, 503)
  t.match(res.json(), { message: /session-cap/ })
  const l = pipeline.limiter
  t.same([l.admitted, l.ignored, l.succeeded, l.rejected, l.inflight], [1, 1, 0, 1, 0])
  t.equal(probe.calls.filter(c => c.startsWith('first.released') || c.startsWith('second.released')).length, 2, 'released hooks ran once per stage')
  t.notOk(probe.calls.includes('handler w'))
})

t.test('preClose runs in stage order, the capacity stage last: queued requests are answered after the drain', async t => {
  const { app, probe } = await setup(1, { queue: { size: 5, timeout: 60_000 } })
  probe.holds.add('second:x')
  const first = app.inject('/?id=x')
  for (let i = 0; i < 20 && !probe.held.has('x'); i++) await new Promise(resolve => setImmediate(resolve))
  const queued = app.inject('/?id=q')
  for (let i = 0; i < 20 && probe.calls.filter(c => c === 'second.enter q').length === 0; i++) await new Promise(resolve => setImmediate(resolve))
  const closing = app.close()
  const res = await queued
  t.equal(res.statusCode, 503)
  t.match(res.json(), { message: /draining/ })
  t.same(probe.calls.filter(c => c.endsWith('preClose')), ['first.preClose', 'second.preClose'])
  ;(probe.ctx as StageContext).withdraw(probe.held.get('x') as RequestState, 'draining')
  await first
  await closing
})
