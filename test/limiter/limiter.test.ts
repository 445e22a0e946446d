import t from 'tap'
import fc from 'fast-check'
import { Limiter } from '../../lib/limiter/limiter'
import { Permit } from '../../lib/limiter/permit'
import type { LimiterObserver, Outcome, RejectReason } from '../../lib/limiter/events'
import type { Sample } from '../../lib/algorithms'
import { StepAlgorithm, manualClock } from './helpers'

function isPermit<C> (x: Permit<C> | RejectReason): x is Permit<C> {
  return typeof x !== 'string'
}

t.test('admits up to the limit, then rejects with reason "limit"', async t => {
  const limiter = new Limiter<string>({ algorithm: new StepAlgorithm(2, 0) })
  const a = limiter.tryAcquire('a')
  const b = limiter.tryAcquire('b')
  const c = limiter.tryAcquire('c')
  t.ok(isPermit(a) && isPermit(b))
  t.equal(c, 'limit')
  t.equal(limiter.inflight, 2)
  t.equal(limiter.admitted, 2)
  t.equal(limiter.rejected, 1)
  t.ok(limiter.isAtLimit())
  if (isPermit(a)) {
    t.equal(a.context, 'a')
    t.equal(a.inflight, 1)
  }
  if (isPermit(b)) t.equal(b.inflight, 2)
})

t.test('release is exactly once and feeds the sample to the algorithm', async t => {
  const clock = manualClock(100)
  const algorithm = new StepAlgorithm(5, 0)
  const limiter = new Limiter({ algorithm, now: clock.now })
  const p = limiter.tryAcquire(null, 'api')
  if (!isPermit(p)) throw new Error('not admitted')
  t.equal(p.partition, 'api')
  clock.advance(25)
  t.equal(limiter.release(p, 'drop'), true)
  t.equal(limiter.release(p, 'success'), false, 'second release is a no-op')
  t.equal(limiter.inflight, 0)
  t.equal(limiter.dropped, 1)
  t.equal(limiter.succeeded, 0)
  t.same(algorithm.samples, [{ rtt: 25, inflight: 1, dropped: true, at: 125 }])
  t.equal(limiter.limit, 4)
})

t.test('ignored releases send no sample', async t => {
  const algorithm = new StepAlgorithm(5)
  const limiter = new Limiter({ algorithm })
  const p = limiter.tryAcquire(undefined)
  if (!isPermit(p)) throw new Error('not admitted')
  limiter.release(p, 'ignore')
  t.equal(algorithm.samples.length, 0)
  t.equal(limiter.ignored, 1)
  t.equal(limiter.inflight, 0)
  t.ok(p.rtt >= 0, 'real clock gives a non-negative rtt')
})

t.test('observers see admit, reject, sample, limit change and release', async t => {
  const clock = manualClock()
  const events: string[] = []
  const observer: LimiterObserver = {
    onAdmit: (partition) => events.push(`admit:${partition}`),
    onReject: (reason, partition) => events.push(`reject:${reason}:${partition}`),
    onSample: (sample, partition) => events.push(`sample:${sample.rtt}:${sample.dropped}:${partition}`),
    onLimitChange: (from, to, reason) => events.push(`limit:${from}->${to}:${reason}`),
    onRelease: (outcome, rtt, partition) => events.push(`release:${outcome}:${rtt}:${partition}`)
  }
  const limiter = new Limiter({ algorithm: new StepAlgorithm(1, 10), now: clock.now, observers: [observer, {}] })
  const p = limiter.tryAcquire(null, 'p')
  limiter.tryAcquire(null, 'q')
  clock.advance(5)
  if (isPermit(p)) limiter.release(p, 'success')
  const q = limiter.tryAcquire(null)
  clock.advance(50)
  if (isPermit(q)) limiter.release(q, 'success') // rtt 50 >= growBelow: no limit change
  const r = limiter.tryAcquire(null)
  if (isPermit(r)) limiter.release(r, 'drop')
  t.same(events, [
    'admit:p',
    'reject:limit:q',
    'sample:5:false:p',
    'limit:1->2:sample',
    'release:success:5:p',
    'admit:undefined',
    'sample:50:false:undefined',
    'release:success:50:undefined',
    'admit:undefined',
    'sample:0:true:undefined',
    'limit:2->1:drop',
    'release:drop:0:undefined'
  ])
  limiter.removeObserver(observer)
  limiter.removeObserver(observer)
  limiter.tryAcquire(null)
  t.equal(events.length, 12, 'a removed observer hears nothing')
  const late: string[] = []
  limiter.addObserver({ onReject: (reason) => late.push(reason) })
  limiter.tryAcquire(null)
  t.same(late, ['limit'])
})

t.test('reject() counts a rejection decided outside the limiter', async t => {
  const limiter = new Limiter({ algorithm: new StepAlgorithm(10) })
  const heard: Array<[string, string | undefined]> = []
  limiter.addObserver({ onReject: (reason, partition) => heard.push([reason, partition]) })
  t.equal(limiter.reject('draining'), 'draining')
  t.equal(limiter.reject('event-loop', 'live'), 'event-loop')
  t.equal(limiter.rejected, 2)
  t.same(heard, [['draining', undefined], ['event-loop', 'live']], 'without partitions the name is passed as given')
})

