// The controlled-delay queue on a hand-driven clock: a burst that drains within `timeout` is
// absorbed; a queue that stays non-empty for a whole `timeout` is standing (short timeouts, LIFO)
// until it empties.
import t from 'tap'
import fc from 'fast-check'
import { WaitQueue } from '../../lib/limiter/wait-queue'
import type { ExpiryReason, QueueOrder, Waiter } from '../../lib/limiter/wait-queue'
import { FakeTimers } from './fake-timers'

interface Req { id: string }

const TIMEOUT = 100
const STANDING = 5

function setup (opts: { order?: QueueOrder, standingTimeout?: number, size?: number, levels?: number } = {}): {
  q: WaitQueue<Req>
  clock: FakeTimers
  expired: Array<[string, ExpiryReason, number]>
} {
  const clock = new FakeTimers()
  const expired: Array<[string, ExpiryReason, number]> = []
  const q = new WaitQueue<Req>({
    size: opts.size ?? 100,
    timeout: TIMEOUT,
    order: opts.order ?? 'fifo',
    standingTimeout: 'standingTimeout' in opts ? opts.standingTimeout : STANDING,
    levels: opts.levels,
    timers: clock,
    onExpire: (r, reason) => { expired.push([r.id, reason, clock.now()]) }
  })
  return { q, clock, expired }
}

function add (q: WaitQueue<Req>, id: string, level = 0, deadline?: number): Waiter<Req> {
  const w = q.enqueue({ id }, level, deadline)
  if (w === 'full') throw new Error('unexpected full queue')
  return w
}

function grant (q: WaitQueue<Req>, n: number): string[] {
  const out: string[] = []
  for (let i = 0; i < n; i++) {
    const r = q.grantNext()
    if (r === undefined) break
    out.push(r.id)
  }
  return out
}

t.test('a burst that drains within the timeout is absorbed: FIFO, every waiter served, never standing', async t => {
  const { q, clock, expired } = setup()
  for (const id of ['a', 'b', 'c', 'd', 'e']) add(q, id)
  clock.advance(60)
  t.same(grant(q, 2), ['a', 'b'], 'oldest first while absorbing')
  add(q, 'f')
  clock.advance(39) // t = 99: non-empty for 99 ms, one short of the timeout
  t.equal(q.standing, false)
  t.same(grant(q, 10), ['c', 'd', 'e', 'f'])
  clock.advance(500)
  t.same(expired, [], 'nobody expired')
  t.equal(q.standing, false)
  t.equal(q.standingEpisodes, 0)
  t.ok(q.waitPercentile(100) >= 99, 'waits of a burst may last up to the timeout')
})

t.test('a queue non-empty for a whole timeout turns standing on its own timer: older waiters expire at once', async t => {
  const { q, clock, expired } = setup()
  add(q, 'a') // t = 0: the busy period begins
  clock.advance(40)
  add(q, 'b')
  t.same(grant(q, 1), ['a'], 'a leaves, b keeps the queue non-empty')
  clock.advance(57)
  add(q, 'c') // t = 97
  clock.advance(2) // t = 99
  t.equal(q.standing, false)
  clock.advance(1) // t = 100: the queue has not been empty for a whole timeout
  t.equal(q.standing, true, 'standing, detected by the shared timer without any arrival or release')
  t.equal(q.standingEpisodes, 1)
  t.same(expired, [['b', 'queue-timeout', 100]], 'b had waited 60 ms > 5 ms: expired at once')
  t.equal(q.length, 1, 'c (3 ms old) may still wait 2 ms')
  clock.advance(2)
  t.same(expired.at(-1), ['c', 'queue-timeout', 102], 'c expires 5 ms after it arrived')
  t.equal(q.length, 0)
  t.equal(q.standing, false, 'empty again: no longer standing')
  t.ok(clock.armed <= 1, 'one shared timer at most')
})

