'use strict'

// Self-tests of the benchmark harness's pure parts (`npm run bench:test`). They check the
// arithmetic the reported numbers rest on; they measure no performance.

const { test } = require('node:test')
const assert = require('node:assert')
const { createArrivalSchedule, burstRate } = require('../lib/arrivals')
const { createRecorder } = require('../lib/metrics')
const { secondsUntilSettled, evaluateTargets, median } = require('../lib/targets')
const { createDownstreamPool } = require('../lib/downstream-pool')
const { renderChart, niceTicks } = require('../lib/svg-chart')
const { routePicker, trafficClasses } = require('../lib/load-generator')
const { SCENARIOS, protectionConfig } = require('../lib/scenarios')

function drain (schedule) {
  const times = []
  for (let t = schedule.next(); t !== Infinity; t = schedule.next()) times.push(t)
  return times
}

test('fixed schedule: exact spacing and count', () => {
  const times = drain(createArrivalSchedule({ mode: 'fixed', rate: 1000, durationMs: 50 }))
  assert.strictEqual(times.length, 50)
  assert.strictEqual(times[0], 0)
  assert.ok(Math.abs(times[49] - 49) < 1e-9)
})

test('poisson schedule: reproducible for a seed, mean rate close to the target', () => {
  const a = drain(createArrivalSchedule({ mode: 'poisson', rate: 2000, durationMs: 10000, seed: 3 }))
  const b = drain(createArrivalSchedule({ mode: 'poisson', rate: 2000, durationMs: 10000, seed: 3 }))
  assert.deepStrictEqual(a, b)
  assert.ok(Math.abs(a.length - 20000) < 600, `got ${a.length} arrivals`)
})

test('bursts: burst rate is factor x mean, long-run mean preserved', () => {
  const opts = { rate: 800, burstFactor: 2, burstMs: 100, burstEveryMs: 1000 }
  assert.strictEqual(burstRate(50, opts), 1600)
  const base = burstRate(500, opts)
  assert.ok(Math.abs(0.1 * 1600 + 0.9 * base - 800) < 1e-9)
  const times = drain(createArrivalSchedule({ mode: 'bursts', durationMs: 20000, seed: 5, ...opts }))
  assert.ok(Math.abs(times.length - 16000) < 600, `got ${times.length} arrivals`)
  const inBursts = times.filter((t) => t % 1000 < 100).length
  assert.ok(inBursts > 0.17 * times.length && inBursts < 0.23 * times.length, `${inBursts} in bursts`)
  assert.throws(() => createArrivalSchedule({ mode: 'bursts', durationMs: 1000, ...opts, burstFactor: 10 }), /base rate/)
})

test('recorder: buckets by scheduled second, warm-up excluded from totals, goodput uses the SLO', () => {
  const r = createRecorder({ durationMs: 3000, warmupMs: 1000, sloMs: 100 })
  r.offered(500); r.sent(500, 0); r.response(500, 200, 10) // warm-up: only in second 0
  r.offered(1500); r.sent(1500, 2); r.response(1500, 200, 50) // good
  r.offered(1600); r.sent(1600, 0); r.response(1600, 200, 150) // 2xx beyond SLO
  r.offered(2500); r.sent(2500, 0); r.response(2500, 503, 1)
  r.offered(2600); r.sent(2600, 0); r.failure(2600, true)
  r.offered(2700); r.sent(2700, 0); r.failure(2700, false)
  const { perSecond, total } = r.summarize()
  assert.deepStrictEqual(perSecond.map((s) => s.offered), [1, 2, 3])
  assert.strictEqual(total.offered, 5)
  assert.strictEqual(total.ok, 2)
  assert.strictEqual(total.good, 1)
  assert.strictEqual(total.rejected, 1)
  assert.strictEqual(total.timeouts, 1)
  assert.strictEqual(total.errors, 1)
  assert.strictEqual(total.goodput, 0.5) // 1 good request over a 2 s measured window
  assert.strictEqual(total.rejectedFraction, 0.2)
  assert.ok(Math.abs(total.admittedP99 - 150) < 0.2)
  assert.strictEqual(perSecond[2].admittedP99, null)
})

test('secondsUntilSettled: first second from which the predicate holds to the end', () => {
  const seconds = [5, 5, 1, 5, 1, 1, 1].map((v) => ({ v }))
  assert.strictEqual(secondsUntilSettled(seconds, 1, 7, (s) => s.v < 2), 3)
  assert.strictEqual(secondsUntilSettled(seconds, 0, 2, (s) => s.v < 2), null)
})

