import t from 'tap'
import Fastify from 'fastify'
import plugin from '../../index'
import type { FastifyAdaptiveConcurrencyOptions } from '../../index'
import { kInternal } from '../../lib/internal'

function burn (ms: number): void {
  const start = performance.now()
  while (performance.now() - start < ms) { /* a CPU-bound handler */ }
}

// inject() hands a burst to the router within one loop turn, as libuv's poll phase hands over
// the readable sockets of one iteration (see test/plugin/event-loop.test.ts). The gate reads a
// fake clock that only the handlers advance (35 ms each), so the test does not depend on how
// fast this shared machine runs: turns are measured as if the handlers were CPU-bound, and the
// two bursts are back to back whatever the scheduler does between them.
t.test('past maxWait, admitted requests run after the turn that parsed them, paced', async t => {
  const loop = { clock: 0 }
  const app = Fastify()
  await app.register(plugin, {
    algorithm: { name: 'fixed', options: { limit: 100 } },
    eventLoop: { maxWait: 100 },
    [kInternal]: { loop: { now: () => loop.clock } }
  } as FastifyAdaptiveConcurrencyOptions)
  const handled: boolean[] = []
  let turnEnded = false
  app.get('/cpu', async () => {
    handled.push(turnEnded)
    loop.clock += 35
    return { ok: true }
  })
  await app.ready()
  t.teardown(() => app.close())
  const burst = async () => {
    turnEnded = false
    const replies = Promise.all(Array.from({ length: 4 }, async () => await app.inject('/cpu')))
    // Marks the end of the poll phase in which inject() ran the hooks.
    setImmediate(() => { turnEnded = true })
    const codes = (await replies).map(r => r.statusCode)
    await new Promise(resolve => setImmediate(resolve))
    return codes
  }
  // 35 ms requests, maxWait 100: the fourth of a burst has waited 105 ms.
  t.same(await burst(), [200, 200, 200, 200], 'one slow turn: nothing is shed')
  t.same(handled, [false, false, false, true], 'but what waited past maxWait runs after the turn, paced, not inline')
  handled.length = 0
  const second = await burst()
  t.equal(second[0], 200)
  t.ok(second.includes(503), `a sustained queue: shedding starts (${second.join(',')})`)
  t.ok(handled.length > 0 && handled.every(Boolean), 'while pacing, every admitted request runs after the turn that parsed it')
  t.equal(app.concurrency.inflight, 0)
})

t.test('eventLoop: false never paces', async t => {
  const app = Fastify()
  await app.register(plugin, { algorithm: { name: 'fixed', options: { limit: 100 } }, eventLoop: false })
  let inline = 0
  app.get('/cpu', async () => { inline++; burn(15); return { ok: true } })
  await app.ready()
  t.teardown(() => app.close())
  for (let i = 0; i < 3; i++) {
    const replies = await Promise.all(Array.from({ length: 4 }, async () => await app.inject('/cpu')))
    t.same(replies.map(r => r.statusCode), [200, 200, 200, 200])
  }
  t.equal(inline, 12)
})

// The pacer continues a request through the pipeline, so the step after admission runs for paced
// requests too: a long-lived route's request gives its permit back even when it ran from the
// check phase. With a limit of 2, four long-polls held open at once fit only if each one's permit
// came back as it started.
t.test('a paced long-lived request gives its permit back when it runs', async t => {
  const loop = { clock: 0 }
  const app = Fastify()
  await app.register(plugin, {
    algorithm: { name: 'fixed', options: { limit: 2 } },
    eventLoop: { maxWait: 100 },
    [kInternal]: { loop: { now: () => loop.clock } }
  } as FastifyAdaptiveConcurrencyOptions)
  const handled: boolean[] = []
  let turnEnded = false
  let open = () => {}
  const released = new Promise<void>(resolve => { open = resolve })
  app.get('/poll', { config: { adaptiveConcurrency: { longLived: true } } }, async () => {
    handled.push(turnEnded)
    loop.clock += 35
    await released
    return { ok: true }
  })
  await app.ready()
  t.teardown(() => app.close())
  const replies = Promise.all(Array.from({ length: 4 }, async () => await app.inject('/poll')))
  setImmediate(() => { turnEnded = true })
  while (handled.length < 4) await new Promise(resolve => setImmediate(resolve))
  t.same(handled, [false, false, false, true], 'the fourth ran paced, after the turn that parsed it')
  t.equal(app.concurrency.inflight, 0, 'no long-poll holds a permit, the paced one included')
  t.equal(app.concurrency.longLived.waiting, 4, 'all four are counted open as long-lived')
  open()
  t.same((await replies).map(r => r.statusCode), [200, 200, 200, 200])
  t.equal(app.concurrency.longLived.waiting, 0)
})
