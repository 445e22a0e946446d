import t from 'tap'
import fc from 'fast-check'
import { WaitQueue, systemTimers } from '../../lib/limiter/wait-queue'
import type { ExpiryReason, QueueOrder, Waiter } from '../../lib/limiter/wait-queue'
import { FakeTimers } from './fake-timers'

interface Req { id: string }

function setup (opts: { size?: number, timeout?: number, order?: QueueOrder, levels?: number } = {}): {
  q: WaitQueue<Req>
  clock: FakeTimers
  expired: Array<[string, ExpiryReason]>
} {
  const clock = new FakeTimers()
  const expired: Array<[string, ExpiryReason]> = []
  const q = new WaitQueue<Req>({
    size: opts.size ?? 10,
    timeout: opts.timeout ?? 100,
    order: opts.order,
    levels: opts.levels,
    timers: clock,
    onExpire: (r, reason) => { expired.push([r.id, reason]) }
  })
  return { q, clock, expired }
}

function add (q: WaitQueue<Req>, id: string, level = 0, deadline?: number): Waiter<Req> {
  const w = q.enqueue({ id }, level, deadline)
  if (w === 'full') throw new Error('unexpected full queue')
  return w
}

function drain (q: WaitQueue<Req>): string[] {
  const out: string[] = []
  for (let r = q.grantNext(); r !== undefined; r = q.grantNext()) out.push(r.id)
  return out
}

t.test('LIFO serves the newest waiter first and is the default', async t => {
  const { q } = setup()
  t.equal(q.order, 'lifo')
  for (const id of ['a', 'b', 'c']) add(q, id)
  t.same(drain(q), ['c', 'b', 'a'])
  t.equal(q.length, 0)
  t.equal(q.granted, 3)
})

t.test('FIFO serves the oldest waiter first', async t => {
  const { q } = setup({ order: 'fifo' })
  for (const id of ['a', 'b', 'c']) add(q, id)
  t.same(drain(q), ['a', 'b', 'c'])
})

t.test('LIFO interleaved with arrivals still serves whoever is newest at grant time', async t => {
  const { q } = setup()
  add(q, 'a')
  add(q, 'b')
  t.equal(q.grantNext()?.id, 'b')
  add(q, 'c')
  t.same(drain(q), ['c', 'a'])
})

t.test('a full queue rejects at once and counts it', async t => {
  const { q } = setup({ size: 2 })
  add(q, 'a')
  add(q, 'b')
  t.equal(q.enqueue({ id: 'c' }), 'full')
  t.equal(q.rejectedFull, 1)
  t.equal(q.length, 2)
  q.grantNext()
  t.not(q.enqueue({ id: 'd' }), 'full', 'room again after a grant')
})

t.test('more important levels are served first; eligibility can skip a level', async t => {
  const { q } = setup({ levels: 3, order: 'fifo' })
  add(q, 'low1', 2)
  add(q, 'mid1', 1)
  add(q, 'top1', 0)
  add(q, 'low2', 2)
  add(q, 'top2', 0)
  t.equal(q.levelLength(2), 2)
  t.equal(q.grantNext(level => level !== 0)?.id, 'mid1', 'level 0 refused, level 1 served')
  t.equal(q.grantNext(level => level === 9), undefined, 'no eligible level: the permit stays with the caller')
  t.equal(q.length, 4)
  t.same(drain(q), ['top1', 'top2', 'low1', 'low2'])
})

t.test('aheadOf counts who would be served before a new waiter', async t => {
  const fifo = setup({ levels: 2, order: 'fifo' }).q
  const lifo = setup({ levels: 2, order: 'lifo' }).q
  for (const q of [fifo, lifo]) {
    add(q, 'a', 0)
    add(q, 'b', 0)
    add(q, 'c', 1)
  }
  t.equal(fifo.aheadOf(0), 2)
  t.equal(fifo.aheadOf(1), 3)
  t.equal(lifo.aheadOf(0), 0, 'LIFO: a newcomer goes to the front of its level')
  t.equal(lifo.aheadOf(1), 2)
})

