import t from 'tap'
import { resolveBacklogOptions, BACKLOG_OPTION_NAMES } from '../../lib/limiter/backlog-options'

const code = 'FST_CONCURRENCY_INVALID_OPTION'

t.test('nothing set: no queue, no estimate, no deadline, no partitions', async t => {
  t.same(resolveBacklogOptions({}), {
    queue: undefined, maxEstimatedWait: undefined, deadlineHeader: undefined, partitions: undefined, partition: undefined
  })
  t.equal(resolveBacklogOptions({ queue: false }).queue, undefined)
  t.same(BACKLOG_OPTION_NAMES, ['queue', 'maxEstimatedWait', 'deadlineHeader', 'partitions', 'partition'])
})

t.test('queue defaults and explicit values', async t => {
  t.same(resolveBacklogOptions({ queue: {} }).queue, { size: 100, timeout: 1000, order: 'lifo' })
  t.same(resolveBacklogOptions({ queue: { size: 5, timeout: 250, order: 'fifo' } }).queue, { size: 5, timeout: 250, order: 'fifo' })
})

t.test('queue values are checked and named', async t => {
  t.throws(() => resolveBacklogOptions({ queue: true }), { code, message: /"queue": expected an object/ })
  t.throws(() => resolveBacklogOptions({ queue: { size: 0 } }), /"queue\.size"/)
  t.throws(() => resolveBacklogOptions({ queue: { timeout: -1 } }), /"queue\.timeout"/)
  t.throws(() => resolveBacklogOptions({ queue: { order: 'random' } }), /"queue\.order".*'lifo', 'fifo'/)
  t.throws(() => resolveBacklogOptions({ queue: { sise: 3 } }), /"queue\.sise": unknown option/)
})

t.test('maxEstimatedWait needs a queue and a positive bound', async t => {
  t.equal(resolveBacklogOptions({ queue: {}, maxEstimatedWait: 200 }).maxEstimatedWait, 200)
  t.throws(() => resolveBacklogOptions({ maxEstimatedWait: 200 }), { code, message: /"maxEstimatedWait": needs the `queue` option/ })
  t.throws(() => resolveBacklogOptions({ queue: {}, maxEstimatedWait: 0 }), /"maxEstimatedWait".*\(0, /)
})

t.test('deadlineHeader is a header name, lower-cased', async t => {
  t.equal(resolveBacklogOptions({ deadlineHeader: 'X-Request-Budget-Ms' }).deadlineHeader, 'x-request-budget-ms')
  t.throws(() => resolveBacklogOptions({ deadlineHeader: 'bad header' }), { code, message: /"deadlineHeader": expected a header name/ })
  t.throws(() => resolveBacklogOptions({ deadlineHeader: '' }), /"deadlineHeader"/)
  t.throws(() => resolveBacklogOptions({ deadlineHeader: 5 }), /got 5/)
})

t.test('partitions and the partition function', async t => {
  const partition = (): string => 'live'
  const r = resolveBacklogOptions({ partitions: { live: 0.7, batch: 0.3 }, partition })
  t.same(r.partitions?.list.map(p => p.name), ['live', 'batch', 'default'])
  t.equal(r.partition, partition)
  t.ok(resolveBacklogOptions({ partitions: { live: 1 } }).partitions, 'per-route partitions need no function')
  t.throws(() => resolveBacklogOptions({ partition }), { code, message: /"partition": needs the `partitions` option/ })
  t.throws(() => resolveBacklogOptions({ partitions: { live: 0.7 }, partition: 'live' }), /"partition": expected a function/)
  t.throws(() => resolveBacklogOptions({ partitions: { live: 0.8, batch: 0.3 } }), /"partitions": shares must sum to at most 1/)
})

t.test('queue.timers (for tests) needs now, setTimer and clearTimer', async t => {
  const timers = { now: () => 0, setTimer: () => 1, clearTimer: () => {} }
  t.equal(resolveBacklogOptions({ queue: { timers } }).queue?.timers, timers)
  t.throws(() => resolveBacklogOptions({ queue: { timers: 5 } }), /"queue\.timers": expected an object/)
  t.throws(() => resolveBacklogOptions({ queue: { timers: { now: () => 0, setTimer: () => 1 } } }), /"queue\.timers\.clearTimer": expected a function, got null/)
})
