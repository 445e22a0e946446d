// The limiter with a wait queue, partitions and deadlines, driven by a hand-made clock and timers.
import t from 'tap'
import fc from 'fast-check'
import { Limiter } from '../../lib/limiter/limiter'
import { Permit } from '../../lib/limiter/permit'
import type { RejectReason } from '../../lib/limiter/events'
import { PartitionSet } from '../../lib/limiter/partitions'
import { ServiceTimeEwma } from '../../lib/limiter/wait-estimate'
import { Waiter } from '../../lib/limiter/wait-queue'
import type { QueueOrder } from '../../lib/limiter/wait-queue'
import { FakeTimers } from './fake-timers'
import { StepAlgorithm } from './helpers'
import type { Sample } from '../../lib/algorithms/types'

interface Setup {
  limit?: number
  size?: number
  timeout?: number
  order?: QueueOrder
  partitions?: PartitionSet
  maxEstimatedWait?: number
  algorithm?: StepAlgorithm
  queue?: false
}

function setup (o: Setup = {}): {
  limiter: Limiter<string>
  timers: FakeTimers
  granted: Array<Permit<string>>
  rejected: Array<[string, RejectReason]>
} {
  const timers = new FakeTimers(1000)
  const granted: Array<Permit<string>> = []
  const rejected: Array<[string, RejectReason]> = []
  const limiter = new Limiter<string>({
    algorithm: o.algorithm ?? new StepAlgorithm(o.limit ?? 2, 0),
    timers,
    queue: o.queue === false ? undefined : { size: o.size ?? 10, timeout: o.timeout ?? 100, order: o.order },
    partitions: o.partitions,
    maxEstimatedWait: o.maxEstimatedWait,
    onGranted: (context, permit) => {
      if (permit.context !== context) throw new Error('the permit must carry the waiter\'s context')
      granted.push(permit)
    },
    onQueueReject: (context, reason) => { rejected.push([context, reason]) }
  })
  return { limiter, timers, granted, rejected }
}

function permit (x: unknown): Permit<string> {
  if (!(x instanceof Permit)) throw new Error(`expected a permit, got ${String(x)}`)
  return x
}

function balanced (l: Limiter<string>): boolean {
  return l.admitted === l.succeeded + l.dropped + l.ignored + l.inflight
}

t.test('at the limit a request waits, and a release hands it the permit, timed from the grant', async t => {
  const { limiter, timers, granted } = setup({ limit: 1 })
  const a = permit(limiter.acquire('a'))
  const w = limiter.acquire('b')
  t.ok(w instanceof Waiter, 'queued, not rejected')
  t.equal(limiter.tryAcquire('c'), 'limit', 'tryAcquire never queues')
  t.same([limiter.inflight, limiter.admitted, limiter.rejected, limiter.queue?.length], [1, 1, 1, 1])
  timers.advance(30)
  limiter.release(a, 'success')
  t.equal(granted.length, 1)
  const b = granted[0]
  t.equal(b.context, 'b')
  t.equal(b.start, 1030, 'the permit starts at the grant: queue wait is not service latency')
  t.same([limiter.inflight, limiter.admitted, limiter.queue?.length], [1, 2, 0])
  timers.advance(5)
  limiter.release(b, 'success')
  const alpha = 1 - Math.pow(2, -1 / 20) // default half-life: 20 samples
  t.equal(limiter.serviceTime?.value, 30 + alpha * (5 - 30), 'service time follows latencies (30, then 5)')
  t.ok(balanced(limiter))
  t.equal(limiter.inflight, 0)
})

for (const order of ['lifo', 'fifo'] as const) {
  t.test(`${order}: waiters are served ${order === 'lifo' ? 'newest' : 'oldest'} first`, async t => {
    const { limiter, granted } = setup({ limit: 1, order })
    const first = permit(limiter.acquire('x'))
    for (const id of ['a', 'b', 'c']) limiter.acquire(id)
    limiter.release(first, 'success')
    for (let i = 0; i < 2; i++) limiter.release(granted[i], 'success')
    t.same(granted.map(p => p.context), order === 'lifo' ? ['c', 'b', 'a'] : ['a', 'b', 'c'])
  })
}

t.test('a full queue rejects at once', async t => {
  const { limiter } = setup({ limit: 1, size: 1 })
  limiter.acquire('a')
  t.ok(limiter.acquire('b') instanceof Waiter)
  t.equal(limiter.acquire('c'), 'queue-full')
  t.same([limiter.rejected, limiter.queue?.rejectedFull], [1, 1])
})