t.test('waiters time out after exactly `timeout` ms, through one shared timer', async t => {
  const { q, clock, expired } = setup({ timeout: 100 })
  add(q, 'a')
  clock.advance(10)
  add(q, 'b')
  add(q, 'c')
  t.equal(clock.armed, 1, 'one timer for the whole queue')
  t.same(clock.delays, [100], 'later waiters expire later: no re-arm')
  clock.advance(89)
  t.same(expired, [])
  clock.advance(1)
  t.same(expired, [['a', 'queue-timeout']], 'expires at enqueuedAt + timeout')
  t.equal(clock.armed, 1, 're-armed for the next expiry')
  clock.advance(10)
  t.same(expired, [['a', 'queue-timeout'], ['b', 'queue-timeout'], ['c', 'queue-timeout']])
  t.equal(q.length, 0)
  t.equal(q.timedOut, 3)
  t.equal(clock.armed, 0, 'no timer left once the queue is empty')
  t.equal(q.grantNext(), undefined)
})

t.test('a client deadline earlier than the timeout expires the waiter with reason "deadline"', async t => {
  const { q, clock, expired } = setup({ timeout: 100 })
  add(q, 'late', 0, 500) // later than the timeout: the timeout wins
  add(q, 'd50', 0, 50)
  add(q, 'd20', 0, 20)
  add(q, 'd70', 0, 70)
  t.same(clock.delays, [100, 50, 20], 're-armed only when an earlier expiry arrives')
  clock.advance(20)
  t.same(expired, [['d20', 'deadline']])
  clock.advance(30)
  t.same(expired.map(e => e[0]), ['d20', 'd50'])
  clock.advance(50)
  t.same(expired, [['d20', 'deadline'], ['d50', 'deadline'], ['d70', 'deadline'], ['late', 'queue-timeout']])
  t.equal(q.deadlineExpired, 3)
  t.equal(q.timedOut, 1)
})

t.test('cancel removes a waiter at once; nothing is called for it and it is never granted', async t => {
  const { q, clock, expired } = setup({ order: 'fifo' })
  const a = add(q, 'a')
  const b = add(q, 'b')
  const c = add(q, 'c', 0, 30)
  t.equal(q.cancel(b), true)
  t.equal(b.cancelled, true)
  t.equal(q.cancel(b), false, 'a second cancel is a no-op')
  t.equal(q.cancel(c), true, 'a waiter on the deadline list')
  t.equal(q.length, 1)
  t.equal(q.grantNext()?.id, 'a')
  t.equal(a.granted, true)
  t.equal(q.cancel(a), false, 'already granted: the caller owns a permit and must release it')
  clock.advance(1000)
  t.same(expired, [], 'cancelled waiters never expire')
  t.equal(q.cancelled, 2)
  t.equal(clock.armed, 0)
})

t.test('a permit racing a late timeout goes to the next live waiter, or back to the caller', async t => {
  const { q, clock, expired } = setup({ order: 'fifo', timeout: 100 })
  const a = add(q, 'a')
  clock.advance(50)
  add(q, 'b')
  clock.jump(60) // t = 110: a is past its timeout but the timer has not run yet
  t.equal(q.grantNext()?.id, 'b', 'the expired waiter is skipped')
  t.equal(a.expired, true)
  t.same(expired, [['a', 'queue-timeout']], 'and settled exactly once')
  clock.jump(100)
  add(q, 'c')
  const d = add(q, 'd')
  clock.jump(100) // c and d both past their timeout
  t.equal(q.grantNext(), undefined, 'no live waiter: the permit goes back to the pool')
  t.equal(d.expired, true)
  clock.advance(1000)
  t.same(expired.map(e => e[0]), ['a', 'c', 'd'], 'the late timer finds nothing left to expire')
  t.equal(q.timedOut, 3)
})

t.test('a waiter is expired at its deadline, not granted, when both happen at the same instant', async t => {
  const { q, clock, expired } = setup({ timeout: 100 })
  add(q, 'a')
  clock.jump(100)
  t.equal(q.grantNext(), undefined)
  t.same(expired, [['a', 'queue-timeout']])
})

