// WindowedLimit: aggregation, window closing rules, quiet windows (f).
import t from 'tap'
import { AIMDLimit, WindowedLimit, type LimitAlgorithm, type Sample } from '../../lib/algorithms'

/** Records what the window hands its delegate. */
class Recorder implements LimitAlgorithm {
  readonly name = 'recorder'
  readonly limit = 10
  readonly got: Sample[] = []
  onSample (s: Sample): void { this.got.push({ ...s }) }
  state (): Record<string, number | string> { return { seen: this.got.length } }
}

const ok = (rtt: number, inflight: number, at?: number, dropped = false): Sample => ({ rtt, inflight, dropped, at })

t.test('aggregates: average RTT, max inflight, any drop; closes at minWindow with minSamples', async t => {
  const rec = new Recorder()
  const w = new WindowedLimit(rec, { minWindow: 100, minSamples: 3 })
  w.onSample(ok(10, 4, 0))
  w.onSample(ok(20, 9, 50))
  w.onSample(ok(30, 2, 99, true))
  t.equal(rec.got.length, 0, 'younger than minWindow: still open')
  w.onSample(ok(40, 1, 100))
  t.same(rec.got, [{ rtt: 25, inflight: 9, dropped: true, at: 100 }])
  w.onSample(ok(5, 1, 300))
  w.onSample(ok(5, 1, 500))
  t.equal(rec.got.length, 1, 'old enough but fewer than minSamples: still open')
  t.same(w.state(), { seen: 1, windowSamples: 2, windows: 1 })
  t.equal(w.name, 'recorder')
  t.equal(w.limit, 10)
})

t.test('f. a quiet window older than maxWindow still updates (with what it has)', async t => {
  const rec = new Recorder()
  const w = new WindowedLimit(rec, { minWindow: 1000, maxWindow: 5000, minSamples: 10 })
  w.onSample(ok(2000, 4, 0))
  w.onSample(ok(2000, 4, 2000))
  t.equal(rec.got.length, 0)
  // The reference discards such a window, so slow, sparse traffic never moves the limit.
  w.onSample(ok(2000, 4, 5000))
  t.same(rec.got, [{ rtt: 2000, inflight: 4, dropped: false, at: 5000 }])

  // End to end: 1 sample/s of slow requests at full use still grows a windowed AIMD.
  const aimd = new AIMDLimit({ initialLimit: 4, minLimit: 1, slowStart: false })
  const slow = new WindowedLimit(aimd)
  for (let i = 0; i < 60; i++) slow.onSample(ok(900, slow.limit, i * 1000))
  t.equal(aimd.limit, 4 + 10, 'one update per window of 6 samples (0 s to 5 s): +10 in 60 s')
})

t.test('percentile RTT, minRttThreshold, clock and sample-count windows', async t => {
  const rec = new Recorder()
  const p = new WindowedLimit(rec, { minWindow: 0, minSamples: 4, percentile: 50 })
  for (const rtt of [40, 10, 30, 20]) p.onSample(ok(rtt, 1, 0))
  t.equal(rec.got[0].rtt, 20, 'nearest-rank p50 of 10..40')
  const p99 = new WindowedLimit(rec, { minWindow: 0, minSamples: 5, percentile: 99, bufferSize: 3 })
  for (const rtt of [1000, 1, 2, 3, 4]) p99.onSample(ok(rtt, 1, 0))
  t.equal(rec.got[1].rtt, 4, 'a full buffer keeps the latest samples')

  const th = new WindowedLimit(rec, { minWindow: 0, minSamples: 2, minRttThreshold: 1 })
  th.onSample(ok(0.1, 1, 0))
  th.onSample(ok(0.1, 1, 0, true))
  th.onSample(ok(5, 1, 0))
  t.same(rec.got[2], { rtt: 2.55, inflight: 1, dropped: true, at: 0 }, 'fast successes ignored, fast drops kept')

  let now = 0
  const clocked = new WindowedLimit(rec, { minWindow: 100, minSamples: 1, clock: () => now })
  clocked.onSample(ok(7, 1))
  now = 150
  clocked.onSample(ok(9, 1))
  t.same(rec.got[3], { rtt: 8, inflight: 1, dropped: false, at: 150 })

  const counted = new WindowedLimit(rec, { minSamples: 2 })
  counted.onSample(ok(1, 1))
  counted.onSample(ok(3, 1))
  t.same(rec.got[4], { rtt: 2, inflight: 1, dropped: false, at: undefined }, 'no time at all: windows of minSamples')

  const before = rec.got.length
  counted.onSample(ok(Number.NaN, 1))
  counted.onSample({ rtt: 1, inflight: 1, dropped: false, at: Number.POSITIVE_INFINITY })
  counted.onSample(ok(1, -1))
  t.equal(rec.got.length, before)
  t.equal(counted.state().windowSamples, 0, 'bad samples are not counted')
})