test('targets: ratios against the same run\'s oracle, median over runs', () => {
  const t = (goodput, p99, rej) => ({ total: { goodput, admittedP99: p99, rejectionP99: rej } })
  const runs = [
    { trial: t(1500, 20, 2), oracle: t(1550, 15, 1) },
    { trial: t(1400, 30, 3), oracle: t(1600, 15, 1) },
    { trial: t(1590, 16, 20), oracle: t(1600, 16, 1) }
  ]
  const [goodput, p99, rejection] = evaluateTargets({ targets: 'downstream' }, runs)
  assert.ok(Math.abs(goodput.value - 1500 / 1550) < 1e-9)
  assert.strictEqual(goodput.pass, true)
  assert.ok(Math.abs(p99.value - 20 / 15) < 1e-9)
  assert.strictEqual(rejection.value, 3)
  assert.strictEqual(median([3, null, 1]), 2)
})

test('downstream pool: FIFO waiting beyond the slots, capacity changes apply to new grants', async () => {
  const pool = createDownstreamPool(2)
  const order = []
  await pool.acquire(); await pool.acquire()
  const third = pool.acquire().then(() => order.push(3))
  const fourth = pool.acquire().then(() => order.push(4))
  assert.strictEqual(pool.queued, 2)
  pool.setSlots(1)
  pool.release() // busy 1 = slots 1: nobody is granted
  await Promise.resolve()
  assert.deepStrictEqual(order, [])
  pool.setSlots(3) // room for both waiters, in order
  await Promise.all([third, fourth])
  assert.deepStrictEqual(order, [3, 4])
  assert.strictEqual(pool.busy, 3)
})

test('route picker: weighted and reproducible', () => {
  const pick = routePicker([{ path: '/a', weight: 0.8 }, { path: '/b', weight: 0.2 }], 9)
  const counts = { '/a': 0, '/b': 0 }
  for (let i = 0; i < 10000; i++) counts[pick().path]++
  assert.ok(counts['/b'] > 1800 && counts['/b'] < 2200, JSON.stringify(counts))
})

test('route picker: interleaved spreads each route evenly; sessions take turns; classes are indexed', () => {
  const routes = [
    { path: '/w', weight: 0.3, class: 'session', sessions: { header: 'x-s', count: 3 } },
    { path: '/w', weight: 0.7, class: 'other' }
  ]
  assert.deepStrictEqual(trafficClasses(routes), ['session', 'other'])
  const pick = routePicker(routes, 1, 'interleaved')
  const picks = Array.from({ length: 20 }, pick)
  const sessionPicks = picks.map((p, i) => [p, i]).filter(([p]) => p.classIndex === 0)
  // 3 of every 10, never two session requests in a row, keys in turn s0, s1, s2, s0, ...
  assert.strictEqual(sessionPicks.length, 6)
  for (let k = 1; k < sessionPicks.length; k++) assert.ok(sessionPicks[k][1] - sessionPicks[k - 1][1] >= 3)
  assert.deepStrictEqual(sessionPicks.map(([p]) => p.headers['x-s']), ['s0', 's1', 's2', 's0', 's1', 's2'])
  assert.strictEqual(picks.find((p) => p.classIndex === 1).headers, undefined)
  assert.strictEqual(routePicker([{ path: '/a', weight: 1 }], 1)().classIndex, -1)
})

test('recorder: per-class totals beside the overall ones; success = 2xx within the SLO / offered', () => {
  const r = createRecorder({ durationMs: 2000, warmupMs: 1000, sloMs: 100, classes: ['critical', 'batch'] })
  r.offered(500, 0); r.response(500, 200, 10, 0) // warm-up: in no class total
  r.offered(1100, 0); r.response(1100, 200, 10, 0)
  r.offered(1200, 0); r.response(1200, 200, 500, 0) // 2xx beyond the SLO: not a success
  r.offered(1300, 1); r.response(1300, 503, 2, 1)
  r.offered(1400, 1); r.failure(1400, true, 1)
  r.offered(1500); r.response(1500, 200, 5) // untagged: totals only
  const { total, classes } = r.summarize()
  assert.strictEqual(total.offered, 5)
  assert.strictEqual(classes.critical.offered, 2)
  assert.strictEqual(classes.critical.goodFraction, 0.5)
  assert.strictEqual(classes.batch.rejectedFraction, 0.5)
  assert.strictEqual(classes.batch.timeouts, 1)
  assert.strictEqual(classes.batch.goodFraction, 0)
  assert.ok(Math.abs(classes.batch.rejectionP99 - 2) < 0.01)
})

