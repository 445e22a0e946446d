// Which waiters expire next: arrival order for the queue timeout, a scanned list for earlier
// client deadlines, and one cut of every timeout when the queue turns standing.
import t from 'tap'
import { ExpiryIndex } from '../../lib/limiter/expiry-index'
import { Waiter } from '../../lib/limiter/waiter'

const TIMEOUT = 100

function waiter (id: string, at: number, deadline = Infinity): Waiter<string> {
  const early = deadline < at + TIMEOUT
  return new Waiter(id, 0, at, early ? deadline : at + TIMEOUT, early ? 'deadline' : 'queue-timeout', early)
}

function expire (index: ExpiryIndex<string>, now: number): string[] {
  const out: string[] = []
  index.takeExpired(now, (w) => { index.remove(w); out.push(w.value) })
  return out
}

t.test('the next expiry is the earlier of the oldest arrival and the earliest deadline', async t => {
  const index = new ExpiryIndex<string>()
  t.equal(index.next, Infinity)
  index.add(waiter('a', 0))
  index.add(waiter('b', 10))
  t.equal(index.next, 100)
  index.add(waiter('c', 20, 50))
  t.equal(index.next, 50, 'a client deadline first')
  t.same(expire(index, 60), ['c'])
  t.same(expire(index, 105), ['a'])
  t.same(expire(index, 110), ['b'])
  t.equal(index.next, Infinity)
})

t.test('a cut makes every waiter expire at arrival + cut, unless its deadline comes first', async t => {
  const index = new ExpiryIndex<string>()
  const a = waiter('a', 0)
  const d = waiter('d', 1, 3)
  const e = waiter('e', 2, 80)
  for (const w of [a, d, e]) index.add(w)
  index.cut(5)
  t.same([a.expiresAt, d.expiresAt, e.expiresAt], [5, 3, 7])
  t.same([a.reason, d.reason, e.reason], ['queue-timeout', 'deadline', 'queue-timeout'])
  t.equal(index.next, 3)
  t.same(expire(index, 5), ['a', 'd'])
  t.same(expire(index, 7), ['e'])
})

t.test('removal and clear: a removed waiter never expires, a cleared bound is forgotten', async t => {
  const index = new ExpiryIndex<string>()
  const a = waiter('a', 0, 20)
  index.add(a)
  index.remove(a)
  t.equal(index.next, 20, 'the deadline bound may be stale-low after a removal')
  t.same(expire(index, 30), [], 'but nothing is taken')
  index.clear()
  t.equal(index.next, Infinity)
})
