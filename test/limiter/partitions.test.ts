import t from 'tap'
import fc from 'fast-check'
import { PartitionSet, DEFAULT_PARTITION } from '../../lib/limiter/partitions'
import type { Partition } from '../../lib/limiter/partitions'
import { WaitQueue } from '../../lib/limiter/wait-queue'
import { FakeTimers } from './fake-timers'

/** The admission step the limiter will run: partition rule, then accounting. */
class Harness {
  inflight = 0
  constructor (readonly set: PartitionSet, public limit: number) {}
  tryAdmit (name: string | undefined): boolean {
    const p = this.set.get(name)
    if (!this.set.canAdmit(p, this.inflight, this.limit)) {
      this.set.reject(p)
      return false
    }
    this.set.admit(p)
    this.inflight++
    return true
  }

  release (name: string): void {
    this.set.release(this.set.get(name))
    this.inflight--
  }
}

function admitMany (h: Harness, name: string, n: number): number {
  let admitted = 0
  for (let i = 0; i < n; i++) if (h.tryAdmit(name)) admitted++
  return admitted
}

t.test("Netflix's partition numbers hold", async t => {
  const set = new PartitionSet({ batch: 0.3, live: 0.7 })
  const h = new Harness(set, 10)
  const batch = set.get('batch')
  const live = set.get('live')
  t.equal(batch.guaranteed(10), 3)
  t.equal(live.guaranteed(10), 7)
  t.equal(admitMany(h, 'batch', 10), 10, 'batch alone may borrow up to the global limit')
  t.equal(h.tryAdmit('batch'), false, 'then batch is over its share at the limit')
  t.equal(admitMany(h, 'live', 7), 7, 'live still gets its guaranteed 7')
  t.equal(h.inflight, 17, '17 in flight, by design')
  t.equal(h.tryAdmit('live'), false, 'the 8th live request is over its share')
  t.same([batch.rejected, live.rejected], [1, 1])
  h.limit = 20
  t.equal(batch.guaranteed(20), 6, 'the share follows the limit')
  t.equal(set.status(20).batch.limit, 6)
})

t.test('below the global limit any partition may borrow; at it, each gets only its share', async t => {
  const h = new Harness(new PartitionSet({ a: 0.5, b: 0.5 }), 4)
  t.equal(admitMany(h, 'a', 3), 3)
  t.equal(h.tryAdmit('b'), true, 'b takes the last free permit')
  t.equal(h.tryAdmit('b'), true, 'at the limit, b is still below its 2')
  t.equal(h.tryAdmit('b'), false)
  t.equal(h.tryAdmit('a'), false, 'a holds 3 > its 2')
  h.release('a')
  h.release('a')
  t.equal(h.tryAdmit('a'), true, 'global 4 = limit, but a is back to 1 < 2')
})

t.test('every partition is guaranteed at least one permit, and shares track the limit', async t => {
  const set = new PartitionSet({ tiny: 0.01, rest: 0.5 })
  const tiny = set.get('tiny')
  t.equal(tiny.guaranteed(1), 1)
  t.equal(tiny.guaranteed(250), 3)
  t.equal(new PartitionSet({ p: 0.07 }).get('p').guaranteed(100), 7, 'no floating-point overshoot (0.07 * 100)')
  t.equal(set.get('rest').guaranteed(3), 2, 'ceil')
})

t.test('the catch-all: undeclared and missing names, leftover share, lowest priority', async t => {
  const set = new PartitionSet({ live: 0.6, batch: 0.2 })
  t.same(set.list.map(p => [p.name, p.level]), [['live', 0], ['batch', 1], [DEFAULT_PARTITION, 2]])
  const fallback = set.get(undefined)
  t.equal(fallback, set.fallback)
  t.ok(Math.abs(fallback.share - 0.2) < 1e-12, 'the share left over')
  t.equal(fallback.guaranteed(10), 2)
  t.equal(set.unknownNames, 0, 'no name is not an unknown name')
  t.equal(set.get('typo'), fallback)
  t.equal(set.unknownNames, 1)
  t.equal(set.has('live'), true)
  t.equal(set.has('typo'), false)

  const full = new PartitionSet({ a: 0.5, b: 0.5 })
  t.equal(full.fallback.share, 0)
  t.equal(full.fallback.guaranteed(100), 1, 'nothing left over: still one permit at the limit')

  const declared = new PartitionSet({ critical: 0.5, default: 0.3, bulk: 0.2 })
  t.same(declared.list.map(p => p.name), ['critical', 'default', 'bulk'], 'a declared default keeps its place')
  t.equal(declared.fallback.share, 0.3)
  t.equal(declared.get('nope').name, 'default')
})

t.test('static names (route config) must be declared', async t => {
  const set = new PartitionSet({ live: 0.7, batch: 0.3 })
  t.equal(set.resolveStatic('batch', 'config.adaptiveConcurrency.partition').name, 'batch')
  t.throws(() => set.resolveStatic('bacth', 'config.adaptiveConcurrency.partition (GET /jobs)'), {
    code: 'FST_CONCURRENCY_INVALID_OPTION',
    message: 'Invalid option "config.adaptiveConcurrency.partition (GET /jobs)": unknown partition "bacth"; declared partitions: live, batch, default'
  })
  t.throws(() => set.resolveStatic(3, 'where'), /unknown partition 3/)
})

