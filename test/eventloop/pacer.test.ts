import t from 'tap'
import { EventEmitter } from 'node:events'
import { LoopPacer, BATCH_BUDGET_MS, REST_BUDGET_MS } from '../../lib/eventloop/pacer'

// A fake loop: `clock` in ms, and the callbacks deferred to the next check phase.
function fakePacer () {
  const loop = { clock: 0, pending: [] as Array<() => void> }
  const pacer = new LoopPacer({ now: () => loop.clock, defer: fn => { loop.pending.push(fn) } })
  // One loop iteration's check phase: runs what was deferred before it started.
  const checkPhase = (): void => { for (const fn of loop.pending.splice(0)) fn() }
  // A request whose handler burns `ms` of CPU when it runs, and logs its id.
  const ran: number[] = []
  const request = (id: number, ms: number) => () => { ran.push(id); loop.clock += ms }
  return { pacer, loop, checkPhase, ran, request }
}

t.test('not pacing: a request runs at once, nothing is deferred', async t => {
  const { pacer, loop, ran, request } = fakePacer()
  pacer.run(request(1, 3))
  t.same(ran, [1])
  t.equal(loop.pending.length, 0)
  t.equal(pacer.expectedWait(), 0)
})

t.test('pacing: requests run from later check phases, in order, one budget per iteration', async t => {
  t.equal(BATCH_BUDGET_MS, 5)
  const { pacer, ran, request, checkPhase, loop } = fakePacer()
  pacer.start()
  t.ok(pacer.active)
  for (let id = 1; id <= 4; id++) pacer.run(request(id, 3))
  t.same(ran, [], 'nothing runs in the poll phase that parsed them')
  t.equal(pacer.pending, 4)
  t.equal(pacer.expectedWait(), Infinity, 'no measurement yet: only an empty queue is known to be short')
  checkPhase()
  t.same(ran, [1, 2], 'two 3 ms requests use the 5 ms budget')
  t.equal(pacer.expectedWait(), 2 * 3, 'two waiting, 3 ms each (the first batch\'s handler time)')
  checkPhase()
  t.same(ran, [1, 2, 3, 4], 'no new connection came: the next batch at once')
  t.equal(pacer.paced, 4)
  checkPhase()
  t.ok(pacer.active, 'the queue drained after a full batch: arrivals may only have paused')
  t.equal(loop.pending.length, 0, 'nothing is scheduled while the queue is empty')
  pacer.run(request(5, 0.5))
  t.same(ran, [1, 2, 3, 4], 'the next request is paced')
  checkPhase()
  t.same(ran, [1, 2, 3, 4, 5])
  checkPhase()
  t.notOk(pacer.active, 'the queue drained after a batch within budget: the loop keeps up')
  pacer.run(request(6, 3))
  t.same(ran, [1, 2, 3, 4, 5, 6], 'back to running requests at once')
})

t.test('while new connections keep arriving, the loop rests as long as the batch before ran (at least REST_BUDGET_MS)', async t => {
  t.equal(REST_BUDGET_MS, 1)
  const { pacer, ran, request, checkPhase, loop } = fakePacer()
  const server = new EventEmitter()
  pacer.watch(server)
  pacer.start()
  for (let id = 1; id <= 4; id++) pacer.run(request(id, id === 3 ? 0.5 : 6))
  // Each poll phase accepts one connection, which costs 1 ms.
  const pollPhase = (): void => { server.emit('connection'); loop.clock += 1 }
  checkPhase()
  t.same(ran, [1], 'a 6 ms batch')
  pollPhase(); checkPhase() // 1 ms after the batch, a connection came: rest
  pollPhase(); checkPhase() // 2 ms
  pollPhase(); checkPhase() // 3 ms
  pollPhase(); checkPhase() // 4 ms
  pollPhase(); checkPhase() // 5 ms
  t.same(ran, [1], 'iterations without handlers while connections arrive')
  pollPhase(); checkPhase() // 6 ms: as long as the batch, so the handlers get the loop back
  t.same(ran, [1, 2])
  pollPhase(); checkPhase() // 1 ms after a 6 ms batch: rest
  t.same(ran, [1, 2])
  checkPhase()
  t.same(ran, [1, 2, 3, 4], 'no connection in the rest iteration: back to handlers at once (0.5 + 6 ms in one batch)')
  t.equal(server.listenerCount('connection'), 1)
})

