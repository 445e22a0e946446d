import t from 'tap'
import { MemoryStore } from '../../lib/sessions/memory-store'

t.test('grants seats up to maxSessions, then answers full', async t => {
  const store = new MemoryStore()
  t.equal(store.register('a', 0, 1000, 2), 'granted')
  t.equal(store.register('b', 0, 1000, 2), 'granted')
  t.equal(store.register('c', 0, 1000, 2), 'full')
  t.equal(store.count(0), 2)
})

t.test('a key that holds a seat is granted again even when full, and its seat is extended', async t => {
  const store = new MemoryStore()
  store.register('a', 0, 1000, 1)
  t.equal(store.register('a', 900, 1000, 1), 'granted')
  // Extended to 1900: still live at 1500, so 'b' is refused.
  t.equal(store.register('b', 1500, 1000, 1), 'full')
  t.equal(store.register('b', 1900, 1000, 1), 'granted', 'the seat expired at 1900 and was freed')
})

t.test('expired seats are freed before counting', async t => {
  const store = new MemoryStore()
  store.register('a', 0, 100, 2)
  store.register('b', 50, 100, 2)
  t.equal(store.count(99), 2)
  t.equal(store.count(100), 1, 'a expired at exactly 100')
  t.equal(store.count(150), 0)
  t.equal(store.register('c', 150, 100, 1), 'granted')
})

t.test('touch extends a held seat and never takes one', async t => {
  const store = new MemoryStore()
  store.register('a', 0, 100, 1)
  store.touch('a', 90, 100)
  t.equal(store.count(150), 1, 'a now lives until 190')
  store.touch('ghost', 150, 100)
  t.equal(store.count(150), 1, 'touch of an unknown key adds nothing')
  // Touch moved 'a' to the back: an older seat in front still expires first.
  const s2 = new MemoryStore()
  s2.register('x', 0, 100, 3)
  s2.register('y', 10, 100, 3)
  s2.touch('x', 50, 100)
  t.equal(s2.count(110), 1, 'y expired at 110 although x was registered first')
  t.equal(s2.register('z', 110, 100, 2), 'granted')
})

t.test('remove frees a seat; close empties the store', async t => {
  const store = new MemoryStore()
  store.register('a', 0, 100, 1)
  store.remove('a')
  t.equal(store.register('b', 0, 100, 1), 'granted')
  await store.close()
  t.equal(store.count(0), 0)
})

t.test('size never exceeds maxSessions whatever the flood', async t => {
  const store = new MemoryStore()
  let granted = 0
  for (let i = 0; i < 50_000; i++) if (store.register(`fake-${i}`, i, 1_000_000, 100) === 'granted') granted++
  t.equal(granted, 100)
  t.equal(store.count(50_000), 100)
})
