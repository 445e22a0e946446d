// WaitQueue, full queue with priority levels: a more important arrival evicts the least important
// waiter (settled once, as 'queue-full'); an arrival of the same or a lower priority is refused.
import t from 'tap'
import { WaitQueue } from '../../lib/limiter/wait-queue'
import type { ExpiryReason, QueueOrder, Waiter } from '../../lib/limiter/wait-queue'
import { FakeTimers } from './fake-timers'

interface Req { id: string }

function setup (opts: { size: number, order?: QueueOrder, levels?: number, timeout?: number }): {
  q: WaitQueue<Req>
  clock: FakeTimers
  expired: Array<[string, ExpiryReason, number]>
} {
  const clock = new FakeTimers()
  const expired: Array<[string, ExpiryReason, number]> = []
  const q = new WaitQueue<Req>({
    size: opts.size,
    timeout: opts.timeout ?? 100,
    order: opts.order,
    levels: opts.levels ?? 3,
    timers: clock,
    onExpire: (r, reason, level) => { expired.push([r.id, reason, level]) }
  })
  return { q, clock, expired }
}

function add (q: WaitQueue<Req>, id: string, level: number, deadline?: number): Waiter<Req> {
  const w = q.enqueue({ id }, level, deadline)
  if (w === 'full') throw new Error(`unexpected full queue for ${id}`)
  return w
}

function drain (q: WaitQueue<Req>): string[] {
  const out: string[] = []
  for (let r = q.grantNext(); r !== undefined; r = q.grantNext()) out.push(r.id)
  return out
}

t.test('LIFO: a more important arrival evicts the oldest waiter of the least important level', async t => {
  const { q, expired } = setup({ size: 3 })
  const low1 = add(q, 'low1', 2)
  add(q, 'low2', 2)
  add(q, 'mid', 1)
  const top = q.enqueue({ id: 'top' }, 0)
  t.not(top, 'full', 'admitted to the full queue')
  t.same(expired, [['low1', 'queue-full', 2]], 'LIFO would serve low1 last: it goes, with its level')
  t.equal(low1.evicted, true)
  t.equal(low1.queued, false)
  t.equal(q.cancel(low1), false, 'an evicted waiter cannot be cancelled: it is already settled')
  t.same([q.length, q.evicted, q.rejectedFull, q.enqueued], [3, 1, 0, 4])
  t.same(drain(q), ['top', 'mid', 'low2'], 'the evicted waiter is never granted')
})

t.test('FIFO: the newest waiter of the least important level goes', async t => {
  const { q, expired } = setup({ size: 3, order: 'fifo' })
  add(q, 'low1', 2)
  add(q, 'low2', 2)
  add(q, 'mid', 1)
  add(q, 'top', 0)
  t.same(expired, [['low2', 'queue-full', 2]], 'FIFO would serve low2 last')
  t.same(drain(q), ['top', 'mid', 'low1'])
})

t.test('evictions move up one level at a time; an equal or lower arrival is refused', async t => {
  const { q, expired } = setup({ size: 2 })
  add(q, 'mid', 1)
  add(q, 'low', 2)
  t.equal(q.enqueue({ id: 'low2' }, 2), 'full', 'same level as the least important waiter: refused')
  add(q, 'mid2', 1)
  t.same(expired, [['low', 'queue-full', 2]], 'mid2 (level 1) evicted low (level 2)')
  t.equal(q.enqueue({ id: 'mid3' }, 1), 'full', 'only level-1 waiters left: a level-1 arrival is refused')
  t.equal(q.enqueue({ id: 'low3' }, 2), 'full', 'and a less important arrival too')
  t.equal(expired.length, 1, 'refusals evict nobody')
  add(q, 'top', 0)
  t.same(expired.map(e => e[0]), ['low', 'mid'], 'LIFO: the older level-1 waiter goes')
  t.same([q.rejectedFull, q.evicted, q.enqueued, q.length], [3, 2, 4, 2])
  t.same(drain(q), ['top', 'mid2'])
})

t.test('a single-level queue never evicts', async t => {
  const { q, expired } = setup({ size: 1, levels: 1 })
  add(q, 'a', 0)
  t.equal(q.enqueue({ id: 'b' }, 0), 'full')
  t.same([expired, q.evicted, q.rejectedFull], [[], 0, 1])
})

t.test('an evicted waiter is settled exactly once: its timeout and deadline never fire for it', async t => {
  const { q, clock, expired } = setup({ size: 2, timeout: 100 })
  add(q, 'low-deadline', 2, 30) // on the deadline list
  add(q, 'low', 2)
  add(q, 'top1', 0)
  add(q, 'top2', 0)
  t.same(expired.map(e => e[0]), ['low-deadline', 'low'], 'LIFO: the older low waiter (on the deadline list) first')
  clock.advance(1000)
  t.same(expired, [
    ['low-deadline', 'queue-full', 2], ['low', 'queue-full', 2], ['top1', 'queue-timeout', 0], ['top2', 'queue-timeout', 0]
  ], 'only the two that stayed queued time out')
  t.same([q.evicted, q.timedOut, q.deadlineExpired, q.length], [2, 2, 0, 0])
  t.equal(q.enqueued, q.granted + q.timedOut + q.deadlineExpired + q.cancelled + q.evicted + q.length, 'every queued waiter left one way')
})

t.test('waiters that expired behind a late timer make room first: nobody is evicted', async t => {
  const { q, clock, expired } = setup({ size: 2, timeout: 100 })
  add(q, 'low1', 2)
  add(q, 'low2', 2)
  clock.jump(100) // both past their timeout, the timer has not run
  add(q, 'top', 0)
  t.same(expired, [['low1', 'queue-timeout', 2], ['low2', 'queue-timeout', 2]])
  t.equal(q.evicted, 0)
})

t.test('the wait of an evicted waiter is recorded like any other departure', async t => {
  const { q, clock } = setup({ size: 1, timeout: 1000 })
  add(q, 'low', 2)
  clock.advance(40)
  add(q, 'top', 0)
  t.equal(q.waitCount, 1)
  t.ok(Math.abs(q.waitPercentile(100) - 40) <= 0.5, `waited 40 ms (${q.waitPercentile(100)})`)
})

t.test('onExpire of the evicted waiter runs before the arrival is queued, and may re-enter', async t => {
  const clock = new FakeTimers()
  const seen: Array<[string, number]> = []
  const q: WaitQueue<Req> = new WaitQueue<Req>({
    size: 2,
    timeout: 100,
    levels: 3,
    timers: clock,
    onExpire: (r) => {
      seen.push([r.id, q.length])
      // Takes the place just freed: the arrival then finds the queue full again and is refused.
      if (r.id === 'low1') t.not(q.enqueue({ id: 'requeued' }, 1), 'full', 'enqueue from the callback')
    }
  })
  add(q, 'low1', 2)
  add(q, 'low2', 2)
  t.equal(q.enqueue({ id: 'top' }, 0), 'full', 'the callback took the freed place')
  t.same(seen, [['low1', 1]], 'the callback saw the victim gone and the arrival not yet queued')
  t.same([q.evicted, q.rejectedFull, q.length], [1, 1, 2])
  t.same(drain(q), ['requeued', 'low2'])
})
