// What a route learns about itself, with explicit sample sequences: a route long even at no load
// from its first requests becomes long-lived; a route that was ever fast never does, however slow
// it gets (a hung downstream stays an overload); and a timeout drop means "far slower than this
// route usually is".
import t from 'tap'
import type { Sample } from '../../lib/algorithms'
import { SampleClasses } from '../../lib/limiter/sample-classes'
import { classTimeout, defaultOutcome, TIMEOUT_FACTOR } from '../../lib/signal/outcome'

const sample = (rtt: number, inflight = 1): Sample => ({ rtt, inflight, dropped: false })

t.test('a class long from its first window on is learned long-lived', async t => {
  const classes = new SampleClasses()
  const poll = classes.get('GET /poll')
  for (let i = 0; i < 19; i++) classes.normalize(sample(8000 + i), poll, 20)
  t.equal(poll?.longLived, false, 'not before its first window closed')
  classes.normalize(sample(8000), poll, 20)
  t.equal(poll?.baseline, 8003, 'the window\'s 5th fastest of 20')
  t.equal(poll?.longLived, true)
  t.same(classes.longLived(), ['GET /poll'])
})

t.test('a class that was ever fast never becomes long-lived: a downstream hanging for 30 s stays an overload', async t => {
  const classes = new SampleClasses()
  const work = classes.get('GET /work')
  for (let i = 0; i < 20; i++) classes.normalize(sample(25), work, 20)
  t.equal(work?.baseline, 25)
  // The downstream hangs, and even with spare capacity (1 in flight of 20: the baseline may rise)
  // for thousands of samples, the class stays an ordinary one.
  for (let i = 0; i < 2000; i++) classes.normalize(sample(30_000, 1), work, 20)
  t.equal(work?.baseline, 30_000, 'its no-load latency followed the slower service')
  t.equal(work?.longLived, false, 'but it is not long-lived')
  t.same(classes.longLived(), [])
})

t.test('a long-lived class whose baseline falls below the threshold stops being one, for good', async t => {
  const classes = new SampleClasses()
  const cls = classes.get('GET /poll')
  for (let i = 0; i < 20; i++) classes.normalize(sample(3000), cls, 20)
  t.equal(cls?.longLived, true)
  // Its polls now answer at once (events every few ms): two windows in a row lower the baseline.
  for (let i = 0; i < 200; i++) classes.normalize(sample(5, 20), cls, 20)
  t.ok((cls?.baseline ?? 0) < 1000)
  t.equal(cls?.longLived, false)
  for (let i = 0; i < 2000; i++) classes.normalize(sample(3000, 1), cls, 20)
  t.equal(cls?.longLived, false, 'latched fast: slow again reads as slow, not long-lived')
})

t.test('the threshold is a setting; Infinity turns learning off', async t => {
  const strict = new SampleClasses(undefined, 10_000)
  const a = strict.get('a')
  for (let i = 0; i < 20; i++) strict.normalize(sample(8000), a, 20)
  t.equal(a?.longLived, false, '8 s is below a 10 s threshold')
  const off = new SampleClasses(undefined, Infinity)
  const b = off.get('b')
  for (let i = 0; i < 20; i++) off.normalize(sample(60_000), b, 20)
  t.equal(b?.longLived, false)
})

t.test('signal.timeout as a drop: far slower than the class usually is', async t => {
  const classes = new SampleClasses()
  const fast = classes.get('fast')
  const slow = classes.get('slow')
  const fresh = classes.get('fresh')
  for (let i = 0; i < 20; i++) {
    classes.normalize(sample(25), fast, 20)
    classes.normalize(sample(3000), slow, 20)
  }
  t.equal(classTimeout(5000, fast), 5000, 'a fast route keeps the timeout')
  t.equal(classTimeout(5000, slow), TIMEOUT_FACTOR * 3000, 'a 3 s route: four times its no-load latency')
  t.equal(classTimeout(5000, fresh), Infinity, 'no baseline yet: cannot be "far slower than usual"')
  t.equal(classTimeout(5000, undefined), 5000, 'without classes: the timeout alone')
  t.equal(classTimeout(5000, null), 5000, 'past the cap: the timeout alone')
  t.equal(defaultOutcome(true, 200, 30_000, classTimeout(5000, fast)), 'drop', 'a hung downstream on a fast route is a drop')
  t.equal(defaultOutcome(true, 200, 6000, classTimeout(5000, slow)), 'success', 'a 3 s route at 6 s is not')
  t.equal(defaultOutcome(true, 200, 12_001, classTimeout(5000, slow)), 'drop', 'at four times its usual, it is')
})
