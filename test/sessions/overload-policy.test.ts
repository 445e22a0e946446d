import t from 'tap'
import fc from 'fast-check'
import { SessionOverloadPolicy } from '../../lib/sessions/overload-policy'

t.test('active sessions are admitted up to the limit, new ones only below limit - reserve', async t => {
  const p = new SessionOverloadPolicy({ minReserveRatio: 0.1 })
  t.equal(p.reserve(20), 2, 'floor(0.1 * 20) with no demand')
  t.equal(p.admits(false, 20, 17), true)
  t.equal(p.admits(false, 20, 18), false, 'new sessions stop at 18')
  t.equal(p.admits(true, 20, 19), true, 'active sessions may use the reserve')
  t.equal(p.admits(true, 20, 20), false)
})

t.test('the part of the reserve active sessions already use is not kept free twice', async t => {
  const p = new SessionOverloadPolicy({ headroom: 1, minReserveRatio: 0, decay: 0.0001 })
  p.admits(false, 20, 0)
  for (let i = 0; i < 6; i++) p.started(true)
  t.equal(p.reserve(20), 6)
  t.equal(p.admits(false, 20, 19), true, 'the 6 reserved slots are in use by active sessions')
  for (let i = 0; i < 2; i++) p.finished(true)
  t.equal(p.admits(false, 20, 18), false, '2 reserved slots unused: new ones stop at 20 - 2')
  t.equal(p.admits(false, 20, 17), true)
})

t.test('demand follows active-session in-flight at once; the reserve is headroom * demand', async t => {
  const p = new SessionOverloadPolicy({ headroom: 1.25, minReserveRatio: 0 })
  for (let i = 0; i < 8; i++) p.started(true)
  t.equal(p.demand, 8)
  t.equal(p.reserve(100), 10, 'ceil(1.25 * 8)')
  t.equal(p.reserve(5), 5, 'never more than the limit')
  p.started(false)
  p.finished(false)
  t.equal(p.activeInflight, 8, 'new-session requests are not counted')
})

t.test('demand decays on completions by decay / limit of the gap', async t => {
  const p = new SessionOverloadPolicy({ decay: 0.5, minReserveRatio: 0 })
  p.admits(false, 10, 0) // the policy learns the limit from its decisions
  for (let i = 0; i < 8; i++) p.started(true)
  p.finished(true)
  t.equal(p.demand, 8 - 1 * 0.05, 'gap 1 (8 vs 7 in flight), decayed by 0.5 / 10')
  for (let i = 0; i < 7; i++) p.finished(true)
  p.finished(true) // an extra release does not go negative
  t.equal(p.activeInflight, 0)
  // Gaps 1..8, each decayed by 0.05: about 8 - 0.05 * 36.
  t.ok(p.demand < 6.5 && p.demand > 6, `demand ${p.demand} decays slowly`)
  const before = p.demand
  p.admits(false, 10, 0)
  p.admits(true, 10, 0)
  t.equal(p.demand, before, 'decisions alone do not move it')
})

t.test('a refused active-session request raises demand by one, up to the limit', async t => {
  const p = new SessionOverloadPolicy({ minReserveRatio: 0 })
  t.equal(p.admits(true, 3, 3), false)
  t.equal(p.demand, 1)
  p.admits(true, 3, 3)
  p.admits(true, 3, 3)
  p.admits(true, 3, 3)
  t.equal(p.demand, 3, 'capped at the limit')
})

t.test('a reserve of the whole limit still lets one new request in while nothing is in flight', async t => {
  const p = new SessionOverloadPolicy()
  // One user fills a limit of 2 and is refused three times: demand reaches the limit.
  p.started(true)
  p.started(true)
  for (let i = 0; i < 3; i++) t.equal(p.admits(true, 2, 2), false)
  p.finished(true)
  p.finished(true)
  t.equal(p.reserve(2), 2, 'the whole limit is reserved')
  t.equal(p.admits(false, 2, 0), true, 'idle server: a new request gets in')
  t.equal(p.admits(false, 2, 1), false, 'but only into the last free slot of an otherwise reserved limit')
  p.started(false)
  p.finished(false)
  t.ok(p.demand < 2, `completions let demand decay: ${p.demand}`)
})

t.test('property: whenever an active-session request is refused, a new one is refused too', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 1000 }),
    fc.integer({ min: 0, max: 1200 }),
    fc.array(fc.boolean(), { maxLength: 50 }),
    (limit, inflight, history) => {
      const p = new SessionOverloadPolicy()
      for (const active of history) if (p.admits(active, limit, inflight % (limit + 1))) p.started(active)
      const activeOk = p.admits(true, limit, inflight)
      const newOk = p.admits(false, limit, inflight)
      return activeOk || !newOk
    }
  ))
  t.pass('no counterexample')
})

/**
 * Deterministic open-loop simulation: a fixed limit, every admitted request holds its slot for
 * `service` ticks, arrivals at `overload` times capacity, a share of them from active sessions
 * (chosen by a seeded LCG). With `withNew: false` the other arrivals are dropped from the
 * stream, giving the best active sessions could do with the service to themselves.
 */
