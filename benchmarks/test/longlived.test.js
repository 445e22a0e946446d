'use strict'

// Self-tests of the long-lived scenarios' arithmetic and of how their clients classify an
// exchange (ok / refused / open), over real sockets against the real routes. No timing is
// judged: the lifetimes are short only so the tests end quickly.

const { test } = require('node:test')
const assert = require('node:assert')
const Fastify = require('fastify')
const { summarize, startLongLivedClients } = require('../lib/longlived-clients')
const { prepareLongLived, installLongLivedRoute } = require('../lib/longlived-server')
const { longLivedScenarios, hungScenarios, KINDS, CAPACITY } = require('../lib/longlived-scenarios')
const { evaluateTargets, hungShedSeconds } = require('../lib/targets')
const { installStaticLimit } = require('../lib/static-limit')
const { SCENARIOS, protectionConfig } = require('../lib/scenarios')

test('summarize: counts and fractions of outcomes', () => {
  const s = summarize(['ok', 'ok', 'refused', 'open', 'failed', 'ok', 'refused', 'ok'])
  assert.deepStrictEqual({ ...s }, { attempts: 8, ok: 4, open: 1, refused: 2, failed: 1, refusedFraction: 0.25, failedFraction: 0.125 })
  assert.strictEqual(summarize([]).refusedFraction, null)
})

test('scenarios: every kind at 50 %, 80 %, 2x, 5x of 960 req/s, plus the cold start; the reference is 24', () => {
  const all = longLivedScenarios()
  assert.strictEqual(CAPACITY, 960)
  for (const key of Object.keys(KINDS)) {
    const rates = all.filter((s) => s.groups.includes(`ll-${key}`) && s.name !== 'll-cold-poll').map((s) => s.rate)
    assert.deepStrictEqual(rates, [480, 768, 1920, 4800], key)
  }
  const cold = all.find((s) => s.name === 'll-cold-poll')
  assert.strictEqual(cold.longLived.cold, true)
  assert.strictEqual(cold.rate, 768)
  assert.ok(all.every((s) => s.oracleLimit === 24 && s.longLived.clients === 40))
  assert.strictEqual(new Set(all.map((s) => s.name)).size, all.length)
  // The declared variant crosses to the server with its flag.
  const p = protectionConfig('gradient2+declared', all[0])
  assert.strictEqual(p.declareLongLived, true)
  assert.ok(SCENARIOS.some((s) => s.name === 'hung-downstream'))
})

const trialOf = (total, sidecar) => ({ total, sidecar, perSecond: [] })

test('longlived targets: below capacity ordinary and long-lived refusals; overloaded vs the reference', () => {
  const [under] = longLivedScenarios()
  const runs = [0.0005, 0.002, 0.0008].map((f, i) => ({ trial: trialOf({ rejectedFraction: f }, { refusedFraction: [0, 0.02, 0.005][i] }) }))
  const checks = evaluateTargets(under, runs)
  assert.deepStrictEqual(checks.map((c) => [c.value, c.pass]), [[0.0008, true], [0.005, true]])

  const over = longLivedScenarios().find((s) => s.name === 'll-sse-2x')
  const oracle = trialOf({ goodput: 900, admittedP99: 40 })
  const overRuns = [[880, 50], [800, 70], [860, 58]].map(([g, p]) => ({ trial: trialOf({ goodput: g, admittedP99: p }), oracle }))
  const [goodput, p99] = evaluateTargets(over, overRuns)
  assert.ok(Math.abs(goodput.value - 860 / 900) < 1e-12)
  assert.strictEqual(goodput.pass, true)
  assert.ok(Math.abs(p99.value - 58 / 40) < 1e-12)
  assert.strictEqual(p99.pass, true)
})

