import t from 'tap'
import { Deadlines, StoreTimeoutError } from '../../lib/sessions/deadline'

// The deadline timer is unref'd (it must not hold a process open); keep this test alive.
const keepAlive = setInterval(() => {}, 1000)
t.teardown(() => clearInterval(keepAlive))

t.test('a call that settles in time keeps its value or error', async t => {
  const d = new Deadlines(1000)
  t.equal(await d.run(Promise.resolve(5)), 5)
  await t.rejects(d.run(Promise.reject(new Error('boom'))), /boom/)
  t.equal(d.pending, 0)
})

t.test('a call that never settles is rejected by the timeout; one timer serves all', async t => {
  const d = new Deadlines(20)
  const never = new Promise<number>(() => {})
  const calls = [d.run(never), d.run(never), d.run(Promise.resolve(1))]
  await calls[2]
  t.equal(d.pending, 2, 'the resolved one is no longer pending')
  const results = await Promise.allSettled(calls)
  t.match(results[0], { status: 'rejected', reason: { name: 'StoreTimeoutError', message: /20 ms/ } })
  t.match(results[1], { status: 'rejected', reason: StoreTimeoutError })
  t.match(results[2], { status: 'fulfilled', value: 1 })
  t.equal(d.pending, 0)
})

t.test('a long run of settled calls is compacted when the timer fires', async t => {
  const d = new Deadlines(30)
  const slow = d.run(new Promise<void>(() => {}))
  const fast: Array<Promise<number>> = []
  for (let i = 0; i < 3000; i++) fast.push(d.run(Promise.resolve(i)))
  await Promise.all(fast)
  t.equal(d.pending, 1)
  await t.rejects(slow, StoreTimeoutError)
  t.equal(d.pending, 0)
})