t.test('shares are validated, naming partitions.<name>', async t => {
  const code = 'FST_CONCURRENCY_INVALID_OPTION'
  t.throws(() => new PartitionSet({ batch: 0.5, live: 0.7 }), { code, message: /"partitions": shares must sum to at most 1, got 1\.2 \(batch \+ live\)/ })
  t.throws(() => new PartitionSet({ batch: 0 }), { code, message: /"partitions\.batch".*\(0, 1\]/ })
  t.throws(() => new PartitionSet({ batch: 1.5 }), /"partitions\.batch".*got 1\.5/)
  t.throws(() => new PartitionSet({ batch: '0.3' }), /"partitions\.batch".*got "0\.3"/)
  t.throws(() => new PartitionSet({ batch: undefined }), /"partitions\.batch".*got undefined/)
  t.throws(() => new PartitionSet({ 1: 0.5, b: 0.5 }), /"partitions\.1": partition names must not be integers/)
  t.throws(() => new PartitionSet({}), /"partitions": expected at least one partition/)
  t.throws(() => new PartitionSet(undefined), /"partitions": expected an object/)
  t.throws(() => new PartitionSet([0.5]), /"partitions": expected an object, got an array/)
  t.doesNotThrow(() => new PartitionSet({ a: 0.1, b: 0.2, c: 0.7 }), 'a float sum of 1.0000000000000002 is accepted')
  t.throws(() => new PartitionSet({ x: 2 }, 'opts.partitions'), /"opts\.partitions\.x"/)
})

t.test('status reports share, guaranteed limit, in-flight, admitted and rejected per partition', async t => {
  const set = new PartitionSet({ live: 0.7, batch: 0.3 })
  const h = new Harness(set, 2)
  admitMany(h, 'batch', 3)
  h.tryAdmit('live')
  t.same(set.status(2), {
    live: { share: 0.7, limit: 2, inflight: 1, admitted: 1, rejected: 0 },
    batch: { share: 0.3, limit: 1, inflight: 2, admitted: 2, rejected: 1 },
    default: { share: 0, limit: 1, inflight: 0, admitted: 0, rejected: 0 }
  })
  // A JSON config can carry a "__proto__" key; it must show up as data, not replace the prototype.
  const odd = new PartitionSet(JSON.parse('{"__proto__": 0.5}'))
  const status = odd.status(1)
  t.same(Object.keys(status), ['__proto__', 'default'])
  t.equal(Object.getPrototypeOf(status), Object.prototype)
})

// The integration recipe: one queue level per partition, partitions.levelEligible as the filter.
t.test('with a wait queue: waiters are served by partition priority and within guaranteed shares', async t => {
  const set = new PartitionSet({ live: 0.7, batch: 0.3 })
  const h = new Harness(set, 10)
  const clock = new FakeTimers()
  const q = new WaitQueue<{ p: Partition, id: string }>({
    size: 10, timeout: 1000, order: 'fifo', levels: set.list.length, timers: clock, onExpire: () => {}
  })
  const grantOne = (): string | undefined => {
    set.setGlobal(h.inflight, h.limit)
    const w = q.grantNext(set.levelEligible)
    if (w === undefined) return undefined
    set.admit(w.p)
    h.inflight++
    return w.id
  }
  admitMany(h, 'batch', 10)
  admitMany(h, 'live', 7) // 17 in flight
  const batch = set.get('batch')
  const live = set.get('live')
  q.enqueue({ p: batch, id: 'b1' }, batch.level)
  q.enqueue({ p: live, id: 'l1' }, live.level)
  q.enqueue({ p: live, id: 'l2' }, live.level)

  h.release('batch') // 16 in flight, still above the limit; batch holds 9 > 3
  t.equal(grantOne(), undefined, 'live is at its share and batch is over its own: nobody may take it')
  h.release('live') // live 6 < 7
  t.equal(grantOne(), 'l1', 'live is below its share again')
  for (let i = 0; i < 7; i++) h.release('batch') // 9 in flight, below the limit
  t.equal(grantOne(), 'l2', 'below the limit: the most important partition first')
  t.equal(grantOne(), 'b1', 'then batch, at the limit but within its share of 3')
  t.equal(grantOne(), undefined)
  t.equal(h.inflight, 11)
})

t.test('property: at the global limit no partition exceeds its guaranteed share through admission', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 50 }),
    fc.array(fc.record({ p: fc.constantFrom('a', 'b', 'c', 'x'), release: fc.boolean() }), { maxLength: 200 }),
    (limit, steps) => {
      const set = new PartitionSet({ a: 0.5, b: 0.3, c: 0.2 })
      const h = new Harness(set, limit)
      const held = new Map<string, number>()
      for (const s of steps) {
        const name = set.get(s.p).name
        if (s.release && (held.get(name) ?? 0) > 0) {
          h.release(name)
          held.set(name, (held.get(name) as number) - 1)
          continue
        }
        const before = set.get(name).inflight
        const atLimit = h.inflight >= limit
        if (h.tryAdmit(name)) {
          held.set(name, (held.get(name) ?? 0) + 1)
          if (atLimit && before >= set.get(name).guaranteed(limit)) throw new Error('admitted beyond the share at the limit')
        } else if (!atLimit) {
          throw new Error('rejected below the global limit')
        }
        const total = set.list.reduce((n, p) => n + p.inflight, 0)
        if (total !== h.inflight) throw new Error('partition in-flight counts disagree with the global count')
        // Worst case: one partition borrowed up to the limit, every other one filled its share.
        const bound = limit - 1 + set.list.reduce((n, p) => n + p.guaranteed(limit), 0)
        if (h.inflight > bound) throw new Error(`in-flight ${h.inflight} beyond ${bound}`)
      }
      return true
    }
  ), { numRuns: 300 })
  t.pass('300 random schedules')
})
