// What a route learns about itself, with explicit sample sequences: a route whose window of
// samples is long becomes long-lived; a route that was fast for long never does, however slow it
// gets, and hung requests (drops) teach nothing (a hung downstream stays an overload); and a
// timeout drop means "far slower than this route usually is".
import t from 'tap'
import type { Sample } from '../../lib/algorithms'
import { SampleClasses } from '../../lib/limiter/sample-classes'
import { classTimeout, defaultOutcome, TIMEOUT_FACTOR } from '../../lib/signal/outcome'

const sample = (rtt: number, inflight = 1): Sample => ({ rtt, inflight, dropped: false })

t.test('a class half of whose last 20 samples are long is learned long-lived, as they come', async t => {
  const classes = new SampleClasses()
  const poll = classes.get('GET /poll')
  for (let i = 0; i < 9; i++) classes.normalize(sample(8000 + i), poll, 20)
  t.equal(poll?.longLived, false, 'not before half a window is long')
  classes.normalize(sample(8000), poll, 20)
  t.equal(poll?.longLived, true, 'the tenth: learned before the window closes')
  t.same(classes.longLived(), ['GET /poll'])
})

t.test('polls whose first answers come early (clients opened together) are learned once half a window is long', async t => {
  const classes = new SampleClasses()
  const poll = classes.get('GET /poll')
  // The first 20 answers: 0.09 s to 1.8 s, 11 of them under 1 s.
  for (let i = 0; i < 20; i++) classes.normalize(sample(90 * (i + 1)), poll, 20)
  t.equal(poll?.longLived, false, 'a window more than half of which was under 1 s')
  // The next: 0.15 s to 3 s, 6 of them under 1 s.
  for (let i = 0; i < 20; i++) classes.normalize(sample(150 * (i + 1)), poll, 20)
  t.equal(poll?.longLived, true, 'a window more than half of which was long says long-lived')
})

t.test('an undecided route\'s long answers teach it but are not fed to the algorithm; a fast route\'s are', async t => {
  const classes = new SampleClasses()
  const poll = classes.get('GET /poll')
  // A first window of early answers: not learned, a baseline of hundreds of ms.
  for (let i = 0; i < 20; i++) t.equal(classes.normalize(sample(50 * (i + 1)), poll, 20), undefined, 'no baseline yet')
  t.equal(poll?.longLived, false)
  t.ok(poll?.mayBeLongLived, 'undecided')
  t.ok(classes.normalize(sample(400), poll, 20), 'a short answer is fed as usual')
  t.equal(classes.normalize(sample(2500), poll, 20), undefined, 'a 2.5 s answer is not read as a 10x queue')
  t.ok(classes.normalize({ rtt: 2500, inflight: 1, dropped: true }, poll, 20), 'a drop always is')
  const work = classes.get('GET /work')
  for (let i = 0; i < 20; i++) classes.normalize(sample(25), work, 20)
  t.equal(work?.mayBeLongLived, false, 'a 25 ms route is decided')
  t.ok((classes.normalize(sample(2500), work, 20)?.rtt ?? 0) > 5, 'its 2.5 s answer is a queue')
})

t.test('half a window is the threshold: 10 long samples of 20 learn, 9 do not', async t => {
  const classes = new SampleClasses()
  const nine = classes.get('GET /nine')
  for (let i = 0; i < 20; i++) classes.normalize(sample(i < 9 ? 1000 : 999), nine, 20)
  t.equal(nine?.longLived, false)
  const ten = classes.get('GET /ten')
  for (let i = 0; i < 20; i++) classes.normalize(sample(i < 10 ? 1000 : 999), ten, 20)
  t.equal(ten?.longLived, true)
  // The window slides: 11 early answers, then long ones; half of the last 20 at the 21st sample.
  const sliding = classes.get('GET /sliding')
  for (let i = 0; i < 20; i++) classes.normalize(sample(i < 11 ? 300 : 3000), sliding, 20)
  t.equal(sliding?.longLived, false, 'a first window of 9 long samples')
  classes.normalize(sample(3000), sliding, 20)
  t.equal(sliding?.longLived, true, 'the 21st: 10 of the last 20')
})

t.test('a class fast for 160 samples never becomes long-lived: a downstream slowing to 3 s stays an overload', async t => {
  const classes = new SampleClasses()
  const work = classes.get('GET /work')
  for (let i = 0; i < 160; i++) classes.normalize(sample(25), work, 20)
  t.equal(work?.baseline, 25)
  // Slower than 1 s, but not past signal.timeout: healthy samples, even with spare capacity.
  for (let i = 0; i < 2000; i++) classes.normalize(sample(3000, 1), work, 20)
  t.equal(work?.baseline, 3000, 'its no-load latency followed the slower service')
  t.equal(work?.longLived, false, 'but it is not long-lived')
  t.same(classes.longLived(), [])
})

t.test('hung requests are drops, and drops teach nothing: even a young route stays ordinary', async t => {
  const classes = new SampleClasses()
  const work = classes.get('GET /work')
  for (let i = 0; i < 20; i++) classes.normalize(sample(25), work, 20)
  const timeout = classTimeout(5000, work)
  for (let i = 0; i < 200; i++) {
    const dropped = defaultOutcome(true, 200, 30_000, timeout) === 'drop'
    t.equal(classes.normalize({ rtt: 30_000, inflight: 20, dropped }, work, 20)?.dropped, true)
  }
  t.equal(work?.longLived, false)
  t.equal(work?.baseline, 25, 'drops do not move the baseline either')
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
  // Learning off: a 3 s route here is a slow report, not a long-poll.
  const classes = new SampleClasses(undefined, Infinity)
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

t.test('a route learned long-lived from its polls\' ages feeds nothing when its earlier polls end', async t => {
  const classes = new SampleClasses()
  const work = classes.get('GET /work')
  const poll = classes.get('GET /poll')
  for (let i = 0; i < 20; i++) classes.normalize(sample(25), work, 20)
  // 20 polls looked at once they had waited 1 s (lib/longlived/aging.ts): learned.
  for (let i = 0; i < 20; i++) poll?.observe(1000, false, false)
  t.equal(poll?.longLived, true)
  t.equal(poll?.baseline, 1000)
  // Polls admitted before, never looked at, end after 3 s: against a 1 s baseline, an 80x queue.
  for (let i = 0; i < 10; i++) t.equal(classes.normalize(sample(3000), poll, 20), undefined, 'not fed')
  t.equal(classes.normalize(sample(50), work, 20)?.rtt, 2, 'the reference is still the ordinary route\'s 25 ms')
  t.equal(classes.normalize({ rtt: 3000, inflight: 1, dropped: true }, poll, 20)?.dropped, true, 'a failed poll is still a drop')
})