t.test('a sample says whether the limit turned requests away since the previous one; others\' refusals do not count', async t => {
  const limited: boolean[] = []
  const algorithm = { name: 'record', limit: 1, onSample (s: Sample): void { limited.push(s.limited === true) }, state: () => ({}) }
  const limiter = new Limiter<string>({ algorithm })
  const serve = (): void => {
    const p = limiter.tryAcquire('a')
    if (!isPermit(p)) throw new Error('not admitted')
    limiter.release(p, 'success')
  }
  /** Holds the one permit while another request is refused, then releases it with `outcome`. */
  const refuseOneWhileHeld = (outcome: Outcome): void => {
    const held = limiter.tryAcquire('held')
    if (!isPermit(held)) throw new Error('not admitted')
    t.equal(limiter.tryAcquire('refused'), 'limit')
    limiter.release(held, outcome)
  }
  serve()
  refuseOneWhileHeld('success')
  serve()
  limiter.reject('event-loop')
  limiter.reject('draining')
  t.equal(limiter.tryAcquire('spent', undefined, 0), 'deadline', 'a spent deadline, with a permit free')
  serve()
  refuseOneWhileHeld('ignore')
  serve()
  t.same(limited, [false, true, false, false, true],
    'turned away by the limit: the next sample; by an admission step of the caller or a spent deadline: none; an ignored release passes it on')
})

t.test('a throwing algorithm cannot leak a permit', async t => {
  const limiter = new Limiter({
    algorithm: { name: 'boom', limit: 1, onSample () { throw new Error('boom') }, state: () => ({}) }
  })
  const p = limiter.tryAcquire(null)
  if (!isPermit(p)) throw new Error('not admitted')
  t.throws(() => limiter.release(p, 'success'), /boom/)
  t.equal(limiter.inflight, 0)
  t.equal(limiter.succeeded, 1)
  t.equal(limiter.release(p, 'success'), false)
})

t.test('snapshot is plain data', async t => {
  const limiter = new Limiter({ algorithm: new StepAlgorithm(3) })
  limiter.recordBypass()
  t.same(limiter.snapshot(), {
    limit: 3, inflight: 0, admitted: 0, rejected: 0, succeeded: 0, dropped: 0, ignored: 0, bypassed: 1
  })
})

t.test('property: any interleaving keeps the counters adding up and never exceeds the limit', async t => {
  const step = fc.oneof(
    fc.record({ kind: fc.constant('acquire' as const) }),
    fc.record({ kind: fc.constant('bypass' as const) }),
    fc.record({
      kind: fc.constant('release' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom<Outcome>('success', 'drop', 'ignore'),
      twice: fc.boolean(),
      ms: fc.nat(100)
    })
  )
  fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 200 }), (initial, steps) => {
    const clock = manualClock()
    const limiter = new Limiter({ algorithm: new StepAlgorithm(initial, 20), now: clock.now })
    const open: Permit[] = []
    for (const s of steps) {
      if (s.kind === 'acquire') {
        const limit = limiter.limit
        const r = limiter.tryAcquire(null)
        if (isPermit(r)) {
          open.push(r)
          if (r.inflight > limit) return false // admitted beyond the limit
        } else if (limiter.inflight < limit) {
          return false // rejected with room to spare
        }
      } else if (s.kind === 'bypass') {
        limiter.recordBypass()
      } else if (open.length > 0) {
        clock.advance(s.ms)
        const [p] = open.splice(s.pick % open.length, 1)
        limiter.release(p, s.outcome)
        if (s.twice) limiter.release(p, s.outcome)
      }
      if (limiter.inflight !== open.length) return false
      if (limiter.admitted !== limiter.succeeded + limiter.dropped + limiter.ignored + limiter.inflight) return false
    }
    for (const p of open) limiter.release(p, 'ignore')
    return limiter.inflight === 0
  }))
  t.pass('invariant held')
})

t.test('a throwing observer cannot change a decision or the accounting; the others still run', async t => {
  const errors: unknown[] = []
  const seen: string[] = []
  const boom = (where: string) => () => { throw new Error(where) }
  const broken: LimiterObserver = {
    onAdmit: boom('admit'), onReject: boom('reject'), onSample: boom('sample'), onLimitChange: boom('limit'), onRelease: boom('release')
  }
  const healthy: LimiterObserver = {
    onAdmit: () => seen.push('admit'),
    onReject: () => seen.push('reject'),
    onSample: () => seen.push('sample'),
    onLimitChange: () => seen.push('limit'),
    onRelease: () => seen.push('release')
  }
  const limiter = new Limiter<null>({ algorithm: new StepAlgorithm(1, 1), now: manualClock(0).now, observers: [broken, healthy], onObserverError: (e) => errors.push(e) })
  const p = limiter.tryAcquire(null)
  t.ok(isPermit(p), 'admitted although an observer threw in onAdmit')
  t.equal(limiter.tryAcquire(null), 'limit', 'rejected although an observer threw in onReject')
  if (isPermit(p)) t.equal(limiter.release(p, 'success'), true)
  t.same(limiter.snapshot(), { limit: 2, inflight: 0, admitted: 1, rejected: 1, succeeded: 1, dropped: 0, ignored: 0, bypassed: 0 })
  t.same(seen, ['admit', 'reject', 'sample', 'limit', 'release'], 'the healthy observer saw every event')
  t.same(errors.map((e) => (e as Error).message), ['admit', 'reject', 'sample', 'limit', 'release'])

  // Without onObserverError the errors are dropped, still without leaking the permit.
  const quiet = new Limiter<null>({ algorithm: new StepAlgorithm(1, 0), observers: [broken] })
  const q = quiet.tryAcquire(null)
  if (isPermit(q)) quiet.release(q, 'success')
  t.equal(quiet.inflight, 0)
})
