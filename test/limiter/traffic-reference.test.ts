// The per-route classes' reference: their baselines averaged by their recent traffic, moving with
// a class's baseline at once.
import t from 'tap'
import { REFERENCE_DECAY, TrafficReference, type ReferenceShare } from '../../lib/limiter/traffic-reference'
import { SampleClasses } from '../../lib/limiter/sample-classes'

const cls = (baseline = Infinity): ReferenceShare & { baseline: number, longLived: boolean } =>
  ({ baseline, longLived: false, share: 0, shareAt: 0, counted: NaN })

t.test('one class: the reference is its baseline, from its first sample and through every change', async t => {
  const ref = new TrafficReference()
  const a = cls()
  ref.add(a)
  t.equal(ref.value, Infinity, 'nothing learned yet')
  a.baseline = 40
  ref.update(a)
  t.equal(ref.value, 40)
  for (let i = 0; i < 100; i++) ref.add(a)
  a.baseline = 10
  ref.update(a)
  t.ok(Math.abs(ref.value - 10) < 1e-9, `a new baseline is the reference at once (${ref.value})`)
})

t.test('a class that learns late counts with all of its traffic at once', async t => {
  const ref = new TrafficReference()
  const cached = cls(0.5)
  const work = cls()
  // 40 % cached, 60 % work; the work class learns its baseline only after 100 samples.
  for (let i = 0; i < 100; i++) ref.add(i % 5 < 2 ? cached : work)
  t.equal(ref.value, 0.5, 'only the cached class is learned')
  work.baseline = 85
  ref.update(work)
  const expected = 0.4 * 0.5 + 0.6 * 85
  t.ok(Math.abs(ref.value - expected) / expected < 0.02, `the traffic-weighted mean at once: ${ref.value.toFixed(2)} (${expected})`)
})

t.test('a class that goes quiet fades out; a long-lived one is left out at once', async t => {
  const ref = new TrafficReference()
  const a = cls(100)
  const b = cls(10)
  for (let i = 0; i < 200; i++) ref.add(i % 2 === 0 ? a : b)
  t.ok(Math.abs(ref.value - 55) < 1, `even traffic: ${ref.value.toFixed(2)}`)
  for (let i = 0; i < Math.ceil(5 / REFERENCE_DECAY); i++) ref.add(b)
  t.ok(ref.value < 10.7, `after ${Math.ceil(5 / REFERENCE_DECAY)} samples of b alone: ${ref.value.toFixed(2)}`)
  for (let i = 0; i < 200; i++) ref.add(i % 2 === 0 ? a : b)
  a.longLived = true
  ref.update(a)
  t.ok(Math.abs(ref.value - 10) < 1e-9, `a long-lived: b alone (${ref.value})`)
  b.baseline = Infinity
  ref.update(b)
  t.equal(ref.value, Infinity, 'no class counted: no reference')
})

t.test('cold start of a mix: a slow route learned after the cached one reads no phantom queue', async t => {
  // 40 % cached answers (0.5 ms), 60 % a 100 ms route (85-115 ms), no queue at all. In the first
  // 100 ms only cached answers complete, so the cached class learns first; the slow route learns
  // from its own first 20 samples, later.
  const classes = new SampleClasses()
  const cached = classes.get('GET /cached')
  const work = classes.get('GET /work')
  let seed = 3
  const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647
  let worst = 0
  for (let i = 0; i < 1000; i++) {
    const slow = i >= 50 && i % 5 >= 2
    const out = classes.normalize({ rtt: slow ? 85 + 30 * random() : 0.5, inflight: 10, dropped: false }, slow ? work : cached, 20)
    if (out !== undefined && slow) worst = Math.max(worst, out.rtt)
  }
  t.ok(work !== null && work.baseline < 90, `the slow route learned (${work?.baseline.toFixed(1)} ms)`)
  // Its spread over the baseline, read against the mix's mean service time (about 52 ms once the
  // shares settle; about 21 ms when the slow route learns, as the first 100 ms were all cached).
  t.ok(worst < 2.5, `its samples read at most ${worst.toFixed(2)}x no load`)
})

t.test('a route its requests\' ages teach long-lived leaves the reference at once', async t => {
  const classes = new SampleClasses()
  const fast = classes.get('GET /fast')
  const poll = classes.get('GET /poll')
  if (fast === null || poll === null) throw new Error('classes')
  // Learned: /fast at 10 ms, /poll at 400 ms (long enough to be a poll), even traffic.
  for (let i = 0; i < 40; i++) classes.normalize({ rtt: i % 2 === 0 ? 10 : 400, inflight: 1, dropped: false }, i % 2 === 0 ? fast : poll, 20)
  t.ok(poll.baseline === 400 && poll.mayBeLongLived, 'the poll route learned, undecided')
  for (let i = 0; i < 20; i++) classes.observeAge(poll, 1500)
  t.equal(poll.longLived, true, 'ages of 1.5 s make it long-lived')
  // The reference is /fast's baseline alone: a 20 ms answer waited one service time.
  const rtt = classes.normalize({ rtt: 20, inflight: 1, dropped: false }, fast, 20)?.rtt ?? NaN
  t.ok(Math.abs(rtt - 2) < 1e-9, `reads 2x no load (${rtt})`)
})

t.test('one class: every sample weighs a whole round trip, whatever its baseline', async t => {
  const classes = new SampleClasses()
  const only = classes.get('GET /only')
  const weights = new Set<number>()
  for (let i = 0; i < 500; i++) {
    const out = classes.normalize({ rtt: 7.3 + (i % 7) * 0.37, inflight: 1, dropped: false }, only, 20)
    if (out !== undefined) weights.add(out.weight ?? NaN)
  }
  t.same([...weights], [1])
})
