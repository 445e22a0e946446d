import t from 'tap'
import fc from 'fast-check'
import {
  estimateWait, deadlineUnreachable, parseDeadlineHeader, retryAfterSeconds, ServiceTimeEwma, MAX_DEADLINE_MS
} from '../../lib/limiter/wait-estimate'

t.test('estimated wait = position * service time / limit', async t => {
  t.equal(estimateWait(0, 10, 100), 10, 'first in line: one tenth of a service time')
  t.equal(estimateWait(9, 10, 100), 100, 'tenth in line: one full service time')
  t.equal(estimateWait(49, 20, 40), 100)
  t.equal(estimateWait(5, 10, 0), 0, 'no latency measured yet: no basis to shed')
  t.equal(estimateWait(5, 10, Number.NaN), 0)
  t.equal(estimateWait(5, 0, 100), 0, 'a zero limit cannot divide')
})

t.test('property: the estimate grows with the queue and the service time, shrinks with the limit', async t => {
  fc.assert(fc.property(fc.nat(1000), fc.integer({ min: 1, max: 1000 }), fc.double({ min: 0.01, max: 1e4, noNaN: true }), (ahead, limit, rtt) => {
    const w = estimateWait(ahead, limit, rtt)
    return w > 0 && estimateWait(ahead + 1, limit, rtt) > w && estimateWait(ahead, limit + 1, rtt) < w &&
      estimateWait(ahead, limit, rtt * 2) > w
  }))
  t.pass()
})

t.test('a deadline is unreachable when wait + service time exceeds the budget', async t => {
  t.equal(deadlineUnreachable(100, 30, 70), false, 'exactly enough')
  t.equal(deadlineUnreachable(100, 31, 70), true)
  t.equal(deadlineUnreachable(100, 0, 101), true, 'even with no wait, if one service time does not fit')
  t.equal(deadlineUnreachable(0, 0, 0), true, 'a spent budget, even on a cold start')
  t.equal(deadlineUnreachable(1, 0, 0), false, 'cold start: only a spent budget is refused')
})

t.test('deadline header: plain non-negative decimal ms are accepted', async t => {
  t.equal(parseDeadlineHeader('250'), 250)
  t.equal(parseDeadlineHeader(' 250 '), 250, 'surrounding whitespace')
  t.equal(parseDeadlineHeader('0'), 0, 'zero is valid: the budget is spent')
  t.equal(parseDeadlineHeader('12.5'), 12.5)
  t.equal(parseDeadlineHeader(String(MAX_DEADLINE_MS)), MAX_DEADLINE_MS)
})

t.test('deadline header: malformed values are ignored, as if absent', async t => {
  for (const bad of ['-5', 'NaN', 'Infinity', '1e3', '0x10', '+5', '5ms', '', '   ', '.5', '5.', '1 000',
    String(MAX_DEADLINE_MS + 1), '9'.repeat(30), '1'.repeat(10000)]) {
    t.equal(parseDeadlineHeader(bad), undefined, JSON.stringify(bad.slice(0, 40)))
  }
  t.equal(parseDeadlineHeader(undefined), undefined, 'absent')
  t.equal(parseDeadlineHeader(['100', '200']), undefined, 'repeated: ambiguous')
})

t.test('property: any string parses to undefined or a finite budget in [0, MAX]', async t => {
  fc.assert(fc.property(fc.string(), s => {
    const v = parseDeadlineHeader(s)
    return v === undefined || (Number.isFinite(v) && v >= 0 && v <= MAX_DEADLINE_MS)
  }))
  t.pass()
})

t.test("Retry-After 'auto': whole seconds from the estimate, at least 1, capped", async t => {
  t.equal(retryAfterSeconds(0), 1)
  t.equal(retryAfterSeconds(1), 1)
  t.equal(retryAfterSeconds(1000), 1)
  t.equal(retryAfterSeconds(1001), 2)
  t.equal(retryAfterSeconds(59_500), 60)
  t.equal(retryAfterSeconds(10 * 60_000), 60, 'default cap 60 s')
  t.equal(retryAfterSeconds(10 * 60_000, 300), 300)
  t.equal(retryAfterSeconds(Number.NaN), 1)
  t.equal(retryAfterSeconds(Infinity), 60)
})

t.test('service-time EWMA: first sample seeds it, half-life in samples, bad samples skipped', async t => {
  const e = new ServiceTimeEwma(1) // half-life of one sample: alpha = 0.5
  t.equal(e.value, 0)
  e.update(100)
  t.equal(e.value, 100)
  e.update(200)
  t.equal(e.value, 150)
  e.update(Number.NaN)
  e.update(-1)
  e.update(Infinity)
  t.equal(e.value, 150)
  t.equal(e.samples, 2)

  const slow = new ServiceTimeEwma(20)
  slow.update(10)
  for (let i = 0; i < 20; i++) slow.update(110)
  t.ok(Math.abs(slow.value - 60) < 1e-9, `after one half-life the old value weighs half: ${slow.value}`)
  t.throws(() => new ServiceTimeEwma(0.5), { code: 'FST_CONCURRENCY_INVALID_OPTION', message: /halfLife/ })
})
