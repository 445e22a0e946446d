import t from 'tap'
import { SessionTracker } from '../../lib/sessions/tracker'
import { ManualClock } from './helpers'

function setup (maxSessions?: number) {
  const clock = new ManualClock()
  const tr = new SessionTracker({ idleTimeout: 1000, clock: clock.now, timers: clock, maxSessions })
  return { tr, clock }
}

t.test('draining refuses new sessions and sessionless requests, serves active ones', async t => {
  const { tr, clock } = setup(10)
  tr.admit('a')
  const done = tr.drain({ timeout: 60_000 })
  t.equal(tr.draining, true)
  t.equal(tr.refusedByDrain(tr.classify('a')), false, 'an active session is served')
  t.equal(tr.refusedByDrain(tr.classify('b')), true, 'a new session is refused')
  t.equal(tr.refusedByDrain(tr.classify(undefined)), true, 'a sessionless request is refused')
  t.equal(tr.admit('b'), 'draining', 'admit refuses too')
  t.match(tr.stats(), { draining: true, active: 1, refused: 3, refusedByReason: { draining: 3 } })
  clock.advance(1000)
  t.same(await done, { reason: 'idle', remaining: 0 })
})

t.test('activity during a drain keeps the session served and postpones the end', async t => {
  const { tr, clock } = setup()
  tr.admit('a')
  tr.admit('b')
  let result: unknown
  tr.drain({ timeout: 60_000 }).then((r) => { result = r })
  for (let i = 0; i < 5; i++) {
    clock.advance(900)
    t.equal(tr.classify('a'), 'active', `a keeps working (${i})`)
  }
  await Promise.resolve()
  t.equal(result, undefined, 'a is still active after 4.5 s')
  t.equal(tr.activeSessions(), 1, 'b went idle')
  clock.advance(999)
  await Promise.resolve()
  t.equal(result, undefined, 'one ms before a goes idle')
  clock.advance(1)
  await Promise.resolve()
  t.same(result, { reason: 'idle', remaining: 0 })
})

t.test('the drain ends at the timeout when sessions stay busy', async t => {
  const { tr, clock } = setup()
  tr.admit('a')
  const done = tr.drain({ timeout: 2500 })
  for (let i = 0; i < 10; i++) {
    clock.advance(500)
    tr.classify('a')
  }
  t.same(await done, { reason: 'timeout', remaining: 1 })
  t.equal(tr.draining, true, 'still refusing new users after the drain ended')
  t.equal(clock.pendingTimers, 0, 'no timer left behind')
  t.equal(await tr.drain({ timeout: 1 }), await done, 'a second call returns the same result')
})

t.test('a drain with no active session ends at once; timeout 0 ends at once', async t => {
  const { tr } = setup()
  t.same(await tr.drain({ timeout: 1000 }), { reason: 'idle', remaining: 0 })
  const busy = setup()
  busy.tr.admit('a')
  t.same(await busy.tr.drain({ timeout: 0 }), { reason: 'timeout', remaining: 1 })
})

t.test('resume() cancels a drain and admits again', async t => {
  const { tr, clock } = setup()
  tr.admit('a')
  const done = tr.drain({ timeout: 10_000 })
  tr.resume()
  t.same(await done, { reason: 'cancelled', remaining: 1 })
  t.equal(tr.draining, false)
  t.equal(tr.admit('b'), 'admitted')
  t.equal(clock.pendingTimers, 0)
  tr.resume() // no drain pending: harmless
  const again = tr.drain({ timeout: 10 })
  clock.advance(10)
  t.same(await again, { reason: 'timeout', remaining: 2 })
})

t.test('a seat granted while a drain started is given back', async t => {
  const clock = new ManualClock()
  const removed: string[] = []
  let answer!: (s: 'granted') => void
  const tr = new SessionTracker({
    idleTimeout: 1000,
    maxSessions: 5,
    clock: clock.now,
    timers: clock,
    store: {
      register: () => new Promise((resolve) => { answer = resolve }),
      touch () {},
      remove (key) { removed.push(key) },
      count: () => 0,
      close: async () => {}
    }
  })
  const pending = tr.admit('late')
  const drained = tr.drain({ timeout: 100 })
  answer('granted')
  t.equal(await pending, 'draining')
  t.same(removed, ['late'])
  t.same(await drained, { reason: 'idle', remaining: 0 })
})

t.test('drain options are validated', async t => {
  const { tr } = setup()
  t.throws(() => tr.drain(undefined as never), /"drain"/)
  t.throws(() => tr.drain({} as never), /drain\.timeout.*required/)
  t.throws(() => tr.drain({ timeout: -1 }), /drain\.timeout/)
  t.equal(tr.draining, false, 'an invalid call does not start draining')
})

t.test('close() cancels the drain timer; the default timers are unref-ed real ones', async t => {
  const { tr, clock } = setup(2)
  tr.admit('a')
  tr.drain({ timeout: 10_000 })
  t.equal(clock.pendingTimers, 1)
  await tr.close()
  t.equal(clock.pendingTimers, 0)
  // Real timers: a 1 ms idle timeout ends the drain on its own, with an unref'd timer. Being
  // unref'd, that timer alone cannot keep this process alive (a server's socket does): hold the
  // loop with a ref'd timer meanwhile, or the process may exit before the drain settles.
  const real = new SessionTracker({ idleTimeout: 1 })
  real.admit('x')
  const keepAlive = setTimeout(() => {}, 10_000)
  t.same(await real.drain({ timeout: 5000 }), { reason: 'idle', remaining: 0 })
  clearTimeout(keepAlive)
  await real.close()
})
