import t from 'tap'
import { SessionTracker } from '../../lib/sessions/tracker'
import { MemoryStore } from '../../lib/sessions/memory-store'
import type { Seat, SessionStore } from '../../lib/sessions/store'
import { ManualClock } from './helpers'

function tracker (opts: Partial<ConstructorParameters<typeof SessionTracker>[0]> = {}) {
  const clock = new ManualClock()
  const tr = new SessionTracker({ idleTimeout: 1000, clock: clock.now, timers: clock, ...opts })
  return { tr, clock }
}

t.test('a key seen within idleTimeout is active; after it, new again', async t => {
  const { tr, clock } = tracker()
  t.equal(tr.classify('u1'), 'new')
  t.equal(tr.admit('u1'), 'admitted')
  clock.advance(999)
  t.equal(tr.classify('u1'), 'active', 'seen 999 ms ago')
  clock.advance(999)
  t.equal(tr.classify('u1'), 'active', 'the previous request refreshed it')
  clock.advance(1000)
  t.equal(tr.classify('u1'), 'new', 'idle for exactly idleTimeout')
  t.equal(tr.tracked, 0, 'the stale entry was dropped')
})

t.test('a key never admitted stays new', async t => {
  const { tr } = tracker()
  t.equal(tr.classify('u1'), 'new')
  t.equal(tr.classify('u1'), 'new', 'classify alone does not start a session')
})

t.test('missing, empty and overlong keys are sessionless', async t => {
  const { tr } = tracker({ maxKeyLength: 8 })
  t.equal(tr.classify(undefined), 'none')
  t.equal(tr.classify(''), 'none')
  t.equal(tr.classify('123456789'), 'none')
  t.equal(tr.classify('12345678'), 'new')
})

t.test('maxSessions: new sessions beyond the cap are refused, existing ones unaffected', async t => {
  const { tr, clock } = tracker({ maxSessions: 2 })
  t.equal(tr.admit('a'), 'admitted')
  t.equal(tr.admit('b'), 'admitted')
  t.equal(tr.classify('c'), 'new')
  t.equal(tr.admit('c'), 'session-cap')
  t.equal(tr.classify('c'), 'new', 'a refused key is not tracked')
  clock.advance(500)
  t.equal(tr.classify('a'), 'active')
  t.equal(tr.classify('b'), 'active')
  t.equal(tr.refused, 1)
  t.same(tr.stats().refusedByReason, { 'session-cap': 1, draining: 0, 'store-unavailable': 0 })
})

t.test('expired sessions free their seat', async t => {
  const { tr, clock } = tracker({ maxSessions: 1 })
  t.equal(tr.admit('a'), 'admitted')
  clock.advance(600)
  t.equal(tr.classify('a'), 'active', 'activity at 600 extends the seat to 1600')
  clock.advance(900)
  t.equal(tr.admit('b'), 'session-cap', 'a is still active at 1500')
  clock.advance(100)
  t.equal(tr.admit('b'), 'admitted', 'a went idle at 1600 and its seat was freed')
  t.equal(tr.classify('a'), 'new')
  t.equal(tr.admit('a'), 'session-cap')
})

t.test('end() frees the seat at once', async t => {
  const { tr } = tracker({ maxSessions: 1 })
  tr.admit('a')
  await tr.end('a')
  t.equal(tr.classify('a'), 'new')
  t.equal(tr.admit('b'), 'admitted')
  const { tr: noCap } = tracker()
  noCap.admit('x')
  t.equal(noCap.end('x'), undefined, 'without a store there is nothing to wait for')
  t.equal(noCap.classify('x'), 'new')
})

t.test('a flood of fake keys keeps memory bounded (no cap on sessions)', async t => {
  const { tr, clock } = tracker({ maxTracked: 500, idleTimeout: 60_000 })
  tr.admit('real')
  let maxSize = 0
  for (let i = 0; i < 20_000; i++) {
    const key = `fake-${i}`
    if (tr.classify(key) === 'new') tr.admit(key)
    if (tr.tracked > maxSize) maxSize = tr.tracked
    if (i % 100 === 0) clock.advance(1)
  }
  t.equal(maxSize, 500, 'the map reached the cap and never exceeded it')
  t.equal(tr.evicted, 20_001 - 500)
  t.equal(tr.classify('real'), 'new', 'the least recently seen key was evicted first')
  t.equal(tr.classify('fake-19999'), 'active', 'the most recent keys stay')
})