t.test('a waiter that times out is rejected with its reason and never gets a permit', async t => {
  const { limiter, timers, granted, rejected } = setup({ limit: 1, timeout: 100 })
  const a = permit(limiter.acquire('a'))
  limiter.acquire('b')
  timers.advance(99)
  t.same(rejected, [])
  timers.advance(1)
  t.same(rejected, [['b', 'queue-timeout']])
  t.same([limiter.rejected, limiter.queue?.length, limiter.queue?.timedOut], [1, 0, 1])
  limiter.release(a, 'success')
  t.equal(granted.length, 0)
  t.equal(limiter.inflight, 0)
})

t.test('a timer firing late: the expired waiter is settled at grant time and the permit goes back', async t => {
  const { limiter, timers, granted, rejected } = setup({ limit: 1, timeout: 100 })
  const a = permit(limiter.acquire('a'))
  limiter.acquire('b')
  timers.jump(150) // the timer is overdue but has not run: a busy event loop
  limiter.release(a, 'success')
  t.same(rejected, [['b', 'queue-timeout']])
  t.equal(granted.length, 0)
  t.same([limiter.inflight, limiter.admitted, limiter.rejected], [0, 1, 1])
  timers.advance(0)
  t.equal(rejected.length, 1, 'the late timer finds nothing more to do')
})

t.test('deadlines: 0 is spent, an unreachable one is refused, one expiring while queued is rejected', async t => {
  const { limiter, timers, rejected } = setup({ limit: 1, timeout: 1000 })
  t.equal(limiter.acquire('spent', undefined, 0), 'deadline', 'below the limit too')
  const a = permit(limiter.acquire('a', undefined, 50))
  timers.advance(40)
  limiter.release(a, 'success') // service time now 40 ms
  t.equal(limiter.acquire('tight', undefined, 39), 'deadline', 'shorter than one service time')
  const b = permit(limiter.acquire('b'))
  // Estimated wait 1 × 40 / 1 = 40 ms, plus 40 ms of service: 80 ms needed.
  t.equal(limiter.acquire('c', undefined, 79), 'deadline')
  t.ok(limiter.acquire('d', undefined, 90) instanceof Waiter)
  timers.advance(90)
  t.same(rejected, [['d', 'deadline']])
  t.equal(limiter.queue?.deadlineExpired, 1)
  limiter.release(b, 'success')
  t.equal(limiter.rejected, 4)
  t.ok(balanced(limiter))
})

t.test('maxEstimatedWait rejects instead of queueing', async t => {
  const { limiter, timers } = setup({ limit: 1, maxEstimatedWait: 50, order: 'fifo' })
  const a = permit(limiter.acquire('a'))
  t.ok(limiter.acquire('cold') instanceof Waiter, 'no latency measured yet: the estimate is 0')
  timers.advance(40)
  limiter.release(a, 'success') // grants 'cold'; service time 40
  t.ok(limiter.acquire('b') instanceof Waiter, 'estimate 40 ms')
  t.equal(limiter.acquire('c'), 'estimated-wait', 'FIFO: behind b, estimate 80 ms')
  t.equal(limiter.estimatedBacklogWait(), 80)
})

t.test('while the event loop is the queue (the gate refused within the interval), the limit refuses instead of queueing', async t => {
  const { limiter, timers } = setup({ limit: 1 })
  const a = permit(limiter.acquire('a'))
  limiter.shedUpstream()
  t.equal(limiter.acquire('b'), 'limit', 'refused at once')
  t.equal(limiter.queue?.length, 0)
  timers.advance(250)
  t.ok(limiter.acquire('c') instanceof Waiter, 'an interval later it may wait again')
  limiter.release(a, 'success')
  t.ok(balanced(limiter))
})