t.test('a full queue whose waiters expired while the timer was late makes room for a new waiter', async t => {
  const { q, clock, expired } = setup({ size: 2, timeout: 100 })
  add(q, 'a')
  add(q, 'b', 0, 10)
  clock.jump(100)
  t.not(q.enqueue({ id: 'c' }), 'full')
  t.same(expired.map(e => e[0]).sort(), ['a', 'b'])
  t.equal(q.length, 1)
})

t.test('a stale deadline bound only causes a harmless early wake-up', async t => {
  const { q, clock, expired } = setup({ timeout: 100 })
  const d = add(q, 'd', 0, 10)
  add(q, 'a')
  q.cancel(d) // earlyMin still says 10
  clock.advance(10)
  t.same(expired, [])
  t.equal(clock.armed, 1, 're-armed for the real next expiry')
  clock.advance(90)
  t.same(expired, [['a', 'queue-timeout']])
})

t.test('onExpire may re-enter the queue', async t => {
  const clock = new FakeTimers()
  const log: string[] = []
  const refs: { victim?: Waiter<Req> } = {}
  const q: WaitQueue<Req> = new WaitQueue<Req>({
    size: 3,
    timeout: 100,
    order: 'fifo',
    timers: clock,
    onExpire: (r) => {
      log.push(r.id)
      if (r.id === 'a' && refs.victim !== undefined) t.equal(q.cancel(refs.victim), true, 'cancel from a callback')
      if (r.id === 'a') t.not(q.enqueue({ id: 'retry' }), 'full', 'enqueue from a callback')
    }
  })
  add(q, 'a', 0, 10)
  refs.victim = add(q, 'v', 0, 20)
  add(q, 'b')
  clock.advance(10)
  t.same(log, ['a'])
  t.equal(q.length, 2, 'b and retry')
  clock.advance(90)
  t.same(log, ['a', 'b'])
  clock.advance(10)
  t.same(log, ['a', 'b', 'retry'])
  t.equal(q.length, 0)
})

t.test('queue-wait percentiles cover every waiter that left', async t => {
  const { q, clock } = setup({ order: 'fifo', timeout: 1000, size: 100 })
  for (let i = 0; i < 100; i++) add(q, `r${i}`)
  for (let i = 0; i < 99; i++) {
    clock.advance(1)
    q.grantNext()
  }
  clock.advance(901) // the last one times out 1000 ms after it queued
  t.equal(q.waitCount, 100)
  t.ok(Math.abs(q.waitPercentile(50) - 50) <= 1, `p50 ${q.waitPercentile(50)}`)
  t.ok(Math.abs(q.waitPercentile(99) - 99) <= 1, `p99 ${q.waitPercentile(99)}`)
  t.ok(Math.abs(q.waitPercentile(100) - 1000) <= 10, `max ${q.waitPercentile(100)}`)
  q.resetWaitStats()
  t.equal(q.waitCount, 0)
})

t.test('removeAll empties the queue and returns every value once', async t => {
  const { q, clock, expired } = setup({ levels: 2 })
  add(q, 'a', 1)
  add(q, 'b', 0)
  add(q, 'c', 0, 5)
  t.same(q.removeAll().map(r => r.id), ['b', 'c', 'a'])
  t.equal(q.length, 0)
  t.equal(clock.armed, 0)
  clock.advance(1000)
  t.same(expired, [])
})

t.test('options are validated with the option name', async t => {
  const onExpire = (): void => {}
  t.throws(() => new WaitQueue({ size: 0, timeout: 1, onExpire }), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /queue\.size/ })
  t.throws(() => new WaitQueue({ size: 1.5, timeout: 1, onExpire }), /queue\.size/)
  t.throws(() => new WaitQueue({ size: 1, timeout: 0, onExpire }), /queue\.timeout/)
  t.throws(() => new WaitQueue({ size: 1, timeout: 1, order: 'random' as QueueOrder, onExpire }), /queue\.order/)
  t.throws(() => new WaitQueue({ size: 1, timeout: 1, levels: 0, onExpire }), /levels/)
})

