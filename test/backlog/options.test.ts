import t from 'tap'
import { resolvePartitions, resolveQueue } from '../../lib/backlog/options'

const code = 'FST_CONCURRENCY_INVALID_OPTION'

t.test('nothing set: the default queue, no partitions; queue: false, no queue', async t => {
  const defaults = {
    waiting: { size: 400, timeout: 1000, order: 'fifo', standingTimeout: 5, interval: 250 }, maxEstimatedWait: undefined, deadlineHeader: undefined
  }
  t.same(resolveQueue(undefined), defaults, 'absent: the controlled-delay queue')
  t.same(resolveQueue({}), defaults, '{}: the same')
  t.equal(resolveQueue(false), undefined, 'false: requests at the limit are refused at once')
  t.equal(resolvePartitions(undefined), undefined)
})

t.test('queue explicit values', async t => {
  t.same(resolveQueue({ size: 5, timeout: 250, order: 'lifo' })?.waiting, { size: 5, timeout: 250, order: 'lifo', standingTimeout: 5, interval: 250 },
    'timeout and order set the burst mode; the standing mode stays')
  t.same(resolveQueue({ timeout: 250, standingTimeout: 20, interval: 100 })?.waiting, { size: 400, timeout: 250, order: 'fifo', standingTimeout: 20, interval: 100 })
  t.same(resolveQueue({ standingTimeout: false })?.waiting, { size: 400, timeout: 1000, order: 'fifo', standingTimeout: undefined, interval: 250 },
    'standingTimeout false: a plain queue')
  t.equal(resolveQueue({ size: 0 })?.waiting, undefined, 'size 0: no waiting room')
})

t.test('queue values are checked and named', async t => {
  t.throws(() => resolveQueue(true), { code, message: /"queue": expected an object/ })
  t.throws(() => resolveQueue({ size: -1 }), /"queue\.size"/)
  t.throws(() => resolveQueue({ size: 1.5 }), /"queue\.size"/)
  t.throws(() => resolveQueue({ timeout: -1 }), /"queue\.timeout"/)
  t.throws(() => resolveQueue({ order: 'random' }), /"queue\.order".*'lifo', 'fifo'/)
  t.throws(() => resolveQueue({ standingTimeout: 0 }), { code, message: /"queue\.standingTimeout": expected a number of ms in \(0, 2147483647\] or false, got 0/ })
  t.throws(() => resolveQueue({ standingTimeout: true }), /"queue\.standingTimeout".*or false, got boolean/)
  t.throws(() => resolveQueue({ standingTimeout: '5' }), /"queue\.standingTimeout"/)
  t.throws(() => resolveQueue({ interval: 0 }), { code, message: /"queue\.interval": expected a number in \(0, 2147483647\], got 0/ })
  t.throws(() => resolveQueue({ interval: '100' }), /"queue\.interval"/)
  t.throws(() => resolveQueue({ sise: 3 }), /"queue\.sise": unknown option/)
  t.throws(() => resolveQueue({ timers: {} }), /"queue\.timers": unknown option/, 'timers are a test seam, not an option')
})

t.test('maxEstimatedWait needs a waiting room and a positive bound', async t => {
  t.equal(resolveQueue({ maxEstimatedWait: 200 })?.maxEstimatedWait, 200)
  t.throws(() => resolveQueue({ size: 0, maxEstimatedWait: 200 }), { code, message: /"queue\.maxEstimatedWait": needs queue\.size >= 1/ })
  t.throws(() => resolveQueue({ maxEstimatedWait: 0 }), /"queue\.maxEstimatedWait".*\(0, /)
})

t.test('deadlineHeader is a header name, lower-cased', async t => {
  t.equal(resolveQueue({ deadlineHeader: 'X-Request-Budget-Ms' })?.deadlineHeader, 'x-request-budget-ms')
  t.equal(resolveQueue({ size: 0, deadlineHeader: 'x-budget' })?.deadlineHeader, 'x-budget', 'deadlines without a waiting room')
  t.throws(() => resolveQueue({ deadlineHeader: 'bad header' }), { code, message: /"queue\.deadlineHeader": expected a header name/ })
  t.throws(() => resolveQueue({ deadlineHeader: '' }), /"queue\.deadlineHeader"/)
  t.throws(() => resolveQueue({ deadlineHeader: 5 }), /got 5/)
})

t.test('partitions: shares and the chooser', async t => {
  const choose = (): string => 'live'
  const r = resolvePartitions({ shares: { live: 0.7, batch: 0.3 }, choose })
  t.same(r?.set.list.map(p => p.name), ['live', 'batch', 'default'])
  t.equal(r?.choose, choose)
  t.ok(resolvePartitions({ shares: { live: 1 } }), 'per-route partitions need no chooser')
  t.throws(() => resolvePartitions({ choose }), { code, message: /"partitions\.shares": required/ })
  t.throws(() => resolvePartitions({ shares: { live: 0.7 }, choose: 'live' }), /"partitions\.choose": expected a function/)
  t.throws(() => resolvePartitions({ shares: { live: 0.8, batch: 0.3 } }), /"partitions\.shares": shares must sum to at most 1/)
  t.throws(() => resolvePartitions({ live: 0.5 }), /"partitions\.live": unknown option; accepted: shares, choose/)
  t.throws(() => resolvePartitions(5), /"partitions": expected an object/)
})