t.test('while standing: waiters time out after standingTimeout and are served newest first', async t => {
  const { q, clock, expired } = setup()
  add(q, 'x')
  clock.advance(96)
  add(q, 'y')
  clock.advance(4) // t = 100: standing; x expires, y (4 ms old) stays
  add(q, 'keep')
  t.equal(q.standing, true)
  t.same(expired.map(e => e[0]), ['x'])
  clock.advance(1) // t = 101: y has waited 5 ms
  t.same(expired.at(-1), ['y', 'queue-timeout', 101])
  for (const id of ['a', 'b', 'c']) add(q, id)
  t.equal(q.aheadOf(0), 0, 'LIFO: a new waiter is served before everyone at its level')
  t.same(grant(q, 2), ['c', 'b'], 'LIFO although the configured order is FIFO')
  t.equal(q.order, 'fifo', 'the configured order is unchanged')
  clock.advance(3) // t = 104: keep (enqueued at 100) has waited 4 ms
  t.equal(q.length, 2)
  clock.advance(1) // t = 105
  t.same(expired.at(-1), ['keep', 'queue-timeout', 105], 'keep waited exactly 5 ms')
  add(q, 'd') // t = 105, a (enqueued at 101) still queued
  clock.advance(1) // t = 106: a expires
  t.same(expired.at(-1), ['a', 'queue-timeout', 106])
  t.same(grant(q, 1), ['d'])
  t.equal(q.standing, false, 'the queue emptied: the standing episode is over')
  t.equal(q.standingEpisodes, 1)
})

t.test('a backlog that paused: for a whole timeout after it, a queue that forms again is standing at once', async t => {
  const { q, clock, expired } = setup()
  add(q, 'x')
  clock.advance(100) // standing; x expires and the queue empties at 100
  t.equal(q.standingEpisodes, 1)
  t.equal(q.standing, false)
  clock.advance(10)
  add(q, 'a') // t = 110: wary until 200
  t.equal(q.standing, true, 'standing from its first waiter')
  t.equal(q.standingEpisodes, 2)
  clock.advance(5)
  t.same(expired.at(-1), ['a', 'queue-timeout', 115], 'a waited 5 ms, not 100')
})

t.test('recovery: a timeout after the backlog, a new burst waits up to the full timeout again, FIFO', async t => {
  const { q, clock, expired } = setup()
  add(q, 'x')
  clock.advance(100) // standing; the queue empties at 100: wary until 200
  clock.advance(100) // t = 200
  for (const id of ['a', 'b']) add(q, id)
  clock.advance(50)
  t.equal(q.standing, false, 'absorbing: the new busy period began 50 ms ago')
  t.same(grant(q, 1), ['a'], 'FIFO again')
  t.same(expired.map(e => e[0]), ['x'], 'a and b did not expire after 5 ms')
  clock.advance(50) // t = 300: b has waited 100 ms, its full timeout
  t.same(expired.at(-1), ['b', 'queue-timeout', 300])
  t.equal(q.standingEpisodes, 2, 'a waiter that waited a whole timeout kept the queue non-empty that long: a second episode')
})

t.test('a burst that re-forms the queue while wary is cut, but lets the wariness lapse: later bursts are absorbed', async t => {
  const { q, clock, expired } = setup()
  add(q, 'x')
  clock.advance(100) // a real backlog ends at 100: wary until 200
  clock.advance(50)
  add(q, 'burst') // t = 150: standing at once
  t.equal(q.standing, true)
  clock.advance(5) // t = 155: the burst's queue empties after 5 ms, shorter than timeout / 4
  t.same(expired.at(-1), ['burst', 'queue-timeout', 155])
  clock.advance(50) // t = 205: past the wariness the real backlog left
  add(q, 'next')
  t.equal(q.standing, false, 'the short standing period did not extend the wariness')
  clock.advance(30)
  t.same(grant(q, 1), ['next'], 'waited 30 ms: absorbed')
})

t.test('a backlog served in batches (short standing periods) keeps the queue wary; one short burst does not', async t => {
  const { q, clock } = setup()
  add(q, 'x')
  clock.advance(100) // a real backlog ends at 100: wary until 200
  // Batches: the queue stands again for 20 ms of every 25 (its waiters expire after 5 ms).
  for (let at = 100; at < 200; at += 25) {
    add(q, `b${at}`)
    clock.advance(5)
    add(q, `c${at}`)
    clock.advance(5)
    add(q, `d${at}`)
    clock.advance(5)
    add(q, `e${at}`)
    clock.advance(10) // e expires 5 ms after it came: the queue empties 20 ms after it formed
  }
  t.equal(q.length, 0)
  clock.advance(5) // t = 205: the wary window is over
  add(q, 'next')
  t.equal(q.standing, true, 'stood again for 80 ms of the 100 ms window: renewed, still a backlog')
  clock.advance(5)
  clock.advance(200) // t = 410: nothing for two windows
  add(q, 'later')
  t.equal(q.standing, false, 'a lull past the renewed window: absorbing again')
})