test('hung downstream: seconds from the first whole second after the hang until every later second sheds', () => {
  const [hung, capacity1] = hungScenarios((name, multiple, extra) => ({ name, server: {}, rate: 3200, capacity: 1600, ...extra }))
  const second = (rejected, offered = 3200) => ({ offered, rejected, offeredRate: offered })
  // Hang at 5 s; seconds 5 and 6 still admit too much, from 7 on at least 90 % is refused.
  const perSecond = [0, 0, 0, 0, 0, 100, 2000, 2900, 3100, 3190].map((r) => second(r))
  assert.strictEqual(hungShedSeconds({ perSecond }, hung), 2)
  assert.strictEqual(hungShedSeconds({ perSecond: perSecond.map(() => second(10)) }, hung), null)
  // One slot left: 100 req/s can still be served, so 90 % of the other 3,100 is enough.
  const threshold = 0.9 * (1 - 100 / 3200) * 3200
  const c1 = [0, 0, 0, 0, 0, threshold + 1, threshold + 1, threshold + 1, threshold + 1, threshold + 1].map((r) => second(r))
  assert.strictEqual(hungShedSeconds({ perSecond: c1 }, capacity1), 0)
  const [check] = evaluateTargets(hung, [{ trial: { perSecond } }])
  assert.strictEqual(check.pass, false)
  assert.strictEqual(check.value, 2)
})

test('static limit: a skipped route is neither limited nor counted', async () => {
  const app = Fastify()
  const state = installStaticLimit(app, 0, { skip: (request) => request.routeOptions.url === '/free' })
  app.get('/free', async () => 'ok')
  app.get('/work', async () => 'ok')
  assert.strictEqual((await app.inject('/free')).statusCode, 200)
  assert.strictEqual((await app.inject('/work')).statusCode, 503)
  assert.deepStrictEqual({ admitted: state.admitted, rejected: state.rejected, inflight: state.inflight }, { admitted: 0, rejected: 1, inflight: 0 })
  await app.close()
})

// Every kind over a real socket: admitted and ended (ok), refused (a static limit of 0 on the
// long-lived route), and aborted while open at stop.
for (const kind of ['sse', 'poll', 'download', 'upload', 'ws']) {
  test(`clients (${kind}): ok, refused and open are told apart`, async (t) => {
    async function serve (limit) {
      const app = Fastify()
      await prepareLongLived(app, { kind })
      if (limit !== null) installStaticLimit(app, limit)
      await installLongLivedRoute(app, { kind }, {}, {})
      await app.listen({ host: '127.0.0.1', port: 0 })
      t.after(() => app.close())
      return `http://127.0.0.1:${app.server.address().port}`
    }
    const spec = { kind, clients: 2, holdMs: 150, retryMs: 50, readBytesPerS: 4 * 1024 * 1024, bytes: 2048 }
    const run = (origin, s, untilMs) => new Promise((resolve) => {
      const clients = startLongLivedClients({ origin, spec: s, durationMs: untilMs, warmupMs: 0 })
      setTimeout(() => resolve(clients.stop()), untilMs + 400)
    })
    const ok = await run(await serve(null), spec, 500)
    assert.ok(ok.ok >= 2 && ok.refused === 0 && ok.failed === 0, JSON.stringify(ok))
    const refused = await run(await serve(0), spec, 300)
    assert.ok(refused.refused >= 2 && refused.ok === 0 && refused.failed === 0, JSON.stringify(refused))
    const open = await run(await serve(null), { ...spec, holdMs: 60000, readBytesPerS: 64 * 1024 }, 200)
    assert.ok(open.open >= 1 && open.failed === 0 && open.ok === 0, JSON.stringify(open))
  })
}

test('summary page: the four figures and the judged targets per scenario x protection; missing ones listed', () => {
  const { longLivedSummary } = require('../lib/longlived-summary')
  const scenarios = longLivedScenarios().filter((s) => s.name === 'll-sse-50' || s.name === 'll-sse-80')
  const doc = {
    meta: { date: 'd', machine: 'm', flags: 'f' },
    rows: [{ protection: 'gradient2', runs: 3, rejectedFraction: 0.0004, goodputVsOracle: 0.999, p99VsOracle: 1.02 }],
    targets: [{ protection: 'gradient2', checks: [{ label: 'ordinary ≤ 0.1 % refused', text: '0.040 %', pass: true }] }],
    trials: [0.01, 0, 0.02].map((f) => ({ protection: 'gradient2', sidecar: { refusedFraction: f } }))
  }
  const md = longLivedSummary(scenarios, { 'll-sse-50': doc })
  assert.match(md, /\| \[`ll-sse-50`\]\(\.\/ll-sse-50\.md\) \(3 runs\) \| gradient2 \| 0\.04 % \| 99\.9 % \| 1\.02x \| 1\.00 % \| ordinary ≤ 0\.1 % refused: 0\.040 % ✓ \|/)
  assert.match(md, /`ll-sse-80` \(not run\)/)
})
