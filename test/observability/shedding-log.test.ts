import { test } from 'tap'
import { createSheddingLog, type LoggerLike } from '../../lib/observability/shedding-log'

interface Line { level: 'debug' | 'warn', obj: Record<string, unknown>, msg: string }

function recorder (debugEnabled?: boolean): { logger: LoggerLike, lines: Line[] } {
  const lines: Line[] = []
  const logger: LoggerLike = {
    debug (obj, msg) { lines.push({ level: 'debug', obj: obj as Record<string, unknown>, msg }) },
    warn (obj, msg) { lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }) }
  }
  if (debugEnabled !== undefined) logger.isLevelEnabled = (level) => level !== 'debug' || debugEnabled
  return { logger, lines }
}

test('sustained shedding warns once per interval with counts, limit and p50', async t => {
  const { logger, lines } = recorder()
  const clock = { ms: 0 }
  const stats = { limit: 17 }
  const o = createSheddingLog({ logger, stats, now: () => clock.ms, rttP50: () => 12.4 })
  // 1,234 rejections spread over 10 s, one every ~8.1 ms.
  for (let i = 0; i < 1234; i++) {
    clock.ms = i * (10_000 / 1233)
    o.onReject!(i % 2 === 0 ? 'limit' : 'queue-full', undefined)
  }
  t.equal(lines.length, 1)
  t.equal(lines[0].level, 'warn')
  t.equal(lines[0].msg, 'rejected 1,234 requests in the last 10 s; limit 17, rtt p50 12 ms')
  t.same(lines[0].obj, { rejected: 1234, seconds: 10, limit: 17, rttP50: 12.4, reasons: { limit: 617, 'queue-full': 617 } })

  // Shedding continues: the next warning waits a full interval, and counts only the new window.
  for (let i = 1; i <= 100; i++) {
    clock.ms = 10_000 + i * 100
    o.onReject!('limit', undefined)
  }
  t.equal(lines.length, 2, 'at most once per interval')
  t.match(lines[1].msg, /^rejected 100 requests in the last 10 s; limit 17/)
  t.same(lines[1].obj.reasons, { limit: 100 })
})

test('a burst shorter than the interval, then a pause, is not logged', async t => {
  const { logger, lines } = recorder()
  const clock = { ms: 0 }
  const o = createSheddingLog({ logger, stats: { limit: 5 }, now: () => clock.ms, interval: 1000 })
  for (let i = 0; i < 50; i++) { clock.ms = i * 10; o.onReject!('limit', undefined) } // 0..490 ms
  clock.ms = 2000 // pause of 1.5 s > interval: the episode restarts here
  o.onReject!('limit', undefined)
  clock.ms = 2900
  o.onReject!('limit', undefined)
  t.equal(lines.length, 0)
  clock.ms = 3000
  o.onReject!('limit', undefined)
  t.equal(lines.length, 1)
  t.equal(lines[0].msg, 'rejected 3 requests in the last 1 s; limit 5, rtt p50 n/a', 'the earlier burst is not counted')
  t.equal(lines[0].obj.rttP50, null)
})

test('small p50 keeps a decimal', async t => {
  const { logger, lines } = recorder()
  const clock = { ms: 0 }
  const o = createSheddingLog({ logger, stats: { limit: 5 }, now: () => clock.ms, interval: 10, rttP50: () => 1.26 })
  o.onReject!('limit', undefined)
  clock.ms = 10
  o.onReject!('limit', undefined)
  t.match(lines[0].msg, /rtt p50 1\.3 ms$/)
})

test('limit changes are logged at debug, and skipped when debug is off', async t => {
  const on = recorder(true)
  createSheddingLog({ logger: on.logger, stats: { limit: 1 } }).onLimitChange!(10, 12, 'sample')
  t.same(on.lines, [{ level: 'debug', obj: { oldLimit: 10, newLimit: 12, reason: 'sample' }, msg: 'concurrency limit 10 -> 12 (sample)' }])

  const off = recorder(false)
  createSheddingLog({ logger: off.logger, stats: { limit: 1 } }).onLimitChange!(10, 12, 'sample')
  t.same(off.lines, [])

  const plain = recorder() // no isLevelEnabled: always call debug, the logger filters
  createSheddingLog({ logger: plain.logger, stats: { limit: 1 } }).onLimitChange!(3, 2, 'drop')
  t.equal(plain.lines.length, 1)
})

test('default clock and interval', async t => {
  const { logger, lines } = recorder()
  const o = createSheddingLog({ logger, stats: { limit: 1 } })
  o.onReject!('limit', undefined)
  t.equal(lines.length, 0, 'one rejection is not sustained shedding')
})
