import t from 'tap'
import fc from 'fast-check'
import { SessionOverloadPolicy, type ActiveSessionCount } from '../../lib/sessions/overload-policy'

/** A session count the test sets. */
function sessions (n: number): ActiveSessionCount & { n: number } {
  return { n, activeSessions () { return this.n } }
}

t.test('active sessions are admitted up to the limit, new ones only below limit - reserve', async t => {
  const p = new SessionOverloadPolicy({ minReserveRatio: 0.1 }, sessions(100))
  t.equal(p.reserve(20, 0, 0), 2, 'floor(0.1 * 20) with no demand')
  t.equal(p.admits(false, 20, 17, 0), true)
  t.equal(p.admits(false, 20, 18, 0), false, 'new sessions stop at 18')
  t.equal(p.admits(true, 20, 19, 0), true, 'active sessions may use the reserve')
  t.equal(p.admits(true, 20, 20, 0), false)
})

t.test('the part of the reserve active sessions already use is not kept free twice', async t => {
  const p = new SessionOverloadPolicy({ headroom: 1, minReserveRatio: 0 }, sessions(100))
  for (let i = 0; i < 6; i++) p.started(true)
  t.equal(p.reserve(20, 0, 0), 6)
  t.equal(p.admits(false, 20, 19, 0), true, 'the 6 reserved slots are in use by active sessions')
  for (let i = 0; i < 2; i++) p.finished(true, Number.NaN)
  t.equal(p.admits(false, 20, 18, 0), false, '2 reserved slots unused: new ones stop at 20 - 2')
  t.equal(p.admits(false, 20, 17, 0), true)
})

t.test('demand follows active-session in-flight at once; the reserve is headroom * demand', async t => {
  const p = new SessionOverloadPolicy({ headroom: 1.25, minReserveRatio: 0 })
  for (let i = 0; i < 8; i++) p.started(true)
  t.equal(p.demand, 8)
  t.equal(p.reserve(100, 0, 0), 10, 'ceil(1.25 * 8)')
  t.equal(p.reserve(5, 0, 0), 5, 'never more than the limit')
  p.started(false)
  p.finished(false, 10)
  t.equal(p.activeInflight, 8, 'new-session requests are not counted')
})

t.test('demand decays on completions by decay / limit of the gap', async t => {
  const p = new SessionOverloadPolicy({ decay: 0.5, minReserveRatio: 0 })
  p.admits(false, 10, 0, 0) // the policy learns the limit from its decisions
  for (let i = 0; i < 8; i++) p.started(true)
  p.finished(true, Number.NaN)
  t.equal(p.demand, 8 - 1 * 0.05, 'gap 1 (8 vs 7 in flight), decayed by 0.5 / 10')
  for (let i = 0; i < 7; i++) p.finished(true, Number.NaN)
  p.finished(true, Number.NaN) // an extra release does not go negative
  t.equal(p.activeInflight, 0)
  // Gaps 1..8, each decayed by 0.05: about 8 - 0.05 * 36.
  t.ok(p.demand < 6.5 && p.demand > 6, `demand ${p.demand} decays slowly`)
  const before = p.demand
  p.admits(false, 10, 0, 0)
  p.admits(true, 10, 0, 0)
  t.equal(p.demand, before, 'decisions alone do not move it')
})

t.test('demand decays with the clock, by decay of the gap per service time on the free share of the limit', async t => {
  const unknown = new SessionOverloadPolicy({ minReserveRatio: 0 })
  for (let i = 0; i < 4; i++) unknown.admits(true, 100, 100, 0)
  t.equal(unknown.reserve(100, 0, 60_000), 5, 'no service time measured yet: nothing to decay on')

  const p = new SessionOverloadPolicy({ decay: 0.5, minReserveRatio: 0 })
  p.finished(false, 20) // one completion: service time 20 ms
  for (let i = 0; i < 8; i++) p.admits(true, 100, 100, 0)
  t.equal(p.demand, 8, 'eight refusals at the limit')
  p.reserve(100, 100, 1000)
  t.equal(p.demand, 8, 'at the limit time alone does not move it: completions do')
  p.reserve(100, 0, 1020)
  t.equal(p.demand, 4, 'one service time on an idle server: half the excess')
  p.reserve(100, 50, 1060)
  t.equal(p.demand, 2, 'two service times with half the limit free: as one idle service time')
  p.reserve(100, 0, 1070)
  t.equal(p.demand, 2 * Math.SQRT1_2, 'half a service time: by sqrt(0.5)')
  t.equal(p.reserve(100, 0, 1070), 2, 'decisions at the same instant do not move it')
  p.reserve(100, 0, 1150)
  t.equal(p.demand, 0, 'an excess under half a request is none')
  t.equal(p.reserve(100, 0, 1150), 0)
  p.started(true)
  p.started(true)
  p.reserve(100, 0, 5000)
  t.equal(p.demand, 2, 'it never decays below what active sessions use now')
})