t.test('without a queue: deadlines still apply, and the limit rejects', async t => {
  const timers = new FakeTimers()
  const serviceTime = new ServiceTimeEwma()
  const limiter = new Limiter<string>({ algorithm: new StepAlgorithm(1, 0), timers, serviceTime })
  t.equal(limiter.estimatedBacklogWait(), 0)
  const a = permit(limiter.acquire('a', undefined, 10))
  t.equal(limiter.acquire('b'), 'limit')
  timers.advance(20)
  limiter.release(a, 'success')
  t.equal(serviceTime.value, 20)
  t.equal(limiter.acquire('c', undefined, 10), 'deadline')
  t.equal(limiter.estimatedBacklogWait(), 20, 'one service time over the limit 1')
  t.same(limiter.rejectQueued('draining'), [])
  t.equal(limiter.cancel(new Waiter('x', 0, 0, 0, 'queue-timeout', false)), false)
  const plain = new Limiter({ algorithm: new StepAlgorithm(1, 0) })
  t.equal(plain.estimatedBacklogWait(), 0)
})

t.test('ignored releases do not feed the service time', async t => {
  const { limiter, timers } = setup()
  const a = permit(limiter.acquire('a'))
  timers.advance(10)
  limiter.release(a, 'ignore')
  t.equal(limiter.serviceTime?.samples, 0)
  const b = permit(limiter.acquire('b'))
  limiter.release(b, 'drop')
  t.equal(limiter.serviceTime?.samples, 1, 'drops count: they are real latency')
})

t.test('a rising limit drains several waiters in one release', async t => {
  const algorithm = new StepAlgorithm(1, Infinity) // +1 per success
  const { limiter, granted } = setup({ algorithm })
  const a = permit(limiter.acquire('a'))
  limiter.acquire('b')
  limiter.acquire('c')
  limiter.acquire('d')
  limiter.release(a, 'success') // limit 2: two permits free
  t.same(granted.map(p => p.context), ['d', 'c'])
  t.same([limiter.inflight, limiter.queue?.length], [2, 1])
})

t.test('a throwing algorithm still drains the queue', async t => {
  const algorithm = new StepAlgorithm(1)
  const { limiter, granted } = setup({ algorithm })
  const a = permit(limiter.acquire('a'))
  limiter.acquire('b')
  algorithm.onSample = () => { throw new Error('boom') }
  t.throws(() => limiter.release(a, 'success'), /boom/)
  t.same(granted.map(p => p.context), ['b'])
  t.equal(limiter.inflight, 1)
})

t.test('cancel withdraws a waiter; rejectQueued empties the queue with a reason', async t => {
  const { limiter, granted } = setup({ limit: 1 })
  const a = permit(limiter.acquire('a'))
  const b = limiter.acquire('b') as Waiter<string>
  limiter.acquire('c')
  limiter.acquire('d')
  t.equal(limiter.cancel(b), true)
  t.equal(limiter.cancel(b), false, 'only once')
  t.same(limiter.rejectQueued('draining').sort(), ['c', 'd'])
  t.same([limiter.rejected, limiter.queue?.length], [2, 0])
  limiter.release(a, 'success')
  t.equal(granted.length, 0)
  t.ok(balanced(limiter))
})

t.test('a queue needs both callbacks', async t => {
  const algorithm = new StepAlgorithm(1)
  const queue = { size: 1, timeout: 60_000 } // real timers: long enough never to fire here
  t.throws(() => new Limiter({ algorithm, queue, onQueueReject: () => {} }), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /onGranted/ })
  t.throws(() => new Limiter({ algorithm, queue, onGranted: () => {} }), /onQueueReject/)
  const real = new Limiter({ algorithm, queue, onGranted: () => {}, onQueueReject: () => {} })
  t.ok(real.queue !== undefined && real.serviceTime !== undefined, 'real timers and clock by default')
  const p = real.acquire(null)
  real.acquire(null)
  t.ok(p instanceof Permit)
  real.release(p as Permit<null>, 'success')
  t.equal(real.inflight, 1)
})

