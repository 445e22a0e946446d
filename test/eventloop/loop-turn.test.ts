import t from 'tap'
import { LoopTurnTracker } from '../../lib/eventloop/loop-turn'

function fakeLoop () {
  let clock = 0
  const pending: Array<() => void> = []
  return {
    now: () => clock,
    advance (ms: number) { clock += ms },
    defer: (fn: () => void) => { pending.push(fn) },
    endTurn () { for (const fn of pending.splice(0)) fn() },
    get pending () { return pending.length }
  }
}

t.test('age grows within a turn and resets at the next turn', async t => {
  const loop = fakeLoop()
  const tracker = new LoopTurnTracker({ now: loop.now, defer: loop.defer })
  t.equal(tracker.age(), 0, 'first request of a turn has waited for nobody')
  loop.advance(2)
  t.equal(tracker.age(), 2)
  loop.advance(2)
  t.equal(tracker.age(), 4, 'third request queued behind two 2 ms handlers')
  t.equal(loop.pending, 1, 'one deferred callback per turn, not per request')
  loop.advance(1)
  loop.endTurn()
  t.equal(tracker.previousTurn, 5, 'the finished turn length is kept')
  loop.advance(100)
  t.equal(tracker.age(), 0, 'a new turn starts at zero')
  t.equal(loop.pending, 1)
})

t.test('accepts an explicit timestamp', async t => {
  const loop = fakeLoop()
  const tracker = new LoopTurnTracker({ now: loop.now, defer: loop.defer })
  t.equal(tracker.age(10), 0)
  t.equal(tracker.age(35), 25)
})

t.test('real setImmediate ends the turn after the current I/O callbacks', async t => {
  const tracker = new LoopTurnTracker()
  t.equal(tracker.age(), 0)
  const start = performance.now()
  while (performance.now() - start < 5) { /* burn 5 ms, as a sync handler would */ }
  t.ok(tracker.age() >= 5, 'a synchronous burn shows up as queueing age')
  await new Promise(resolve => setImmediate(resolve))
  t.ok(tracker.previousTurn >= 5)
  t.equal(tracker.age(), 0, 'after the check phase a new turn begins')
})

t.test('the idle gap before a turn is measured from the previous turn end', async t => {
  const loop = fakeLoop()
  const tracker = new LoopTurnTracker({ now: loop.now, defer: loop.defer })
  tracker.age()
  t.equal(tracker.gap, Infinity, 'no previous turn')
  loop.advance(3)
  loop.endTurn()
  loop.advance(7)
  tracker.age()
  t.equal(tracker.gap, 7)
})
