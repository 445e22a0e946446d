// The burst-or-backlog state machine alone (the queue's use of it: wait-queue-standing.test.ts).
import t from 'tap'
import { StandingDetector, TURNED_ABSORBING, TURNED_STANDING, UNCHANGED } from '../../lib/limiter/standing'

t.test('a window ending at its peak turns standing; one ending below 15/16 of it starts a new window', async t => {
  const d = new StandingDetector(100)
  t.equal(d.arrival(0, 0), true, 'an empty queue opens a window')
  for (let n = 1; n < 16; n++) t.equal(d.arrival(n, 10), false)
  t.equal(d.windowEnd, 100)
  t.equal(d.evaluate(16, 99), UNCHANGED, 'the window is not over')
  t.equal(d.evaluate(14, 100), UNCHANGED, '14 < 15/16 of 16: draining, a burst')
  t.equal(d.windowEnd, 200, 'a new window from now')
  t.equal(d.evaluate(14, 200), TURNED_STANDING, 'the new window ended at its peak (14)')
  t.equal(d.episodes, 1)
  t.equal(d.windowEnd, Infinity, 'no window while standing')
  t.equal(d.arrival(3, 201), false)
})

t.test('an empty queue never turns standing; an interval without shedding turns absorbing', async t => {
  const d = new StandingDetector(100)
  d.arrival(0, 0)
  t.equal(d.evaluate(0, 500), UNCHANGED, 'empty')
  d.arrival(0, 500)
  t.equal(d.evaluate(1, 600), TURNED_STANDING)
  d.shed(650)
  t.equal(d.isStanding(749), true)
  t.equal(d.evaluate(0, 749), UNCHANGED)
  t.equal(d.isStanding(750), false, 'reads absorbing once an interval passed without shedding')
  t.equal(d.standing, true, 'until evaluate() turns it')
  t.equal(d.evaluate(2, 750), TURNED_ABSORBING)
  t.equal(d.windowEnd, 850, 'a window starts with the waiters left')
  d.shed(800)
  t.equal(d.isStanding(800), false, 'shedding while absorbing does not count')
})

t.test('after the first window, draining is measured from the window\'s start, not its peak (batches)', async t => {
  const d = new StandingDetector(100)
  d.arrival(0, 0)
  for (let n = 1; n < 40; n++) d.arrival(n, 1) // a loop turn's arrivals: peak 40
  t.equal(d.evaluate(20, 100), UNCHANGED, 'the first window ends at a trough, below its peak: draining')
  // The next turns: each takes 30 in, grants 28; checked at a trough again, 2 more per turn.
  for (let n = 20; n < 50; n++) d.arrival(n, 150)
  t.equal(d.evaluate(26, 200), TURNED_STANDING, '26 troughs above the 20 the window began with: a backlog, whatever its peak (50)')
  const b = new StandingDetector(100)
  b.arrival(0, 0)
  for (let n = 1; n < 40; n++) b.arrival(n, 1)
  b.evaluate(30, 100)
  t.equal(b.evaluate(28, 200), UNCHANGED, 'a queue going down from window to window is a draining burst (28 < 15/16 of 30)')
  t.equal(b.evaluate(27, 300), TURNED_STANDING, 'one that stops going down is not (27 >= 15/16 of 28)')
})

t.test('an overload upstream turns the queue standing at once, and counts as shedding', async t => {
  const d = new StandingDetector(100)
  t.equal(d.overload(10), TURNED_STANDING, 'even with nothing queued')
  t.equal(d.episodes, 1)
  t.equal(d.overload(60), UNCHANGED, 'already standing')
  t.equal(d.isStanding(159), true, 'an interval from the last one')
  t.equal(d.evaluate(0, 160), TURNED_ABSORBING)
})