t.test('partitions: shares at the limit, queue levels by declaration order, per-partition counts', async t => {
  const partitions = new PartitionSet({ critical: 0.5, batch: 0.5 })
  const { limiter, granted } = setup({ limit: 2, partitions, order: 'fifo' })
  const b1 = permit(limiter.acquire('b1', 'batch'))
  const b2 = permit(limiter.acquire('b2', 'batch'))
  t.equal(b1.partition, 'batch')
  const c1 = permit(limiter.acquire('c1', 'critical'))
  t.equal(limiter.inflight, 3, 'critical is below its guaranteed 1 at the limit')
  const d1 = permit(limiter.acquire('d1'))
  t.equal(d1.partition, 'default', 'the catch-all (share 0 here) still gets its 1 permit')
  t.ok(limiter.acquire('b3', 'batch') instanceof Waiter)
  t.ok(limiter.acquire('c2', 'critical') instanceof Waiter)
  t.ok(limiter.acquire('u1', 'nope') instanceof Waiter, 'an undeclared name queues as default')
  t.equal(partitions.unknownNames, 1)
  limiter.release(c1, 'success') // still over the limit: only critical is below its share
  t.same(granted.map(p => p.context), ['c2'])
  t.equal(granted[0].partition, 'critical')
  limiter.release(b1, 'success')
  t.equal(granted.length, 1, 'batch still holds its guaranteed 1 while over the limit')
  limiter.release(b2, 'success')
  limiter.release(d1, 'success')
  t.same(granted.map(p => p.context), ['c2', 'b3', 'u1'])
  t.equal(granted[2].partition, 'default')
  const s = partitions.status(limiter.limit)
  t.same([s.critical.admitted, s.batch.admitted, s.default.admitted], [2, 3, 2])
  t.same([s.critical.inflight, s.batch.inflight, s.default.inflight], [1, 1, 1])
})

t.test('priority: waiters of the first-declared partition are served first', async t => {
  const partitions = new PartitionSet({ critical: 0.1, batch: 0.1 })
  const { limiter, granted } = setup({ limit: 10, partitions, order: 'fifo' })
  const held: Array<Permit<string>> = []
  for (let i = 0; i < 10; i++) held.push(permit(limiter.acquire(`d${i}`)))
  permit(limiter.acquire('c0', 'critical'))
  permit(limiter.acquire('b0', 'batch'))
  for (const id of ['b1', 'c1', 'b2', 'c2']) limiter.acquire(id, id.startsWith('c') ? 'critical' : 'batch')
  for (let i = 0; i < 4; i++) limiter.release(held[i], 'success') // 12 -> 8 in flight: two permits free
  t.same(granted.map(p => p.context), ['c1', 'c2'], 'critical first, though batch arrived earlier')
})

t.test('partitions without a queue reject with "partition"; every rejection is counted per partition', async t => {
  const partitions = new PartitionSet({ a: 0.5 })
  const limiter: Limiter<string> = new Limiter<string>({ algorithm: new StepAlgorithm(1, 0), partitions })
  const heard: Array<string | undefined> = []
  limiter.addObserver({ onReject: (_reason, name) => heard.push(name) })
  permit(limiter.acquire('x', 'a'))
  permit(limiter.acquire('y'))
  t.equal(limiter.acquire('z', 'a'), 'partition')
  t.equal(limiter.reject('event-loop', 'nope'), 'event-loop', 'a rejection decided outside the limiter')
  t.same([partitions.status(1).a.rejected, partitions.status(1).default.rejected], [1, 1])
  t.same(heard, ['a', 'default'], 'observers see the resolved partition name')
  t.equal(partitions.unknownNames, 1)
})

t.test('expiry and rejectQueued count against the waiter\'s partition', async t => {
  const partitions = new PartitionSet({ a: 0.5, b: 0.5 })
  const { limiter, timers } = setup({ limit: 1, partitions, timeout: 10 })
  limiter.acquire('a1', 'a')
  limiter.acquire('b1', 'b')
  limiter.acquire('b2', 'b')
  limiter.acquire('a2', 'a')
  limiter.rejectQueued('draining')
  limiter.acquire('b3', 'b')
  timers.advance(10)
  t.same([partitions.status(1).a.rejected, partitions.status(1).b.rejected], [1, 2])
})