t.test('system timers are unref\'d and expire waiters for real', async t => {
  const handle = systemTimers.setTimer(() => {}, 60_000) as NodeJS.Timeout
  t.equal(handle.hasRef(), false, 'a queued request never keeps the process alive')
  systemTimers.clearTimer(handle)
  // The queue's timer is unref'd, so something else must keep the process alive while we wait.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(keepAlive))
  const q = await new Promise<WaitQueue<Req>>((resolve) => {
    const queue: WaitQueue<Req> = new WaitQueue<Req>({ size: 2, timeout: 5, onExpire: () => resolve(queue) })
    t.ok(systemTimers.now() > 0)
    const first = queue.enqueue({ id: 'a' })
    t.not(first, 'full')
    if (first !== 'full') queue.cancel(first) // its timer stays armed and re-arms for b
    queue.enqueue({ id: 'b' })
  })
  t.equal(q.timedOut, 1)
  t.equal(q.length, 0)
})

// Model-based property test: a saturated limiter with `limit` permits and a queue in front of it.
// Random arrivals, completions, client disconnects and clock moves (timely or late timers).
t.test('property: bounded, every waiter settles exactly once, permits are conserved', async t => {
  const op = fc.oneof(
    // Arrivals weigh double so the queue is often full with mixed levels (the eviction path).
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('arrive' as const), level: fc.nat(2), deadline: fc.option(fc.nat(150), { nil: undefined }) }) },
    fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('disconnect' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.nat(60) }),
    fc.record({ kind: fc.constant('jump' as const), ms: fc.nat(60) })
  )
  fc.assert(fc.property(
    fc.constantFrom<QueueOrder>('lifo', 'fifo'), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }),
    fc.array(op, { maxLength: 120 }),
    (order, size, limit, ops) => {
      const clock = new FakeTimers()
      const settled = new Map<number, string>() // request id -> how it settled
      const running = new Set<number>() // requests holding a permit
      const handles: Array<Waiter<{ n: number }>> = []
      let inflight = 0
      let next = 0
      const settle = (n: number, how: string): void => {
        if (settled.has(n)) throw new Error(`request ${n} settled twice: ${settled.get(n)} then ${how}`)
        settled.set(n, how)
      }
      let arrivingLevel = -1 // the level of the arrival being enqueued, while enqueue() runs
      const q = new WaitQueue<{ n: number }>({
        size,
        timeout: 100,
        order,
        levels: 3,
        timers: clock,
        onExpire: (r, reason, level) => {
          // A full queue may give up a waiter only for a strictly more important arrival.
          if (reason === 'queue-full' && !(level > arrivingLevel && arrivingLevel >= 0)) throw new Error(`request ${r.n} (level ${level}) evicted for level ${arrivingLevel}`)
          settle(r.n, reason === 'queue-full' ? 'evicted' : 'expired')
        }
      })
      const grant = (): void => {
        while (inflight < limit) {
          const r = q.grantNext()
          if (r === undefined) break
          const w = handles.find(h => h.value === r) as Waiter<{ n: number }>
          if (w.expiresAt <= clock.now()) throw new Error(`request ${r.n} got a permit after its expiry`)
          settle(r.n, 'granted')
          running.add(r.n)
          inflight++
        }
      }
      for (const o of ops) {
        if (o.kind === 'arrive') {
          const n = next++
          if (inflight < limit && q.length === 0) {
            settle(n, 'admitted')
            running.add(n)
            inflight++
          } else {
            arrivingLevel = o.level
            const w = q.enqueue({ n }, o.level, o.deadline === undefined ? undefined : clock.now() + o.deadline)
            arrivingLevel = -1
            if (w === 'full') {
              settle(n, 'full')
              // Refused only when nobody less important was waiting.
              if (handles.some(h => h.queued && h.level > o.level)) throw new Error(`request ${n} refused while a less important waiter was queued`)
            } else {
              handles.push(w)
            }
          }
        } else if (o.kind === 'complete') {
          if (running.size === 0) continue
          const n = [...running][o.pick % running.size]
          running.delete(n)
          inflight--
          grant()
        } else if (o.kind === 'disconnect') {
          if (handles.length === 0) continue
          const w = handles[o.pick % handles.length]
          if (q.cancel(w)) settle(w.value.n, 'cancelled')
        } else if (o.kind === 'advance') {
          clock.advance(o.ms)
        } else {
          clock.jump(o.ms)
        }
        if (q.length > size) throw new Error('queue exceeded its size')
        if (inflight !== running.size || inflight > limit) throw new Error('permit lost or double-counted')
        let queued = 0
        for (const w of handles) if (w.queued) queued++
        if (queued !== q.length) throw new Error('length disagrees with the waiters')
        if (q.enqueued !== q.granted + q.timedOut + q.deadlineExpired + q.cancelled + q.evicted + q.length) throw new Error('queue counters do not add up')
      }
      clock.advance(1000) // every remaining waiter times out
      if (q.length !== 0) throw new Error('waiters left behind')
      if (settled.size !== next) throw new Error(`${next - settled.size} requests never settled`)
      return true
    }
  ), { numRuns: 300 })
  t.pass('300 random schedules held every invariant')
})

