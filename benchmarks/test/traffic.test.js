'use strict'

// Self-tests of the traffic-mix scenarios' arithmetic: capacities, phases, the expected-status
// accounting and the target checks. No timing.

const { test } = require('node:test')
const assert = require('node:assert')
const { trafficScenarios, mixCapacity } = require('../lib/traffic-scenarios')
const { SCENARIOS, protectionConfig } = require('../lib/scenarios')
const { evaluateTargets, limitAcrossShift } = require('../lib/targets')
const { createRecorder } = require('../lib/metrics')
const { createArrivalSchedule } = require('../lib/arrivals')
const { phasedPicker } = require('../lib/load-generator')

const close = (a, b, eps = 1e-6) => assert.ok(Math.abs(a - b) < eps, `${a} != ${b}`)
const byName = (name) => SCENARIOS.find((s) => s.name === name)

test('mix capacity: C / mean downstream time; health checks and expected 400s are free', () => {
  const work = [{ path: '/work', serviceMs: 10 }, { path: '/health', kind: 'health' }]
  close(mixCapacity(work, [{ path: '/work', weight: 0.99 }, { path: '/health', weight: 0.01 }]).capacity, 16000 / 9.9)
  const validated = [{ path: '/work', serviceMs: 10, requiredQuery: 'id' }]
  const errors = mixCapacity(validated, [{ path: '/work?id=1', weight: 0.8 }, { path: '/work', weight: 0.2, expectStatus: 400 }])
  close(errors.meanMs, 8)
  close(errors.capacity, 2000)
  const three = [{ path: '/a', serviceMs: 1 }, { path: '/b', serviceMs: 10 }, { path: '/c', serviceMs: 100 }]
  const clients = [{ path: '/a', weight: 6 }, { path: '/b', weight: 3 }, { path: '/c', weight: 1 }]
  close(mixCapacity(three, clients).meanMs, 13.6) // weights are normalised
  close(mixCapacity(three, clients, [0.1, 0.4, 0.5]).capacity, 16000 / 54.1)
  assert.throws(() => mixCapacity(three, [{ path: '/nope', weight: 1 }]), /no server route/)
})

test('traffic scenarios: five mixes x four loads, in the default set and the traffic group', () => {
  const traffic = trafficScenarios()
  assert.strictEqual(traffic.length, 20)
  for (const mix of ['health', 'errors', 'routes', 'shift', 'cold']) {
    for (const [suffix, load] of [['50', 0.5], ['80', 0.8], ['2x', 2], ['5x', 5]]) {
      const s = byName(`${mix}-${suffix}`)
      assert.ok(s, `${mix}-${suffix}`)
      assert.ok(!s.optIn)
      assert.ok(s.groups.includes('traffic') && s.groups.includes(mix))
      close(s.rate / s.capacity, load)
      assert.strictEqual(s.oracleLimit, 16)
      assert.strictEqual(s.targets, 'traffic')
      assert.deepStrictEqual(protectionConfig('oracle', s), { name: 'oracle', kind: 'static', limit: 16 })
      assert.ok(s.durationMs <= 16000)
    }
  }
  close(byName('health-2x').capacity, 16000 / 9.9)
  assert.deepStrictEqual(byName('health-2x').server.preload, ['/health'])
  close(byName('errors-5x').rate, 10000)
  close(byName('routes-2x').capacity, 16000 / 13.6)
  assert.deepStrictEqual(byName('cold-80').server.coldStart, { factor: 3, tauMs: 750 })
  const shift = byName('shift-80')
  close(shift.capacity, 16000 / 14.5)
  assert.strictEqual(shift.phases.length, 1)
  assert.strictEqual(shift.phases[0].atMs, shift.durationMs / 2)
  close(shift.phases[0].capacity, 16000 / 54.1)
  // Every client route has a server route: errors' invalid requests share /work with the valid ones.
  for (const s of traffic) {
    for (const r of s.routes) assert.ok(s.server.routes.some((x) => x.path === r.path.split('?')[0]), `${s.name} ${r.path}`)
  }
})

test('recorder: an expected non-2xx answer is good (not an error); other statuses are not', () => {
  const r = createRecorder({ durationMs: 2000, warmupMs: 1000, sloMs: 100, classes: ['valid', 'invalid'] })
  r.offered(1100, 1); r.response(1100, 400, 2, 1, 400) // expected: good
  r.offered(1200, 1); r.response(1200, 400, 500, 1, 400) // expected but beyond the SLO
  r.offered(1300, 1); r.response(1300, 503, 1, 1, 400) // shed: a rejection all the same
  r.offered(1400, 0); r.response(1400, 400, 2, 0) // not expected: other status
  r.offered(1500, 0); r.response(1500, 200, 20, 0)
  const { total, classes } = r.summarize()
  assert.strictEqual(total.expected, 2)
  assert.strictEqual(total.good, 2)
  assert.strictEqual(total.ok, 1)
  assert.strictEqual(total.rejected, 1)
  assert.strictEqual(total.otherStatus, 1)
  assert.strictEqual(total.goodput, 2)
  assert.strictEqual(classes.invalid.goodFraction, 1 / 3)
  assert.strictEqual(classes.valid.goodFraction, 0.5)
  assert.ok(Math.abs(total.admittedP99 - 20) < 0.1) // admitted latencies are 2xx only
})

test('arrival phases: the rate steps at each phase; bursts cannot be combined', () => {
  const s = createArrivalSchedule({ mode: 'fixed', rate: 1000, phases: [{ atMs: 1000, rate: 100 }], durationMs: 2000 })
  const times = []
  for (let t = s.next(); t !== Infinity; t = s.next()) times.push(t)
  assert.strictEqual(times.filter((t) => t < 1000).length, 1000)
  assert.ok(Math.abs(times.filter((t) => t >= 1000).length - 100) <= 1)
  assert.throws(() => createArrivalSchedule({ mode: 'bursts', rate: 10, burstFactor: 2, burstMs: 100, burstEveryMs: 1000, phases: [{ atMs: 1, rate: 5 }], durationMs: 10 }), /phases and bursts/)
})

