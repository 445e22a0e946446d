// The controlled-delay queue's state machine on a hand-driven clock: a burst (the queue drains) is
// absorbed; a backlog (non-empty for a whole interval and not draining) turns standing, with short
// waits and LIFO service; a standing queue absorbs again once an interval passes without shedding.
import t from 'tap'
import fc from 'fast-check'
import { WaitQueue, type ExpiryReason, type QueueOrder, type Waiter } from '../../lib/limiter/wait-queue'
import { FakeTimers } from './fake-timers'

interface Req { id: string }

const TIMEOUT = 1000
const INTERVAL = 100
const STANDING = 5

function setup (opts: { order?: QueueOrder, standingTimeout?: number, interval?: number, size?: number, levels?: number } = {}): {
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
    interval: 'interval' in opts ? opts.interval : INTERVAL,
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

function addMany (q: WaitQueue<Req>, prefix: string, n: number): void {
  for (let i = 0; i < n; i++) add(q, `${prefix}${i}`)
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

t.test('a burst longer than the interval is absorbed while it drains: FIFO, full timeout, never standing', async t => {
  const { q, clock, expired } = setup()
  // 60 ms of arrivals faster than service: the queue grows to 32.
  for (let at = 0; at < 60; at += 5) {
    addMany(q, `b${at}-`, 4)
    grant(q, 1)
    clock.advance(5)
  }
  t.equal(q.length, 36)
  // Then service outpaces arrivals: 3 served, 1 arrives, every 5 ms.
  for (let at = 60; at < 100; at += 5) {
    grant(q, 3)
    add(q, `d${at}`)
    clock.advance(5)
  }
  t.equal(q.length, 20, 'at the window end the queue is non-empty but well below its peak')
  t.equal(q.standing, false, 'draining: a burst, not a backlog')
  clock.advance(60) // t = 160: a second window, still draining (nothing arrives)
  grant(q, 12)
  clock.advance(40) // t = 200: the second window ends below its start
  t.equal(q.standing, false)
  t.equal(q.standingEpisodes, 0)
  t.ok(grant(q, 100).length > 0)
  t.equal(q.length, 0)
  t.same(expired, [], 'nobody expired: every burst request waited and was served')
  t.ok(q.waitPercentile(100) > INTERVAL, 'waits longer than the interval are allowed while the queue drains')
})

t.test('a queue still at its peak after a whole interval is standing, found by the shared timer', async t => {
  const { q, clock, expired } = setup()
  add(q, 'a') // t = 0: the window opens
  clock.advance(40)
  add(q, 'b')
  clock.advance(57)
  add(q, 'c') // t = 97
  clock.advance(2) // t = 99
  t.equal(q.standing, false)
  clock.advance(1) // t = 100: non-empty for a whole interval, at its peak
  t.equal(q.standing, true, 'standing, without any arrival or release')
  t.equal(q.standingEpisodes, 1)
  t.same(expired, [['a', 'queue-timeout', 100], ['b', 'queue-timeout', 100]], 'waiters older than standingTimeout expire at once')
  t.equal(q.length, 1, 'c (3 ms old) may still wait 2 ms')
  clock.advance(2)
  t.same(expired.at(-1), ['c', 'queue-timeout', 102])
  t.ok(clock.armed <= 1, 'one shared timer at most')
})

t.test('noise around a growing backlog is not a drain: 15/16 of the peak still counts as standing', async t => {
  const { q, clock } = setup()
  addMany(q, 'x', 32)
  clock.advance(99)
  grant(q, 2) // 30 of a peak of 32: 30 x 16 = 480 < 32 x 15 = 480? equal: not draining
  clock.advance(1)
  t.equal(q.standing, true)
  const d = setup()
  addMany(d.q, 'x', 32)
  d.clock.advance(99)
  grant(d.q, 3) // 29 of 32: below 15/16, draining
  d.clock.advance(1)
  t.equal(d.q.standing, false, 'a real drain is a burst')
})

t.test('a queue that empties within the interval starts a new window (Fail at Scale: empty once = absorbing)', async t => {
  const { q, clock, expired } = setup()
  add(q, 'a')
  clock.advance(90)
  grant(q, 1) // t = 90: empty
  clock.advance(5)
  add(q, 'b') // t = 95: a new window, until 195
  clock.advance(90) // t = 185
  t.equal(q.standing, false)
  t.same(grant(q, 1), ['b'])
  t.same(expired, [])
})

t.test('while standing: short waits, newest first; a standing queue that empties stays standing while it sheds', async t => {
  const { q, clock, expired } = setup()
  add(q, 'x')
  clock.advance(100) // standing; x expires
  t.same(expired.map(e => e[0]), ['x'])
  t.equal(q.length, 0)
  // Batches: a waiter every loop turn of 10 ms, served or shed; the queue is empty in between.
  for (let at = 100; at < 300; at += 10) {
    for (const id of ['a', 'b', 'c']) add(q, `${id}${at}`)
    t.equal(q.aheadOf(0), 0, 'LIFO: a new waiter is served before everyone at its level')
    t.same(grant(q, 1), [`c${at}`], 'the newest first, although the configured order is FIFO')
    clock.advance(10) // a and b expire after 5 ms: shedding
  }
  t.equal(q.standing, true, 'still standing: it shed within the last interval')
  t.equal(q.standingEpisodes, 1)
  t.equal(q.order, 'fifo', 'the configured order is unchanged')
})

t.test('a standing queue absorbs again once an interval passes without shedding: full timeout, FIFO', async t => {
  const { q, clock, expired } = setup()
  add(q, 'x')
  clock.advance(100) // standing; x expires at 100: the last shed
  for (let at = 100; at < 190; at += 10) {
    add(q, `s${at}`)
    t.same(grant(q, 1), [`s${at}`], 'service keeps up: nobody is shed')
    clock.advance(10)
  }
  t.equal(q.standing, true, '90 ms without shedding: still standing')
  clock.advance(10) // t = 200
  t.equal(q.standing, false, 'reads absorbing after a whole interval without shedding')
  add(q, 'a')
  add(q, 'b')
  clock.advance(50)
  t.same(grant(q, 1), ['a'], 'FIFO again')
  clock.advance(40)
  t.same(grant(q, 1), ['b'], 'b waited 90 ms: the full timeout again')
  t.same(expired.map(e => e[0]), ['x'])
  t.equal(q.standingEpisodes, 1)
})

t.test('refusals upstream (an event-loop gate) keep a standing queue standing, as its own sheds do', async t => {
  const { q, clock } = setup()
  add(q, 'x')
  clock.advance(100) // standing; x expires at 100
  for (let at = 100; at < 300; at += 10) {
    add(q, `s${at}`)
    grant(q, 1)
    q.shedUpstream() // the gate refused the rest of the overload before it reached the queue
    clock.advance(10)
  }
  t.equal(q.standing, true, '200 ms without a shed of its own, but the overload goes on upstream')
  clock.advance(100)
  t.equal(q.standing, false, 'an interval without either: absorbing')
  const plain = setup({ standingTimeout: undefined }).q
  plain.shedUpstream()
  t.equal(plain.standing, false, 'a plain queue is never standing')
  t.equal(plain.bypass(), true, 'but is bypassed, for the default interval')
})

t.test('a refusal upstream makes an absorbing queue standing, and bypasses it for an interval', async t => {
  const { q, clock, expired } = setup()
  add(q, 'a')
  add(q, 'b')
  clock.advance(20)
  t.equal(q.standing, false, 'absorbing a burst')
  q.shedUpstream()
  t.equal(q.standing, true, 'the loop is the queue: standing at once')
  clock.advance(1)
  t.same(expired.map(e => e[0]), ['a', 'b'], 'the waiters\' timeouts were cut to the standing one')
  t.equal(q.bypass(), true, 'nobody waits here while the gate refuses')
  clock.advance(98) // t = 119: the last refusal upstream was at 20
  t.equal(q.bypass(), true, 'within the interval; this refusal counts as shedding')
  clock.advance(1)
  t.equal(q.bypass(), false, 'an interval after the gate\'s last refusal, requests may wait again')
  t.equal(q.standing, true, 'in a queue still standing: the refusals at the limit kept it so')
  clock.advance(98) // t = 218: the last refusal at the limit was at 119
  t.equal(q.standing, true)
  clock.advance(1)
  t.equal(q.standing, false, 'an interval without any shedding: absorbing')
  t.equal(q.standingEpisodes, 1)
})

t.test('a full standing queue sheds: refusals and evictions keep it standing, the oldest low-priority waiter goes first', async t => {
  const { q, clock, expired } = setup({ size: 3, levels: 2 })
  add(q, 'x', 1)
  clock.advance(99)
  add(q, 'b1', 1)
  add(q, 'b2', 1)
  clock.advance(1) // standing; x expired
  add(q, 'b3', 1)
  add(q, 'c', 0)
  t.same(expired.map(e => [e[0], e[1]]), [['x', 'queue-timeout'], ['b1', 'queue-full']])
  clock.advance(3) // b2 and b3 are 4 and 3 ms old
  t.same(grant(q, 3), ['c', 'b3', 'b2'], 'level 0 first, newest first inside a level')
  clock.advance(96) // t = 199
  t.equal(q.standing, true, 'the last shed was at 100: still standing')
  clock.advance(1)
  t.equal(q.standing, false, 'an interval without shedding')
  const f = setup({ size: 1 })
  add(f.q, 'x')
  f.clock.advance(100) // standing, x shed at 100
  add(f.q, 'y')
  f.clock.advance(4)
  t.equal(f.q.enqueue({ id: 'z' }), 'full', 'y (4 ms old) fills the queue: z is refused at 104')
  t.same(grant(f.q, 1), ['y'])
  f.clock.advance(99) // t = 203
  t.equal(f.q.standing, true, 'a refusal for a full queue is shedding too')
  f.clock.advance(1)
  t.equal(f.q.standing, false)
})

t.test('with priority levels the first keeps its full timeout while standing; the others are cut', async t => {
  const { q, clock, expired } = setup({ levels: 3 })
  add(q, 'k', 0)
  add(q, 'kd', 0, 500) // a client deadline before the timeout
  add(q, 'o', 1)
  add(q, 'p', 2)
  clock.advance(100) // standing: o and p, 100 ms old, are cut; k and kd are not
  t.equal(q.standing, true)
  t.same(expired, [['o', 'queue-timeout', 100], ['p', 'queue-timeout', 100]])
  add(q, 'k2', 0)
  add(q, 'o2', 1)
  clock.advance(10)
  t.same(expired.at(-1), ['o2', 'queue-timeout', 105], 'a lower level queued while standing gets standingTimeout')
  t.equal(q.length, 3, 'k, kd and k2 wait on')
  clock.advance(390) // t = 500
  t.same(expired.at(-1), ['kd', 'deadline', 500])
  clock.advance(500) // t = 1000
  t.same(expired.at(-1), ['k', 'queue-timeout', 1000], 'the full timeout, as configured')
  t.same(grant(q, 1), ['k2'])
  const one = setup({ levels: 1 })
  add(one.q, 'k', 0)
  one.clock.advance(100)
  t.same(one.expired, [['k', 'queue-timeout', 100]], 'a single level is cut like any other')
})

t.test('while standing, a request that expects to wait longer than standingTimeout would expire first: refused, and counted as shedding', async t => {
  const { q, clock } = setup({ levels: 2 })
  t.equal(q.wouldExpire(50, 1), false, 'absorbing: it may wait')
  add(q, 'x', 1)
  clock.advance(100) // standing; x shed at 100
  t.equal(q.standing, true)
  t.equal(q.wouldExpire(STANDING, 1), false, 'a permit expected within standingTimeout: it may wait')
  t.equal(q.wouldExpire(STANDING + 1, 0), false, 'the first partition keeps its timeout')
  clock.advance(99) // t = 199: the last shed was at 100
  t.equal(q.wouldExpire(STANDING + 1, 1), true, 'expected later than standingTimeout: refuse now')
  clock.advance(99) // t = 298
  t.equal(q.standing, true, 'that refusal was shedding: still standing 99 ms after it')
  clock.advance(1)
  t.equal(q.standing, false, 'an interval without shedding: absorbing again')
  t.equal(q.wouldExpire(STANDING + 1, 1), false)
  const plain = setup({ standingTimeout: undefined })
  t.equal(plain.q.wouldExpire(10_000, 0), false, 'a plain queue never does')
})

t.test('a late timer: standing is found on the next arrival or grant', async t => {
  const { q, clock, expired } = setup()
  add(q, 'a')
  clock.jump(150) // the window's timer should have fired at 100
  add(q, 'b')
  t.equal(q.standing, true, 'found on enqueue')
  t.same(expired, [['a', 'queue-timeout', 150]], 'a, past its cut timeout, expired before b was queued')
  const g = setup()
  add(g.q, 'a')
  g.clock.jump(50)
  add(g.q, 'b')
  g.clock.jump(60) // t = 110: a is 110 ms old, b 60 ms
  t.equal(g.q.grantNext(), undefined, 'found on grant: both are past 5 ms, nobody gets the permit')
  t.same(g.expired.map(e => e[0]).sort(), ['a', 'b'])
  t.equal(g.q.standingEpisodes, 1)
})

t.test('client deadlines: the earlier of the deadline and the cut timeout wins, with its reason', async t => {
  const { q, clock, expired } = setup()
  add(q, 'anchor') // t = 0
  clock.advance(98)
  add(q, 'late-deadline', 0, 150) // deadline 150, earlier than 98 + 1000: on the deadline list
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

t.test('standingTimeout absent: a plain queue, never standing, waiters keep the full timeout and order', async t => {
  const { q, clock, expired } = setup({ standingTimeout: undefined })
  t.equal(q.standingTimeout, undefined)
  t.equal(q.interval, undefined)
  add(q, 'a')
  clock.advance(600)
  add(q, 'b')
  clock.advance(400) // t = 1000
  t.equal(q.standing, false)
  t.same(expired.map(e => [e[0], e[2]]), [['a', 1000]])
  add(q, 'c')
  t.same(grant(q, 2), ['b', 'c'], 'still FIFO')
  t.equal(q.standingEpisodes, 0)
})

t.test('standingTimeout and interval are validated with the option name', async t => {
  t.throws(() => setup({ standingTimeout: 0 }), /"queue\.standingTimeout"/)
  t.throws(() => setup({ standingTimeout: Number.NaN }), /"queue\.standingTimeout"/)
  t.throws(() => setup({ interval: 0 }), /"queue\.interval"/)
  t.throws(() => setup({ interval: -5 }), /"queue\.interval"/)
  t.equal(setup({ interval: undefined }).q.interval, 250, 'the default interval')
})

// Invariants for any sequence of arrivals, grants, cancels and time: no waiter waits past the
// timeout, a granted waiter is within its timeout of the moment, a standing queue serves the
// newest waiter, the queue turns standing only after being non-empty for a whole interval, and
// a standing queue that has not shed for an interval reads absorbing.
t.test('property: bounded waits, LIFO while standing, standing only after a non-empty interval', async t => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('arrive' as const), n: fc.integer({ min: 1, max: 4 }), deadline: fc.option(fc.integer({ min: 1, max: 200 }), { nil: undefined }) }),
    fc.record({ kind: fc.constant('grant' as const), n: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 60 }) }),
    fc.record({ kind: fc.constant('cancel' as const), pick: fc.nat() })
  )
  fc.assert(fc.property(fc.array(op, { maxLength: 150 }), (ops) => {
    const clock = new FakeTimers()
    let lastEmpty = 0
    let lastShed = -Infinity
    let episodes = 0
    const live: Array<Waiter<{ n: number, at: number }>> = []
    // Called before the model updates anything else: a new episode means the queue just turned.
    const noteEpisode = (): void => {
      if (q.standingEpisodes === episodes) return
      if (live.length === 0 || clock.now() - lastEmpty < INTERVAL) {
        throw new Error(`turned standing at ${clock.now()}, non-empty only since ${lastEmpty}`)
      }
      episodes = q.standingEpisodes
      lastShed = clock.now()
    }
    const q: WaitQueue<{ n: number, at: number }> = new WaitQueue<{ n: number, at: number }>({
      size: 20,
      timeout: TIMEOUT,
      order: 'fifo',
      standingTimeout: STANDING,
      interval: INTERVAL,
      timers: clock,
      onExpire: (r, reason) => {
        noteEpisode()
        const wait = clock.now() - r.at
        if (wait > TIMEOUT) throw new Error(`request ${r.n} waited ${wait} ms, past the timeout`)
        if (reason !== 'deadline') lastShed = clock.now()
        leave(r.n)
      }
    })
    const leave = (n: number): void => {
      const i = live.findIndex(w => w.value.n === n)
      if (i === -1) throw new Error(`request ${n} left twice`)
      live.splice(i, 1)
      if (live.length === 0) lastEmpty = clock.now()
    }
    const check = (): void => {
      noteEpisode()
      if (q.length !== live.length) throw new Error(`length ${q.length}, model ${live.length}`)
      if (q.standing && clock.now() - lastShed >= INTERVAL) throw new Error(`standing at ${clock.now()} without shedding since ${lastShed}`)
    }
    let next = 0
    for (const o of ops) {
      if (o.kind === 'arrive') {
        for (let k = 0; k < o.n; k++) {
          const now = clock.now()
          const w = q.enqueue({ n: next++, at: now }, 0, o.deadline === undefined ? Infinity : now + o.deadline)
          noteEpisode()
          if (w === 'full') {
            if (q.standing) lastShed = now
          } else {
            if (live.length === 0) lastEmpty = now
            live.push(w)
          }
          check()
        }
      } else if (o.kind === 'grant') {
        for (let i = 0; i < o.n; i++) {
          const newest = live.reduce<number>((m, w) => Math.max(m, w.value.n), -1)
          const r = q.grantNext()
          noteEpisode()
          if (r === undefined) break
          if (q.standing && r.n !== newest) throw new Error(`standing: granted ${r.n}, newest was ${newest}`)
          if (clock.now() - r.at > (q.standing ? STANDING : TIMEOUT)) throw new Error(`request ${r.n} granted after its timeout`)
          leave(r.n)
          check()
        }
      } else if (o.kind === 'cancel') {
        if (live.length > 0) {
          const w = live[o.pick % live.length]
          if (q.cancel(w)) leave(w.value.n)
        }
      } else {
        clock.advance(o.ms)
        check()
      }
    }
  }), { numRuns: 300 })
  t.pass('held for every sequence')
})