// Order property against a plain-array model: the lowest non-empty level first, then oldest
// (FIFO) or newest (LIFO) inside it, with cancellations anywhere. A full queue evicts, for a more
// important arrival, the least important level's waiter that would be served last.
t.test('property: service order and eviction match a simple model of levels and LIFO/FIFO', async t => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('enqueue' as const), level: fc.nat(3) }),
    fc.record({ kind: fc.constant('grant' as const) }),
    fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() })
  )
  fc.assert(fc.property(fc.constantFrom<QueueOrder>('lifo', 'fifo'), fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 100 }), (order, size, ops) => {
    const evicted: Array<[number, string, number]> = []
    const q = new WaitQueue<{ n: number }>({
      size, timeout: 1000, order, levels: 4, timers: new FakeTimers(), onExpire: (r, reason, level) => { evicted.push([r.n, reason, level]) }
    })
    const model: number[][] = [[], [], [], []]
    const handles = new Map<number, Waiter<{ n: number }>>()
    let n = 0
    for (const o of ops) {
      if (o.kind === 'enqueue') {
        let victim: number | undefined
        let victimLevel = -1
        if (model.flat().length >= size) {
          for (let l = model.length - 1; l > o.level && victim === undefined; l--) {
            if (model[l].length > 0) {
              victim = order === 'lifo' ? model[l].shift() : model[l].pop()
              victimLevel = l
            }
          }
        }
        const before = evicted.length
        const w = q.enqueue({ n }, o.level)
        const got = evicted.slice(before)
        if (victim !== undefined && JSON.stringify(got) !== JSON.stringify([[victim, 'queue-full', victimLevel]])) {
          throw new Error(`evicted ${JSON.stringify(got)}, model says ${victim}`)
        }
        if (victim === undefined && got.length > 0) throw new Error(`evicted ${JSON.stringify(got)}, model says nobody`)
        if (w === 'full') {
          if (model.flat().length < size) throw new Error('refused with room left')
          n++
          continue
        }
        handles.set(n, w)
        model[o.level].push(n++)
      } else if (o.kind === 'grant') {
        const level = model.findIndex(l => l.length > 0)
        const expected = level === -1 ? undefined : (order === 'lifo' ? model[level].pop() : model[level].shift())
        const got = q.grantNext()?.n
        if (got !== expected) throw new Error(`granted ${got}, model says ${expected}`)
      } else {
        const queued = model.flat()
        if (queued.length === 0) continue
        const victim = queued[o.pick % queued.length]
        if (!q.cancel(handles.get(victim) as Waiter<{ n: number }>)) throw new Error('cancel of a queued waiter failed')
        for (const l of model) { const i = l.indexOf(victim); if (i !== -1) l.splice(i, 1) }
      }
      if (q.length !== model.flat().length) throw new Error('length differs from the model')
    }
    return true
  }), { numRuns: 300 })
  t.pass('300 random sequences')
})
