// Behavioural cases ported from the reference definitions (see README, Algorithms). Slow start
// is off: the reference has none, and these cases check the reference rules themselves (Vegas
// with rttWindow 1: each sample's own latency, a full step per sample).
import t from 'tap'
import { AIMDLimit, VegasLimit } from '../../lib/algorithms'

t.test('AIMD reference numbers', async t => {
  t.equal(new AIMDLimit({ initialLimit: 10 }).limit, 10, 'initialLimit alone is honoured (minLimit widens)')
  const grow = new AIMDLimit({ initialLimit: 20, slowStart: false })
  grow.onSample({ rtt: 1, inflight: 10, dropped: false })
  t.equal(grow.limit, 21, 'a success at half use adds 1')
  const drop = new AIMDLimit({ initialLimit: 30, slowStart: false })
  drop.onSample({ rtt: 0, inflight: 0, dropped: true })
  t.equal(drop.limit, 27, 'a drop multiplies by 0.9')
  const small = new AIMDLimit({ initialLimit: 10, minLimit: 1, slowStart: false })
  small.onSample({ rtt: 0, inflight: 0, dropped: true })
  t.equal(small.limit, 9)
  const idle = new AIMDLimit({ initialLimit: 20, slowStart: false })
  idle.onSample({ rtt: 1, inflight: 9, dropped: false })
  t.equal(idle.limit, 20, 'under half use the limit holds')
  const timeout = new AIMDLimit({ initialLimit: 20, minLimit: 1, timeout: 100, slowStart: false })
  timeout.onSample({ rtt: 101, inflight: 20, dropped: false })
  t.equal(timeout.limit, 18, 'a sample slower than timeout counts as a drop')
  const top = new AIMDLimit({ initialLimit: 21, maxLimit: 21, minLimit: 1, slowStart: false })
  top.onSample({ rtt: 1, inflight: 21, dropped: false })
  t.equal(top.limit, 21, 'never above maxLimit')
})

t.test('Vegas reference numbers (alpha 3, beta 6, smoothing 1, initial 10, max 20)', async t => {
  // Each case starts from a fresh limiter whose first sample (10 ms, 10) sets the baseline.
  const make = (): VegasLimit => {
    const v = new VegasLimit({ alpha: 3, beta: 6, smoothing: 1, initialLimit: 10, maxLimit: 20, slowStart: false, baselineWindow: 1, rttWindow: 1 })
    v.onSample({ rtt: 10, inflight: 10, dropped: false })
    t.equal(v.limit, 10, 'the first sample only sets the baseline')
    return v
  }
  const inc = make()
  inc.onSample({ rtt: 10, inflight: 11, dropped: false })
  t.equal(inc.limit, 16, 'no queue: + beta')
  const dec = make()
  dec.onSample({ rtt: 50, inflight: 11, dropped: false })
  t.equal(dec.limit, 9, 'queue > beta: - log10(L)')
  const hold = make()
  hold.onSample({ rtt: 14, inflight: 14, dropped: false })
  t.equal(hold.limit, 10, 'alpha <= queue <= beta: hold')
})

t.test('Vegas: small queue grows by log10(L), app-limited holds, smoothing weighs the step', async t => {
  const v = new VegasLimit({ initialLimit: 100, slowStart: false, baselineWindow: 1, rttWindow: 1 })
  v.onSample({ rtt: 10, inflight: 100, dropped: false })
  // queue = ceil(100 * (1 - 10/10.3)) = 3: above threshold 2, below alpha 6 -> + 2
  v.onSample({ rtt: 10.3, inflight: 100, dropped: false })
  t.equal(v.limit, 102)
  v.onSample({ rtt: 10, inflight: 50, dropped: false })
  t.equal(v.limit, 102, 'inflight * 2 < L: hold')
  const s = new VegasLimit({ initialLimit: 10, smoothing: 0.5, slowStart: false, baselineWindow: 1, rttWindow: 1 })
  s.onSample({ rtt: 10, inflight: 10, dropped: false })
  s.onSample({ rtt: 10, inflight: 10, dropped: false })
  t.equal(s.limit, 13, 'half of the + beta (6) step')
  t.match(s.state(), { minRtt: 10, queue: 0, probing: 'off' })
})