function openLoop (opts: { overload: number, activeShare: number, seed: number, withNew: boolean }) {
  const limit = 20
  const service = 10
  const ticks = 20_000
  const p = new SessionOverloadPolicy()
  const ends: Array<{ at: number, active: boolean }> = []
  let rng = opts.seed
  const random = () => { rng = (rng * 1103515245 + 12345) % 2147483648; return rng / 2147483648 }
  const perTick = (limit / service) * opts.overload
  let inflight = 0
  const offered = { active: 0, other: 0 }
  const ok = { active: 0, other: 0 }
  let carry = 0
  for (let tick = 0; tick < ticks; tick++) {
    for (let i = ends.length - 1; i >= 0; i--) {
      if (ends[i].at <= tick) { p.finished(ends[i].active); inflight--; ends.splice(i, 1) }
    }
    carry += perTick
    for (; carry >= 1; carry--) {
      const active = random() < opts.activeShare
      if (!active && !opts.withNew) continue
      if (active) offered.active++; else offered.other++
      if (p.admits(active, limit, inflight)) {
        p.started(active)
        inflight++
        ends.push({ at: tick + service, active })
        if (active) ok.active++; else ok.other++
      }
    }
  }
  const capacity = (limit / service) * ticks
  return { active: ok.active / offered.active, other: ok.other / offered.other, used: (ok.active + ok.other) / capacity }
}

/**
 * Closed loop, like a load generator with fixed connections: `connections` clients, a share of
 * them active-session users; each sends a request, waits `service` ticks when admitted, or
 * retries on the next tick when refused.
 */
function closedLoop (opts: { connections: number, activeShare: number }) {
  const limit = 20
  const service = 10
  const p = new SessionOverloadPolicy()
  const clients = Array.from({ length: opts.connections }, (_, i) => ({ active: i < opts.connections * opts.activeShare, busyUntil: 0 }))
  let inflight = 0
  const tries = { active: 0, other: 0 }
  const ok = { active: 0, other: 0 }
  for (let tick = 0; tick < 5000; tick++) {
    for (const c of clients) {
      if (c.busyUntil === tick && tick > 0) { p.finished(c.active); inflight-- }
    }
    // Rotate the order each tick so no client is always first.
    for (let j = 0; j < clients.length; j++) {
      const c = clients[(j + tick) % clients.length]
      if (c.busyUntil > tick) continue
      if (c.active) tries.active++; else tries.other++
      if (p.admits(c.active, limit, inflight)) {
        p.started(c.active)
        inflight++
        c.busyUntil = tick + service
        if (c.active) ok.active++; else ok.other++
      }
    }
  }
  return { active: ok.active / tries.active, other: ok.other / tries.other }
}

t.test('closed loop, 3x overload (60 connections for a limit of 20), 30 % active users: >= 99 % success', async t => {
  const r = closedLoop({ connections: 60, activeShare: 0.3 })
  t.ok(r.active >= 0.99, `active-session success ${r.active.toFixed(4)}`)
  t.ok(r.other < 0.2, `new-session requests are the ones shed (${r.other.toFixed(3)})`)
})

t.test('open loop, 3x overload, 30 % active: new traffic costs active sessions < 1 point', async t => {
  // Active sessions alone offer 90 % of capacity here; with random arrivals some are lost even
  // with no other traffic (a loss system). The policy's job is that new users add no loss.
  const alone = openLoop({ overload: 3, activeShare: 0.3, seed: 42, withNew: false })
  const mixed = openLoop({ overload: 3, activeShare: 0.3, seed: 42, withNew: true })
  t.ok(mixed.active >= alone.active - 0.01, `with new traffic ${mixed.active.toFixed(4)}, alone ${alone.active.toFixed(4)}`)
})

t.test('open loop, 3x overload, 10 % active: >= 99 %, and new sessions get capacity left over', async t => {
  // Active sessions offer 6 of 20 slots. With random arrivals, a 99 % success needs about 12
  // slots kept for them (Erlang B(6 erlang, 12) ~ 0.5 %), so at most ~70 % of capacity can be
  // used at that success rate; the test asks for 65 %.
  const r = openLoop({ overload: 3, activeShare: 0.1, seed: 7, withNew: true })
  t.ok(r.active >= 0.99, `active-session success ${r.active.toFixed(4)}`)
  t.ok(r.other > 0.1, `new-session success ${r.other.toFixed(3)}`)
  t.ok(r.used >= 0.65, `capacity used ${r.used.toFixed(3)}`)
})

t.test('options are validated', async t => {
  t.throws(() => new SessionOverloadPolicy({ headroom: 0.5 }), /sessions\.overload\.headroom/)
  t.throws(() => new SessionOverloadPolicy({ decay: 0 }), /sessions\.overload\.decay/)
  t.throws(() => new SessionOverloadPolicy({ minReserveRatio: 2 }), /sessions\.overload\.minReserveRatio/)
  t.throws(() => new SessionOverloadPolicy({ typo: 1 } as never), /sessions\.overload\.typo/)
  t.throws(() => new SessionOverloadPolicy(null as never), /sessions\.overload/)
  t.match(new SessionOverloadPolicy(), { headroom: 1.25, decay: 0.2, minReserveRatio: 0.1 })
})
