import t from 'tap'
import { EventLoopGate, resolveEventLoopOptions, DEFAULT_EVENT_LOOP_MAX_WAIT } from '../../lib/eventloop/gate'

function fakeGate (maxWait: number, spared?: string) {
  const loop = { clock: 0, pending: [] as Array<() => void> }
  const gate = new EventLoopGate(maxWait, { now: () => loop.clock, defer: fn => { loop.pending.push(fn) } }, spared)
  const endTurn = (): void => { for (const fn of loop.pending.splice(0)) fn() }
  return { gate, loop, endTurn }
}

t.test('one slow turn is not overload: nothing is shed', async t => {
  const { gate, loop } = fakeGate(10)
  t.equal(gate.check(), undefined, 'first request of a turn')
  loop.clock += 30
  t.equal(gate.check(), undefined, 'queued 30 ms, but the previous turn was not long')
  t.equal(gate.shed, 0)
})

t.test('long turns back to back are a sustained queue: requests past maxWait are shed', async t => {
  const { gate, loop, endTurn } = fakeGate(10)
  gate.check()
  loop.clock += 30
  gate.check()
  endTurn() // a 30 ms turn
  t.equal(gate.check(), undefined, 'the next turn starts with no wait, back to back')
  loop.clock += 10
  t.equal(gate.check(), undefined, 'exactly maxWait is still admitted')
  loop.clock += 0.5
  t.equal(gate.check(), 'event-loop', 'queued longer than maxWait behind a sustained queue')
  t.equal(gate.shed, 1)
  endTurn() // a 10.5 ms turn: still longer than maxWait
  t.equal(gate.check(), undefined)
  loop.clock += 11
  t.equal(gate.check(), 'event-loop', 'shedding continues while turns stay long')
  endTurn()
  loop.clock += 50 // idle: the queue drained
  t.equal(gate.check(), undefined)
  loop.clock += 20
  t.equal(gate.check(), undefined, 'after an idle gap, one long turn is not enough again')
  t.ok(gate.pacer.active, 'the rest of that slow turn is paced, not shed')
  loop.clock += 5
  t.equal(gate.check(), undefined, 'the whole slow turn is admitted, as a blip')
  t.equal(gate.shed, 2)
})

t.test('once shedding, requests are admitted by the paced queue\'s expected wait plus their poll phase so far', async t => {
  const { gate, loop, endTurn } = fakeGate(10, 'critical')
  gate.check()
  loop.clock += 30
  endTurn()
  gate.check()
  loop.clock += 11
  t.equal(gate.check(), 'event-loop')
  t.ok(gate.pacer.active, 'shedding starts pacing')
  endTurn()
  // What the plugin does: an admitted request goes through the pacer.
  const ran: string[] = []
  const arrive = (name: string, ms: number, partition?: string) => {
    const reason = gate.check(partition)
    if (reason === undefined) gate.pacer.run(() => { ran.push(name); loop.clock += ms })
    return reason
  }
  t.equal(arrive('a', 4), undefined, 'empty queue, first of its turn: no wait')
  t.same(ran, [], 'queued, not run inside the turn that parsed it')
  t.equal(arrive('b', 4), 'event-loop', 'one request ahead, not measured yet: the wait is unknown')
  endTurn() // the check phase: 'a' runs
  t.same(ran, ['a'])
  t.equal(arrive('c', 4), undefined, 'empty queue again')
  t.equal(arrive('d', 4), undefined, 'one 4 ms request ahead')
  t.equal(arrive('e', 4), undefined, 'two ahead: 8 ms')
  t.equal(arrive('f', 4), 'event-loop', 'three ahead: 12 ms, past maxWait')
  t.equal(arrive('g', 4, 'critical'), undefined, 'the spared partition waits up to 2 x maxWait')
  loop.clock += 5
  t.equal(arrive('h', 4, 'critical'), 'event-loop', '16 ms queued + 5 ms of poll phase is past 2 x maxWait')
  t.equal(gate.shed, 4)
  for (let i = 0; i < 20 && gate.pacer.pending > 0; i++) endTurn()
  endTurn()
  t.same(ran, ['a', 'c', 'd', 'e', 'g'], 'in arrival order')
  t.ok(gate.pacer.active, 'drained by full batches: arrivals may only have paused')
  loop.clock += 50
  t.equal(gate.check(), undefined)
  t.notOk(gate.pacer.active, 'the loop was idle for longer than maxWait: pacing stopped')
})