test('phased picker: weights switch at the phase time, classes keep their indices', () => {
  const routes = [{ path: '/cheap', weight: 0.9, class: 'cheap' }, { path: '/expensive', weight: 0.1, class: 'expensive' }]
  const pick = phasedPicker(routes, [{ atMs: 100, weights: [0.1, 0.9] }], 3, 'random')
  const share = (tMs) => {
    let n = 0
    for (let i = 0; i < 5000; i++) if (pick(tMs).path === '/expensive') n++
    return n / 5000
  }
  assert.ok(Math.abs(share(50) - 0.1) < 0.03)
  const after = share(150)
  assert.ok(Math.abs(after - 0.9) < 0.03, String(after))
  const expensive = Array.from({ length: 20 }, () => pick(150)).find((spec) => spec.path === '/expensive')
  assert.strictEqual(expensive.classIndex, 1)
})

test('traffic targets: below capacity only the rejected share; overloaded as the oracle', () => {
  const total = (o) => ({ total: { rejectedFraction: 0, goodput: 1000, admittedP99: 20, rejectionP99: 2, ...o } })
  const under = { targets: 'traffic', rate: 800, capacity: 1600 }
  const [rejected, ...rest] = evaluateTargets(under, [{ trial: total({ rejectedFraction: 0.0005 }), oracle: total() }])
  assert.strictEqual(rest.length, 0)
  assert.strictEqual(rejected.pass, true)
  assert.strictEqual(evaluateTargets(under, [{ trial: total({ rejectedFraction: 0.002 }), oracle: total() }])[0].pass, false)

  const over = { targets: 'traffic', rate: 3200, capacity: 1600 }
  const [goodput, p99, rejection] = evaluateTargets(over, [{ trial: total({ goodput: 940, admittedP99: 31 }), oracle: total() }])
  close(goodput.value, 0.94)
  assert.strictEqual(goodput.pass, false)
  close(p99.value, 1.55)
  assert.strictEqual(p99.pass, false)
  assert.strictEqual(rejection.pass, true)
  // Slow rejections pass only when the oracle's were nearly as slow (a loaded box).
  const slow = (oracleP99) => evaluateTargets(over, [{ trial: total({ rejectionP99: 30 }), oracle: total({ rejectionP99: oracleP99 }) }])[2]
  assert.strictEqual(slow(25).pass, true)
  assert.strictEqual(slow(5).pass, false)
  assert.strictEqual(slow(null).pass, false)
})

test('mix shift: the limit in the last seconds of each phase, after / before', () => {
  const samples = []
  for (let t = 0; t < 16000; t += 100) samples.push({ t, limit: t < 8000 ? 20 : 12 })
  assert.deepStrictEqual(limitAcrossShift(samples, 8000, 16000), { before: 20, after: 12, ratio: 0.6 })
  // Only the last 3 s of each phase count: a dip early in phase 2 does not.
  const recovered = samples.map((s) => ({ ...s, limit: s.t < 8000 ? 20 : s.t < 13000 ? 5 : 19 }))
  close(limitAcrossShift(recovered, 8000, 16000).ratio, 0.95)
  // A shortened run: windows of half a phase.
  close(limitAcrossShift(samples.filter((s) => s.t < 6000).map((s) => ({ ...s, limit: s.t < 3000 ? 16 : s.t < 4500 ? 1 : 16 })), 3000, 6000).ratio, 1)
  assert.strictEqual(limitAcrossShift(samples.map((s) => ({ ...s, limit: null })), 8000, 16000), null)

  const scenario = { targets: 'traffic', rate: 880, capacity: 1100, durationMs: 16000, phases: [{ atMs: 8000 }] }
  const checks = evaluateTargets(scenario, [{ trial: { total: { rejectedFraction: 0 }, samples }, oracle: null }])
  assert.strictEqual(checks.length, 2)
  assert.strictEqual(checks[1].pass, false)
  assert.strictEqual(checks[1].format(checks[1].value), '0.60x (20 → 12)')
  const steady = samples.map((s) => ({ ...s, limit: 16 + (s.t % 300 === 0 ? 2 : 0) }))
  assert.strictEqual(evaluateTargets(scenario, [{ trial: { total: { rejectedFraction: 0 }, samples: steady }, oracle: null }])[1].pass, true)
})

test('traffic summary: each mix\'s loads x protections, every check with its mark; missing runs listed', () => {
  const { trafficSummary } = require('../lib/traffic-summary')
  const scenarios = trafficScenarios().filter((s) => s.groups.includes('health'))
  const doc = {
    meta: { date: 'D', machine: 'M', flags: 'F' },
    rows: [{ protection: 'oracle', runs: 3 }],
    targets: [
      { protection: 'oracle', checks: [{ label: '≤ 0.1 % rejected', pass: true, text: '0.000 %' }] },
      { protection: 'gradient2', checks: [{ label: '≤ 0.1 % rejected', pass: false, text: '17.300 %' }] }
    ]
  }
  const md = trafficSummary(scenarios, { 'health-50': doc })
  assert.match(md, /## health/)
  assert.match(md, /\| \[`health-50`\]\(\.\/health-50\.md\) \(3 runs\) \| rejected 0\.000 % ✓ \| rejected 17\.300 % ✗ \| – \|/)
  assert.match(md, /\| `health-5x` \(not run\) \|/)
  assert.match(md, /- D, M; F/)
})