t.test('a full queue evicts the least important waiter for a more important request: rejected queue-full, counted against its partition', async t => {
  const partitions = new PartitionSet({ critical: 0.5, batch: 0.5 })
  const { limiter, granted, rejected } = setup({ limit: 2, size: 2, partitions })
  const c1 = permit(limiter.acquire('c1', 'critical'))
  permit(limiter.acquire('b1', 'batch'))
  const b2 = limiter.acquire('b2', 'batch')
  const b3 = limiter.acquire('b3', 'batch')
  t.ok(b2 instanceof Waiter && b3 instanceof Waiter, 'both partitions at their share: batch waits')
  const c2 = limiter.acquire('c2', 'critical')
  t.ok(c2 instanceof Waiter, 'critical gets a place in the full queue')
  t.same(rejected, [['b2', 'queue-full']], 'LIFO would serve b2 last: it is answered queue-full')
  t.equal((b2 as Waiter<string>).evicted, true)
  t.equal(limiter.cancel(b2 as Waiter<string>), false, 'a late client close finds nothing to withdraw')
  t.equal(limiter.acquire('b4', 'batch'), 'queue-full', 'batch cannot evict batch')
  t.ok(limiter.acquire('c3', 'critical') instanceof Waiter, 'evicts b3')
  t.equal(limiter.acquire('c4', 'critical'), 'queue-full', 'critical cannot evict critical')
  t.same(rejected, [['b2', 'queue-full'], ['b3', 'queue-full']], 'each evicted waiter settled once, through onQueueReject')
  const status = partitions.status(2)
  t.same([status.critical.rejected, status.batch.rejected, limiter.rejected], [1, 3, 4], 'b2, b3 (evicted) and b4 (refused) count against batch')
  t.same([limiter.queue?.evicted, limiter.queue?.rejectedFull], [2, 2])
  limiter.release(c1, 'success')
  t.same(granted.map(p => p.context), ['c3'], 'the freed permit goes to a critical waiter')
  t.ok(balanced(limiter))
})

t.test('property: random acquire/release/cancel/time keeps the books and settles every waiter once', async () => {
  const op = fc.oneof(
    { weight: 3, arbitrary: fc.record({ k: fc.constant('acquire' as const), budget: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }), part: fc.constantFrom('a', 'b', undefined) }) },
    fc.record({ k: fc.constant('acquire' as const), budget: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }), part: fc.constantFrom('a', 'b', undefined) }),
    { weight: 2, arbitrary: fc.record({ k: fc.constant('release' as const), outcome: fc.constantFrom('success' as const, 'drop' as const, 'ignore' as const), i: fc.nat() }) },
    fc.record({ k: fc.constant('cancel' as const), i: fc.nat() }),
    fc.record({ k: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ k: fc.constant('jump' as const), ms: fc.integer({ min: 0, max: 40 }) })
  )
  fc.assert(fc.property(fc.array(op, { minLength: 30, maxLength: 120 }), fc.boolean(), fc.constantFrom('lifo' as const, 'fifo' as const), (ops, withPartitions, order) => {
    const partitions = withPartitions ? new PartitionSet({ a: 0.6, b: 0.2 }) : undefined
    const { limiter, timers, granted, rejected } = setup({ algorithm: new StepAlgorithm(3, 1), size: 4, timeout: 50, order, partitions })
    const live: Array<Permit<string>> = []
    const waiting: Array<Waiter<string>> = []
    const outcome = new Map<string, string>()
    let n = 0
    let seen = 0
    const collect = (): void => {
      for (; seen < granted.length; seen++) {
        const id = granted[seen].context
        if (outcome.has(id)) throw new Error(`${id} settled twice`)
        outcome.set(id, 'granted')
        live.push(granted[seen])
      }
    }
    let rejectedSeen = 0
    const collectRejected = (): void => {
      for (; rejectedSeen < rejected.length; rejectedSeen++) {
        const id = rejected[rejectedSeen][0]
        if (outcome.has(id)) throw new Error(`${id} settled twice`)
        outcome.set(id, 'rejected')
      }
    }
    for (const o of ops) {
      if (o.k === 'acquire') {
        const id = `r${n++}`
        const r = limiter.acquire(id, o.part, o.budget)
        if (r instanceof Permit) {
          live.push(r)
          outcome.set(id, 'admitted')
        } else if (r instanceof Waiter) {
          waiting.push(r)
        } else {
          outcome.set(id, 'refused')
          // A full queue refuses only when nobody less important waits (else it evicts).
          const level = partitions === undefined ? 0 : partitions.get(o.part).level
          if (r === 'queue-full' && waiting.some(w => w.queued && w.level > level)) return false
        }
      } else if (o.k === 'release' && live.length > 0) {
        const [p] = live.splice(o.i % live.length, 1)
        limiter.release(p, o.outcome)
      } else if (o.k === 'cancel' && waiting.length > 0) {
        const w = waiting[o.i % waiting.length]
        if (limiter.cancel(w)) outcome.set(w.value, 'cancelled')
      } else if (o.k === 'advance') {
        timers.advance(o.ms)
      } else if (o.k === 'jump') {
        timers.jump(o.ms)
      }
      collect()
      collectRejected()
      if (!balanced(limiter) || limiter.inflight !== live.length) return false
      if (partitions !== undefined) {
        const sum = (key: 'inflight' | 'admitted' | 'rejected'): number => partitions.list.reduce((s, p) => s + p[key], 0)
        if (sum('inflight') !== limiter.inflight || sum('admitted') !== limiter.admitted || sum('rejected') !== limiter.rejected) return false
      }
    }
    // Every request is settled exactly once, or still queued.
    const queued = waiting.filter(w => w.queued).length
    return outcome.size + queued === n && queued === limiter.queue?.length
  }), { numRuns: 300 })
})