t.test('a late timer: the standing state is found on the next arrival or grant', async t => {
  const { q, clock, expired } = setup()
  add(q, 'a')
  clock.jump(150) // the timer should have fired at 100
  add(q, 'b')
  t.same(expired, [['a', 'queue-timeout', 150]], 'found on enqueue: a, past its cut timeout, expired before b was queued')
  t.equal(q.standing, true, 'b re-forms the queue while it is wary: standing at once')
  t.equal(q.standingEpisodes, 2)
  const g = setup()
  add(g.q, 'a')
  g.clock.jump(50)
  add(g.q, 'b')
  g.clock.jump(60) // t = 110: a is 110 ms old (past its timeout too), b 60 ms
  t.equal(g.q.grantNext(), undefined, 'found on grant: both are past 5 ms, nobody gets the permit')
  t.same(g.expired.map(e => e[0]).sort(), ['a', 'b'])
  t.equal(g.q.standing, false, 'and the queue is empty again')
  t.equal(g.q.standingEpisodes, 1)
})

t.test('client deadlines: the earlier of the deadline and the cut timeout wins, with its reason', async t => {
  const { q, clock, expired } = setup()
  add(q, 'anchor') // t = 0
  clock.advance(98)
  add(q, 'late-deadline', 0, 150) // deadline 150, earlier than 98 + 100: on the deadline list
  add(q, 'soon', 0, 101) // deadline 101: earlier than 98 + 5 too
  add(q, 'plain')
  clock.advance(2) // t = 100: standing
  t.equal(q.standing, true)
  t.same(expired, [['anchor', 'queue-timeout', 100]])
  clock.advance(1) // t = 101
  t.same(expired.at(-1), ['soon', 'deadline', 101], 'its own deadline came first')
  clock.advance(2) // t = 103 = 98 + 5
  t.same(expired.slice(2).map(e => [e[0], e[1], e[2]]).sort(), [['late-deadline', 'queue-timeout', 103], ['plain', 'queue-timeout', 103]],
    'the cut timeout came before the later deadline')
  t.equal(q.deadlineExpired, 1)
  t.equal(q.timedOut, 3)
})

t.test('partitions: levels keep their priority while standing, LIFO inside each level', async t => {
  const { q, clock } = setup({ levels: 2 })
  add(q, 'x', 1)
  clock.advance(99)
  for (const id of ['b1', 'b2']) add(q, id, 1)
  for (const id of ['c1', 'c2']) add(q, id, 0)
  clock.advance(1)
  t.equal(q.standing, true)
  t.same(grant(q, 4), ['c2', 'c1', 'b2', 'b1'], 'level 0 first, newest first in each')
})

t.test('a full standing queue evicts the less important waiter LIFO would serve last: the oldest', async t => {
  const { q, clock, expired } = setup({ size: 3, levels: 2 })
  add(q, 'x', 1)
  clock.advance(99)
  add(q, 'b1', 1)
  add(q, 'b2', 1)
  clock.advance(1) // standing; x expired
  add(q, 'b3', 1)
  add(q, 'c', 0)
  t.same(expired.map(e => [e[0], e[1]]), [['x', 'queue-timeout'], ['b1', 'queue-full']])
})

t.test('standingTimeout absent: a plain queue, never standing, waiters keep the full timeout', async t => {
  const { q, clock, expired } = setup({ standingTimeout: undefined })
  t.equal(q.standingTimeout, undefined)
  add(q, 'a')
  clock.advance(60)
  add(q, 'b')
  clock.advance(40) // t = 100: non-empty for a whole timeout
  t.equal(q.standing, false)
  t.same(expired.map(e => [e[0], e[2]]), [['a', 100]])
  add(q, 'c')
  t.same(grant(q, 2), ['b', 'c'], 'still FIFO')
  t.equal(q.standingEpisodes, 0)
})

