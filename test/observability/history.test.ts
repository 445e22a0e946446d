import { test } from 'tap'
import { History } from '../../lib/observability/history'

function setup (seconds?: number) {
  const clock = { ms: 1_000_000 } // second 1000
  const stats = { limit: 10, inflight: 0 }
  const history = new History({ stats, now: () => clock.ms, seconds })
  const o = history.observer
  const admit = (): void => { stats.inflight++; o.onAdmit!(undefined) }
  const release = (): void => { stats.inflight-- }
  const sample = (rtt: number): void => o.onSample!({ rtt, inflight: stats.inflight, dropped: false }, undefined)
  // Time passes and the per-second timer fires (events never read the clock themselves).
  const step = (ms: number): void => { clock.ms += ms; history.tick() }
  return { clock, stats, history, o, admit, release, sample, step }
}

test('closes a second lazily with counts, peak in-flight and RTT percentiles', async t => {
  const { history, o, admit, release, sample, step } = setup()
  t.same(history.points(), [], 'nothing before the first second ends')
  t.equal(history.lastRttP50(), undefined)

  admit(); admit(); admit() //           peak 3
  release(); release()
  admit() //                             in-flight 2, peak stays 3
  o.onReject!('limit', undefined)
  o.onReject!('queue-full', undefined)
  for (let i = 1; i <= 100; i++) sample(i) // 1..100 ms
  step(999)
  t.same(history.points(), [], 'still the same second')

  step(1) // second 1001 begins
  const [p] = history.points()
  t.equal(p.t, 1_000_000)
  t.equal(p.admitted, 4)
  t.equal(p.rejected, 2)
  t.equal(p.inflight, 3)
  t.equal(p.limit, 10)
  t.ok(Math.abs(p.rttP50! - 50) <= 0.5, `p50 ${p.rttP50} ≈ 50 ms`)
  t.ok(Math.abs(p.rttP99! - 99) <= 1, `p99 ${p.rttP99} ≈ 99 ms`)
  t.equal(history.lastRttP50(), p.rttP50)
})

test('the histogram is reset per point and seconds without samples have null RTT', async t => {
  const { history, sample, admit, step } = setup()
  sample(500)
  step(1000)
  admit()
  step(1000)
  sample(2)
  step(1000)
  const pts = history.points()
  t.equal(pts.length, 3)
  t.ok(Math.abs(pts[0].rttP50! - 500) <= 5)
  t.equal(pts[1].rttP50, null)
  t.equal(pts[1].rttP99, null)
  t.equal(pts[1].admitted, 1)
  t.ok(Math.abs(pts[2].rttP99! - 2) <= 0.05, 'previous second\'s 500 ms is gone')
  t.equal(history.lastRttP50(), pts[2].rttP50)
  step(1000)
  t.equal(history.lastRttP50(), undefined, 'last second had no sample')
})

test('gaps are filled with idle points; in-flight carries over', async t => {
  const { history, admit, release, step } = setup()
  admit(); admit()
  release() // one request still running through the idle seconds
  step(4000)
  const pts = history.points()
  t.same(pts.map(p => p.t), [1_000_000, 1_001_000, 1_002_000, 1_003_000])
  t.same(pts.map(p => p.admitted), [2, 0, 0, 0])
  t.same(pts.map(p => p.inflight), [2, 1, 1, 1])
  t.ok(pts.slice(1).every(p => p.rttP50 === null && p.rejected === 0))
})

test('limit is tracked from limit changes, not read late from stats', async t => {
  const { stats, history, o, step } = setup()
  step(1000)
  // The limiter updates its limit before notifying: stats already says 12 while second 1001 is
  // still open; the point for 1000 must keep 10, and 1001 must end at 12.
  stats.limit = 12
  o.onLimitChange!(10, 12, 'sample')
  step(1000)
  const pts = history.points()
  t.same(pts.map(p => p.limit), [10, 12])
})

test('the ring keeps the last N seconds, across long gaps too', async t => {
  const { clock, history, admit, step } = setup(5)
  for (let i = 0; i < 8; i++) {
    for (let k = 0; k <= i; k++) admit()
    step(1000)
  }
  let pts = history.points()
  t.equal(pts.length, 5)
  t.same(pts.map(p => p.admitted), [4, 5, 6, 7, 8], 'oldest dropped first')
  t.equal(pts[4].t - pts[0].t, 4000)

  step(1_000_000) // far longer than the ring
  pts = history.points()
  t.equal(pts.length, 5)
  t.ok(pts.every(p => p.admitted === 0), 'only idle seconds remain')
  t.equal(pts[4].t, Math.floor(clock.ms / 1000) * 1000 - 1000, 'ends with the last completed second')
})

test('a clock stepping back does not close or reorder seconds', async t => {
  const { clock, history, admit, step } = setup()
  admit()
  clock.ms -= 5000
  admit()
  t.same(history.points(), [])
  step(6000)
  t.same(history.points().map(p => p.admitted), [2])
})

test('events count into the open second until a tick closes it', async t => {
  const { clock, history, admit } = setup()
  admit()
  clock.ms += 1000 // the boundary passed, but no tick yet (a late timer)
  admit()
  history.tick()
  t.same(history.points().map(p => p.admitted), [2], 'both land in the second the tick closed')
})

test('start() closes seconds from an unref\'d timer at each boundary; stop() clears it', async t => {
  let reads = 0
  const clock = { ms: 1_000_998 } // 2 ms before a boundary
  const stats = { limit: 10, inflight: 0 }
  const history = new History({ stats, now: () => { reads++; return clock.ms } })
  history.observer.onAdmit!(undefined)
  history.start()
  history.start() // idempotent
  const timer = (history as unknown as { timer: NodeJS.Timeout }).timer
  t.equal(timer.hasRef(), false, 'never keeps the process alive')
  clock.ms = 1_001_000
  const before = reads
  // The timer reads the clock twice when it fires (tick, then re-arm): wait for that, not for a duration.
  await new Promise<void>(resolve => {
    const poll = setInterval(() => { if (reads >= before + 2) { clearInterval(poll); resolve() } }, 1)
  })
  clock.ms = 1_000_500 // step back: a read now closes nothing, so only the timer can have closed 1000
  t.same(history.points().map(p => p.admitted), [1], 'the timer closed the second')
  history.stop()
  t.equal((history as unknown as { timer: unknown }).timer, undefined)
})

test('defaults', async t => {
  const h = new History({ stats: { limit: 1, inflight: 0 } })
  t.same(h.points(), [], 'Date.now clock by default; nothing closed yet')
})

test('recent rejections: the open second and the last closed one, gone two seconds after the last refusal', async t => {
  const { history, o, step } = setup()
  t.equal(history.recentRejections(), 0)
  o.onReject!('limit', undefined)
  o.onReject!('limit', undefined)
  t.equal(history.recentRejections(), 2, 'counted at once, in the open second')
  step(1000)
  t.equal(history.recentRejections(), 2, 'still recent in the next second')
  o.onReject!('limit', undefined)
  t.equal(history.recentRejections(), 3)
  step(1000)
  t.equal(history.recentRejections(), 1)
  step(1000)
  t.equal(history.recentRejections(), 0, 'no refusal for a whole second: not shedding')
})