t.test('while the queue stands, a request whose permit is not expected within standingTimeout is refused at once', async t => {
  const run = (serviceMs: number): { reason: unknown, queued: number } => {
    const timers = new FakeTimers(1000)
    const limiter = new Limiter<string>({
      algorithm: new StepAlgorithm(1, 0),
      timers,
      queue: { size: 10, timeout: 1000, standingTimeout: 5, interval: 100 },
      onGranted: () => {},
      onQueueReject: () => {}
    })
    // One permit, freed every serviceMs: the estimated wait of a newcomer is serviceMs.
    for (let i = 0; i < 5; i++) {
      const p = permit(limiter.acquire(`s${i}`))
      timers.advance(serviceMs)
      limiter.release(p, 'success')
    }
    const holder = permit(limiter.acquire('holder'))
    t.ok(limiter.acquire('w') instanceof Waiter)
    timers.advance(100) // non-empty for a whole interval: standing, w shed
    const reason = limiter.acquire('late')
    const queued = limiter.queue?.length ?? -1
    limiter.release(holder, 'success')
    t.ok(balanced(limiter))
    return { reason, queued }
  }
  t.same(run(20), { reason: 'limit', queued: 0 }, 'a permit every 20 ms: refused now rather than after 5 ms')
  const fast = run(2)
  t.ok(fast.reason instanceof Waiter, 'a permit every 2 ms: it may wait for it')
  t.equal(fast.queued, 1)
})

t.test('a release with waiters behind a burst marks its sample (probes wait for the backlog to drain); a standing or plain queue does not', async t => {
  const run = (queue: { standingTimeout?: number, interval?: number }): { limiter: Limiter<string>, timers: FakeTimers, granted: Array<Permit<string>>, bursts: boolean[] } => {
    const timers = new FakeTimers(1000)
    const granted: Array<Permit<string>> = []
    const bursts: boolean[] = []
    const algorithm = { name: 'record', limit: 1, onSample (s: Sample): void { bursts.push(s.burst === true) }, state: () => ({}) }
    const limiter = new Limiter<string>({
      algorithm, timers, queue: { size: 50, timeout: 1000, ...queue }, onGranted: (_c, p) => { granted.push(p) }, onQueueReject: () => {}
    })
    return { limiter, timers, granted, bursts }
  }
  const cd = run({ standingTimeout: 50, interval: 100 })
  const a = permit(cd.limiter.acquire('a'))
  t.ok(cd.limiter.acquire('b') instanceof Waiter)
  t.ok(cd.limiter.acquire('c') instanceof Waiter)
  cd.timers.advance(10)
  cd.limiter.release(a, 'success')
  t.same(cd.bursts, [true], 'two waiters, the queue absorbing: a burst')
  cd.timers.advance(10)
  cd.limiter.release(cd.granted[0], 'success')
  t.same(cd.bursts, [true, true], 'one waiter left: still a burst')
  cd.timers.advance(10)
  cd.limiter.release(cd.granted[1], 'success')
  t.same(cd.bursts, [true, true, false], 'nobody waits: no burst')
  // A backlog: the only permit is held and the queue does not drain for a whole interval.
  const held = permit(cd.limiter.acquire('d'))
  for (let i = 0; i < 12; i++) { cd.limiter.acquire(`w${i}`); cd.timers.advance(10) }
  t.equal(cd.limiter.queue?.standing, true, 'the queue stands')
  t.ok((cd.limiter.queue?.length ?? 0) > 0, 'with the waiters younger than standingTimeout still in it')
  cd.limiter.release(held, 'success')
  t.same(cd.bursts.slice(3), [false], 'waiters in a standing queue: a backlog, not a burst')

  const plain = run({})
  const p = permit(plain.limiter.acquire('a'))
  plain.limiter.acquire('b')
  plain.limiter.release(p, 'success')
  t.same(plain.bursts, [false], 'a plain queue cannot tell a burst from a backlog: never marked')
})