t.test('standingTimeout is validated with the option name', async t => {
  t.throws(() => setup({ standingTimeout: 0 }), /"queue\.standingTimeout"/)
  t.throws(() => setup({ standingTimeout: Number.NaN }), /"queue\.standingTimeout"/)
})

// A model of the state machine: after every step (timers fired at their own times), the queue is
// standing exactly when it is non-empty and either has not been empty since `timeout` ms or more,
// or became non-empty while wary (within `timeout` after a standing period of at least a quarter
// of `timeout` ended, renewed while the queue stood again for half of the window); no waiter ever waits longer than its timeout of the moment; a standing
// queue serves newest first.
t.test('property: standing iff non-empty for a whole timeout or re-formed while wary; waits bounded; LIFO while standing', async t => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('arrive' as const), deadline: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }) }),
    fc.record({ kind: fc.constant('grant' as const), n: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() })
  )
  fc.assert(fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
    const clock = new FakeTimers()
    let busySince = 0
    let waryUntil = -Infinity
    let waryBusy = 0
    let length = 0
    const standingNow = (): boolean => length > 0 && (clock.now() - busySince >= TIMEOUT || busySince < waryUntil)
    const live: Array<Waiter<{ n: number, at: number }>> = []
    const q = new WaitQueue<{ n: number, at: number }>({
      size: 20,
      timeout: TIMEOUT,
      order: 'fifo',
      standingTimeout: STANDING,
      timers: clock,
      onExpire: (r) => {
        const wait = clock.now() - r.at
        if (wait > TIMEOUT) throw new Error(`request ${r.n} waited ${wait} ms, past the timeout`)
        leave(r.n)
      }
    })
    const leave = (n: number): void => {
      const i = live.findIndex(w => w.value.n === n)
      if (i === -1) throw new Error(`request ${n} left twice`)
      const wasStanding = standingNow()
      live.splice(i, 1)
      length--
      if (length === 0 && wasStanding) {
        const busy = clock.now() - busySince
        if (busy >= TIMEOUT / 4) {
          waryUntil = clock.now() + TIMEOUT
          waryBusy = 0
        } else if (clock.now() < waryUntil) {
          waryBusy += busy
        }
      }
    }
    const check = (): void => {
      if (q.length !== length) throw new Error(`length ${q.length}, model ${length}`)
      const standing = standingNow()
      if (q.standing !== standing) throw new Error(`at ${clock.now()}: standing ${q.standing}, model ${standing} (busy since ${busySince}, wary until ${waryUntil})`)
    }
    let next = 0
    for (const o of ops) {
      if (o.kind === 'arrive') {
        const now = clock.now()
        const w = q.enqueue({ n: next++, at: now }, 0, o.deadline === undefined ? Infinity : now + o.deadline)
        if (w !== 'full') {
          if (length === 0) {
            busySince = now
            if (now >= waryUntil && waryBusy > 0) {
              if (waryBusy >= TIMEOUT / 2) waryUntil = now + TIMEOUT
              waryBusy = 0
            }
          }
          live.push(w)
          length++
        }
      } else if (o.kind === 'grant') {
        for (let i = 0; i < o.n; i++) {
          const standing = q.standing
          const newest = live.reduce<number>((m, w) => Math.max(m, w.value.n), -1)
          const r = q.grantNext()
          if (r === undefined) break
          if (clock.now() - r.at > (standing ? STANDING : TIMEOUT)) throw new Error(`request ${r.n} granted after its timeout`)
          if (standing && r.n !== newest) throw new Error(`standing: granted ${r.n}, newest was ${newest}`)
          leave(r.n)
        }
        if (length === 0) busySince = clock.now()
      } else if (o.kind === 'cancel') {
        if (live.length > 0) {
          const w = live[o.pick % live.length]
          if (q.cancel(w)) leave(w.value.n)
        }
      } else {
        clock.advance(o.ms)
      }
      check()
    }
  }), { numRuns: 300 })
  t.pass('held for every sequence')
})