t.test('after a short batch, connections get at least REST_BUDGET_MS', async t => {
  const { pacer, ran, request, checkPhase, loop } = fakePacer()
  const server = new EventEmitter()
  pacer.watch(server)
  pacer.start()
  pacer.run(request(1, 0.2))
  pacer.run(request(2, 0.2))
  checkPhase()
  t.same(ran, [1, 2])
  pacer.run(request(3, 0.2))
  const pollPhase = (): void => { server.emit('connection'); loop.clock += 0.4 }
  pollPhase(); checkPhase() // 0.4 ms after the batch
  pollPhase(); checkPhase() // 0.8 ms
  t.same(ran, [1, 2])
  pollPhase(); checkPhase() // 1.2 ms: past REST_BUDGET_MS
  t.same(ran, [1, 2, 3])
})

t.test('short requests run many to a batch', async t => {
  const { pacer, ran, request, checkPhase } = fakePacer()
  pacer.start()
  for (let id = 1; id <= 50; id++) pacer.run(request(id, 0.125))
  checkPhase()
  t.equal(ran.length, 40, 'forty 0.125 ms requests fill the 5 ms budget')
  checkPhase()
  t.equal(ran.length, 50)
  checkPhase()
  t.notOk(pacer.active, 'the last batch ran within budget and the queue is empty')
})

t.test('expectedWait measures the time per request between batch starts, poll phases included', async t => {
  const { pacer, request, checkPhase, loop } = fakePacer()
  pacer.start()
  for (let id = 1; id <= 10; id++) pacer.run(request(id, 6))
  checkPhase() // batch 1 at t = 0: 6 ms
  loop.clock += 2 // a poll phase
  checkPhase() // batch 2 at t = 8: one request took 8 ms of loop time
  t.equal(pacer.pending, 8)
  t.equal(pacer.expectedWait(), 8 * (6 + 0.25 * (8 - 6)), 'smoothed: 6 ms, then 8 ms measured')
})

t.test('a batch that emptied the queue is no measurement: the loop time after it went to other work', async t => {
  const { pacer, request, checkPhase, loop } = fakePacer()
  pacer.start()
  pacer.run(request(1, 0.1))
  checkPhase() // batch 1: 0.1 ms, the queue emptied
  t.equal(pacer.expectedWait(), 0)
  loop.clock += 100 // a 100 ms poll phase parsing and refusing a flood
  for (let id = 2; id <= 4; id++) pacer.run(request(id, 0.1))
  checkPhase() // batch 2: three requests, 0.3 ms, emptied again
  for (let id = 5; id <= 6; id++) pacer.run(request(id, 0.1))
  t.equal(pacer.expectedWait(), 2 * 0.1, 'still the handlers\' 0.1 ms each, not 100 ms')
})

t.test('a continuation that throws does not stall the requests behind it', async t => {
  const { pacer, ran, request, checkPhase } = fakePacer()
  pacer.start()
  pacer.run(() => { throw new Error('boom') })
  pacer.run(request(2, 0.1))
  t.throws(() => checkPhase(), /boom/)
  checkPhase()
  t.same(ran, [2])
})

t.test('stopIfIdle stops only an empty queue after no paced work for that long; start() twice changes nothing', async t => {
  const { pacer, request, checkPhase, loop } = fakePacer()
  pacer.start()
  pacer.run(request(1, 6))
  pacer.start()
  t.equal(pacer.pending, 1)
  pacer.stopIfIdle(10)
  t.ok(pacer.active, 'a request waits')
  checkPhase()
  checkPhase()
  t.equal(pacer.pending, 0)
  loop.clock += 10
  pacer.stopIfIdle(10)
  t.ok(pacer.active, 'the last batch ended only 10 ms ago')
  loop.clock += 1
  pacer.stopIfIdle(10)
  t.notOk(pacer.active)
  const idle = fakePacer()
  idle.pacer.start()
  idle.pacer.stopIfIdle(10)
  t.notOk(idle.pacer.active, 'never ran anything')
})

t.test('a long queue is compacted as it drains', async t => {
  const { pacer, ran, request, checkPhase } = fakePacer()
  pacer.start()
  for (let id = 1; id <= 3000; id++) pacer.run(request(id, 0.001))
  for (let i = 0; i < 20 && pacer.pending > 0; i++) checkPhase()
  t.equal(ran.length, 3000)
  t.same(ran.slice(0, 3), [1, 2, 3])
  t.same(ran.slice(-2), [2999, 3000], 'order kept across compaction')
})

t.test('default pacer uses the real clock and setImmediate', async t => {
  const pacer = new LoopPacer()
  pacer.start()
  let ran = false
  pacer.run(() => { ran = true })
  t.notOk(ran)
  await new Promise(resolve => setImmediate(resolve))
  t.ok(ran)
})