t.test('a flood against maxSessions: the tracker and the store stay within the cap', async t => {
  const store = new MemoryStore()
  const { tr } = tracker({ maxSessions: 100, store })
  let admitted = 0
  for (let i = 0; i < 20_000; i++) if (tr.admit(`fake-${i}`) === 'admitted') admitted++
  t.equal(admitted, 100)
  t.equal(tr.tracked, 100)
  t.equal(store.count(Date.now() * 0), 100)
  t.equal(tr.refused, 19_900)
})

t.test('maxTracked defaults to at least maxSessions; evicted keys keep their seat', async t => {
  const { tr } = tracker({ maxSessions: 30_000 })
  t.equal(tr.maxTracked, 30_000)
  const small = tracker({ maxSessions: 3, maxTracked: 2 }).tr
  small.admit('a')
  small.admit('b')
  small.admit('c')
  t.equal(small.tracked, 2)
  t.equal(small.classify('a'), 'new', 'a was evicted locally')
  t.equal(small.admit('a'), 'admitted', 'but it still holds its seat, so it gets back in')
  t.equal(small.admit('d'), 'session-cap')
})

t.test('stats: active excludes idle entries; seats from the store', async t => {
  const { tr, clock } = tracker({ maxSessions: 5 })
  tr.admit('a')
  clock.advance(500)
  tr.admit('b')
  t.match(tr.stats(), { active: 2, seats: 2, refused: 0, draining: false, evicted: 0 })
  clock.advance(600)
  t.match(tr.stats(), { active: 1, seats: 1 })
  const noStore = tracker().tr
  noStore.admit('x')
  t.match(noStore.stats(), { active: 1, seats: undefined })
})

t.test('classify touches the store only when sessions are capped', async t => {
  const touched: string[] = []
  const store = new MemoryStore()
  store.touch = (key) => { touched.push(key) }
  const { tr } = tracker({ maxSessions: 2, store })
  tr.admit('a')
  tr.classify('a')
  t.same(touched, ['a'])
})

/** A store answering through promises, like a remote one. */
class AsyncStore implements SessionStore {
  answer: Seat = 'granted'
  removed: string[] = []
  onSeatLost: ((keys: readonly string[]) => void) | undefined
  lastCount: number | undefined = 7
  async register (): Promise<Seat> { return this.answer }
  touch (): void {}
  async remove (key: string): Promise<void> { this.removed.push(key) }
  async count (): Promise<number | undefined> { return undefined }
  async close (): Promise<void> {}
}

t.test('an async store: admission resolves later; lost seats are forgotten', async t => {
  const store = new AsyncStore()
  const { tr } = tracker({ maxSessions: 1, store })
  const pending = tr.admit('a')
  t.type(pending, Promise)
  t.equal(await pending, 'admitted')
  t.equal(tr.classify('a'), 'active')
  store.answer = 'unavailable'
  t.equal(await tr.admit('b'), 'store-unavailable')
  store.answer = 'full'
  t.equal(await tr.admit('c'), 'session-cap')
  t.equal(tr.stats().seats, 7, 'a remote store reports its last known count')
  store.onSeatLost?.(['a'])
  t.equal(tr.classify('a'), 'new', 'a seat lost in the store is forgotten locally')
})

t.test('stats do not wait for a remote count', async t => {
  const store = new AsyncStore()
  store.lastCount = undefined
  const { tr } = tracker({ maxSessions: 1, store })
  t.equal(tr.stats().seats, undefined)
})

t.test('options are validated', async t => {
  t.throws(() => new SessionTracker(undefined as never), { code: 'FST_CONCURRENCY_INVALID_OPTION' })
  t.throws(() => new SessionTracker({} as never), /sessions\.idleTimeout.*required/)
  t.throws(() => new SessionTracker({ idleTimeout: 0 }), /sessions\.idleTimeout/)
  t.throws(() => new SessionTracker({ idleTimeout: 10, maxSessions: 0 }), /sessions\.maxSessions/)
  t.throws(() => new SessionTracker({ idleTimeout: 10, maxSessions: 1.5 }), /sessions\.maxSessions/)
  t.throws(() => new SessionTracker({ idleTimeout: 10, maxTracked: 0 }), /sessions\.maxTracked/)
  t.throws(() => new SessionTracker({ idleTimeout: 10, maxKeyLength: 0 }), /sessions\.maxKeyLength/)
  t.throws(() => new SessionTracker({ idleTimeout: 10, store: {} as never }), /sessions\.store/)
  t.throws(() => new SessionTracker({ idleTimeout: 10, clock: 5 as never }), /sessions\.clock/)
  const tr = new SessionTracker({ idleTimeout: 10 })
  t.equal(tr.store, undefined, 'no cap, no store')
  t.ok(new SessionTracker({ idleTimeout: 10, maxSessions: 1 }).store instanceof MemoryStore)
  t.equal(tr.classify('k'), 'new', 'default clock works')
})