test('targets: a class below 99 % fails; scenarios without classes are n/a', () => {
  const trial = (good, goodput) => ({ total: { goodput }, classes: { critical: { goodFraction: good } } })
  const scenario = { targets: 'class', keyClass: 'critical' }
  const [pass, goodput] = evaluateTargets(scenario, [{ trial: trial(0.995, 1500), oracle: trial(1, 1560) }])
  assert.strictEqual(pass.pass, true)
  assert.strictEqual(goodput.pass, true)
  const [fail] = evaluateTargets(scenario, [{ trial: trial(0.98, 1500), oracle: null }])
  assert.strictEqual(fail.pass, false)
  const [none] = evaluateTargets(scenario, [{ trial: { total: {} }, oracle: null }])
  assert.strictEqual(none.pass, null)
})

test('scenarios: every variant a scenario names is a plugin config; default matrix stays short', () => {
  for (const s of SCENARIOS.filter((x) => x.variants)) {
    for (const name of s.protections) {
      const p = protectionConfig(name, s)
      if (s.variants[name]) assert.strictEqual(p.kind, 'plugin')
    }
    assert.ok(s.durationMs <= 10000, s.name)
  }
  assert.throws(() => protectionConfig('nope', SCENARIOS[0]), /unknown protection/)
})

test('svg chart: nice ticks, gaps for missing values, escaped text', () => {
  assert.deepStrictEqual(niceTicks(0, 1600), [0, 500, 1000, 1500, 2000])
  const svg = renderChart({
    title: 'a < b',
    panels: [{ title: 'p99', log: true, series: [{ name: 'x&y', points: [[0, 10], [1, null], [2, 1000]] }] }]
  })
  assert.match(svg, /^<svg /)
  assert.match(svg, /a &lt; b/)
  assert.match(svg, /x&amp;y/)
  // [0, 10] and [2, 1000] are separated by a missing value: two isolated points, no line.
  assert.strictEqual(svg.match(/<circle/g).length, 2)
  assert.strictEqual(svg.match(/<polyline/g), null)
})

test('targets: a shift that never recovers fails; no 503s is n/a, not a pass', () => {
  const second = (admittedP99, goodput) => ({ admittedP99, goodput })
  const perSecond = [...Array(10)].map(() => second(15, 1500)).concat([...Array(10)].map(() => second(80, 700)), [...Array(10)].map(() => second(15, 1000)))
  const scenario = { targets: 'shift', serviceMs: 10, capacity: 1600, shift: { dropAtMs: 10000, restoreAtMs: 20000 } }
  const [p99, goodput] = evaluateTargets(scenario, [{ trial: { perSecond }, oracle: null }])
  assert.strictEqual(p99.pass, false)
  assert.strictEqual(p99.format(p99.value), 'never')
  assert.strictEqual(goodput.pass, false)
  const [, , rejection] = evaluateTargets({ targets: 'downstream' }, [{ trial: { total: { goodput: 0, admittedP99: null, rejectionP99: null } }, oracle: null }])
  assert.strictEqual(rejection.pass, null)
})

test('connection pool: rotate hands out idle sockets in turn; the default reuses the one freed last', async () => {
  const http = require('node:http')
  const { createConnectionPool } = require('../lib/connection-pool')
  const server = http.createServer((req, res) => res.end(String(req.socket.remotePort)))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  const order = async (rotate) => {
    const used = []
    const pool = createConnectionPool(origin, { connections: 3, connectTimeoutMs: 2000, rotate, onWritten: (e) => used.push(e.client) })
    await pool.warmUp('/')
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve, reject) => pool.request({ path: '/', headers: {} }, 0, (e, err) => err ? reject(err) : resolve()))
      await new Promise((resolve) => setImmediate(resolve)) // the socket goes back on the next tick
    }
    await pool.destroy()
    return used
  }
  const rotated = await order(true)
  assert.equal(new Set(rotated.slice(0, 3)).size, 3, 'three different sockets in turn')
  assert.deepEqual(rotated.slice(3), rotated.slice(0, 3), 'then the same turn again')
  const lifo = await order(false)
  assert.equal(new Set(lifo).size, 1, 'the default: the socket freed last, every time')
  server.close()
})