t.test('a refused active-session request raises demand by one, up to the limit', async t => {
  const p = new SessionOverloadPolicy({ minReserveRatio: 0 })
  t.equal(p.admits(true, 3, 3, 0), false)
  t.equal(p.demand, 1)
  p.admits(true, 3, 3, 0)
  p.admits(true, 3, 3, 0)
  p.admits(true, 3, 3, 0)
  t.equal(p.demand, 3, 'capped at the limit')
})

t.test('what is kept free never exceeds one slot per active session', async t => {
  const count = sessions(0)
  const p = new SessionOverloadPolicy({}, count)
  for (let i = 0; i < 5; i++) t.equal(p.admits(true, 20, 20, 0), false)
  t.equal(p.reserve(20, 20, 0), 7, 'five refusals: ceil(1.25 * 5)')
  t.equal(p.admits(false, 20, 19, 0), true, 'no active session: nothing is kept, whatever the demand')
  count.n = 3
  t.equal(p.admits(false, 20, 16, 0), true)
  t.equal(p.admits(false, 20, 17, 0), false, 'three active sessions: three slots')
  count.n = 100
  t.equal(p.admits(false, 20, 12, 0), true)
  t.equal(p.admits(false, 20, 13, 0), false, 'many active sessions: the reserve itself, 7')
  count.n = 1
  t.equal(p.admits(false, 1, 0, 0), true, 'an idle server always takes a request, even with the whole limit reserved')
})

t.test('the session count is only asked for within the reserve', async t => {
  let asked = 0
  const p = new SessionOverloadPolicy({}, { activeSessions: () => { asked++; return 5 } })
  t.equal(p.admits(false, 20, 10, 0), true)
  t.equal(p.admits(true, 20, 19, 0), true)
  t.equal(asked, 0, 'below limit - reserve the answer cannot change')
  t.equal(p.admits(false, 20, 18, 0), false)
  t.equal(asked, 1)
})

t.test('property: whenever an active-session request is refused, a new one is refused too', async t => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 1000 }),
    fc.integer({ min: 0, max: 1200 }),
    fc.integer({ min: 0, max: 2000 }),
    fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 50 })), { maxLength: 50 }),
    (limit, inflight, active, history) => {
      const p = new SessionOverloadPolicy({}, sessions(active))
      let now = 0
      for (const [isActive, dt] of history) {
        now += dt
        if (p.admits(isActive, limit, inflight % (limit + 1), now)) p.started(isActive)
        else p.finished(isActive, dt)
      }
      const activeOk = p.admits(true, limit, inflight, now)
      const newOk = p.admits(false, limit, inflight, now)
      return activeOk || !newOk
    }
  ))
  t.pass('no counterexample')
})

/**
 * Deterministic open-loop simulation, one tick a millisecond: a fixed limit, every admitted
 * request holds its slot for `service` ticks, arrivals at `overload` times capacity, a share of
 * them from active sessions (chosen by a seeded LCG) of a population of 1000. With
 * `withNew: false` the other arrivals are dropped from the stream, giving the best active
 * sessions could do with the service to themselves.
 */
function openLoop (opts: { overload: number, activeShare: number, seed: number, withNew: boolean }) {
  const limit = 20
  const service = 10
  const ticks = 20_000
  const p = new SessionOverloadPolicy({}, sessions(1000))
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
      if (ends[i].at <= tick) { p.finished(ends[i].active, service); inflight--; ends.splice(i, 1) }
    }
    carry += perTick
    for (; carry >= 1; carry--) {
      const active = random() < opts.activeShare
      if (!active && !opts.withNew) continue
      if (active) offered.active++; else offered.other++
      if (p.admits(active, limit, inflight, tick)) {
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
  const clients = Array.from({ length: opts.connections }, (_, i) => ({ active: i < opts.connections * opts.activeShare, busyUntil: 0 }))
  const p = new SessionOverloadPolicy({}, sessions(clients.filter((c) => c.active).length))
  let inflight = 0
  const tries = { active: 0, other: 0 }
  const ok = { active: 0, other: 0 }
  for (let tick = 0; tick < 5000; tick++) {
    for (const c of clients) {
      if (c.busyUntil === tick && tick > 0) { p.finished(c.active, service); inflight-- }
    }
    // Rotate the order each tick so no client is always first.
    for (let j = 0; j < clients.length; j++) {
      const c = clients[(j + tick) % clients.length]
      if (c.busyUntil > tick) continue
      if (c.active) tries.active++; else tries.other++
      if (p.admits(c.active, limit, inflight, tick)) {
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