t.test('a short previous turn resets the sustained state', async t => {
  const { gate, loop, endTurn } = fakeGate(10)
  gate.check()
  loop.clock += 30
  endTurn()
  gate.check()
  loop.clock += 5
  endTurn() // a 5 ms turn
  gate.check()
  loop.clock += 20
  t.equal(gate.check(), undefined, 'the previous turn was short')
})

t.test('options', async t => {
  t.same(resolveEventLoopOptions(undefined), { maxWait: DEFAULT_EVENT_LOOP_MAX_WAIT })
  t.same(resolveEventLoopOptions(true), { maxWait: DEFAULT_EVENT_LOOP_MAX_WAIT })
  t.equal(resolveEventLoopOptions(false), undefined)
  t.same(resolveEventLoopOptions({ maxWait: 25 }), { maxWait: 25 })
  t.same(resolveEventLoopOptions({}), { maxWait: DEFAULT_EVENT_LOOP_MAX_WAIT })
  t.throws(() => resolveEventLoopOptions({ maxWait: 0 }), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /eventLoop\.maxWait/ })
  t.throws(() => resolveEventLoopOptions({ maxWait: 'x' }), /eventLoop\.maxWait/)
  t.throws(() => resolveEventLoopOptions({ maxwait: 5 }), /eventLoop\.maxwait.*accepted: maxWait/)
  t.throws(() => resolveEventLoopOptions(5), /"eventLoop": expected false, true or \{ maxWait \}, got 5/)
  t.throws(() => resolveEventLoopOptions(null), /got null/)
})

t.test('default gate uses the real clock and setImmediate', async t => {
  const gate = new EventLoopGate()
  t.equal(gate.maxWait, DEFAULT_EVENT_LOOP_MAX_WAIT)
  const burn = (): void => {
    const start = performance.now()
    while (performance.now() - start < DEFAULT_EVENT_LOOP_MAX_WAIT + 5) { /* a CPU-bound handler */ }
  }
  t.equal(gate.check(), undefined)
  burn()
  t.equal(gate.check(), undefined, 'one long turn alone is not shed')
  await new Promise(resolve => setImmediate(resolve))
  t.equal(gate.check(), undefined, 'first request of the next turn')
  burn()
  t.equal(gate.check(), 'event-loop', 'a second long turn in a row: the request behind it is shed')
  await new Promise(resolve => setImmediate(resolve))
})

t.test('with partitions, the most important one is shed only past twice maxWait', async t => {
  const { gate, loop, endTurn } = fakeGate(10, 'critical')
  gate.check()
  loop.clock += 30
  gate.check()
  endTurn() // a 30 ms turn: the next ones are back to back
  t.equal(gate.check('batch'), undefined, 'the next turn starts with no wait')
  loop.clock += 15
  t.equal(gate.check('batch'), 'event-loop', 'batch: shed past maxWait')
  t.equal(gate.check(undefined), 'event-loop', 'no partition: shed past maxWait')
  t.equal(gate.check('critical'), undefined, 'critical: still admitted at 15 ms')
  loop.clock += 5
  t.equal(gate.check('critical'), undefined, 'critical: exactly 2 x maxWait is still admitted')
  loop.clock += 0.5
  t.equal(gate.check('critical'), 'event-loop', 'critical: shed past 2 x maxWait, the loop stays protected')
  t.equal(gate.shed, 3)
})
