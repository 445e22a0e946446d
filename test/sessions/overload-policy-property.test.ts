// Properties of the active-sessions-first rule over random histories: sessions arriving,
// sending, going idle and expiring, overloads starting and ending. The policy runs with the real
// SessionTracker on a manual clock, wired as the sessions stage wires them; the test keeps its
// own record of which sessions are active (seen within idleTimeout) to judge every decision.
import t from 'tap'
import fc from 'fast-check'
import { SessionOverloadPolicy } from '../../lib/sessions/overload-policy'
import { SessionTracker } from '../../lib/sessions/tracker'
import { ManualClock } from './helpers'

type Command =
  | { kind: 'new' }
  | { kind: 'session', pick: number, count: number }
  | { kind: 'sessionless', count: number }
  | { kind: 'wait', ms: number }
  | { kind: 'overload', perSession: number, sessionless: number }
  | { kind: 'logout', pick: number }

const command: fc.Arbitrary<Command> = fc.oneof(
  { arbitrary: fc.constant({ kind: 'new' as const }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('session' as const), pick: fc.nat(), count: fc.integer({ min: 1, max: 4 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('sessionless' as const), count: fc.integer({ min: 1, max: 6 }) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 0, max: 3000 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('overload' as const), perSession: fc.integer({ min: 1, max: 3 }), sessionless: fc.integer({ min: 0, max: 40 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('logout' as const), pick: fc.nat() }), weight: 1 }
)

interface World {
  limit: number
  service: number
  idleTimeout: number
}

interface Violation { at: number, why: string }

/** Plays `commands`; returns the first decision that broke a property, or undefined. */
function play (world: World, commands: Command[]): Violation | undefined {
  const clock = new ManualClock(0)
  const tracker = new SessionTracker({ idleTimeout: world.idleTimeout, clock: clock.now, timers: clock })
  const policy = new SessionOverloadPolicy({}, tracker)
  const inflight: Array<{ end: number, active: boolean }> = []
  // The test's own record: key -> when the tracker last saw it.
  const seen = new Map<string, number>()
  const keys: string[] = []
  let nextUser = 0
  let violation: Violation | undefined

  const activeNow = (now: number): number => {
    let n = 0
    for (const at of seen.values()) if (now - at < world.idleTimeout) n++
    return n
  }
  const advance = (ms: number): void => {
    const until = clock.time + ms
    inflight.sort((a, b) => a.end - b.end)
    while (inflight.length > 0 && inflight[0].end <= until) {
      const done = inflight.shift() as { end: number, active: boolean }
      if (done.end > clock.time) clock.time = done.end
      policy.finished(done.active, world.service)
    }
    clock.time = until
  }
  const request = (key: string | undefined): void => {
    const now = clock.time
    const n = inflight.length
    const sessions = activeNow(now)
    const cls = key === undefined ? 'none' : tracker.classify(key, now)
    const active = cls === 'active'
    const modelActive = key !== undefined && seen.has(key) && now - (seen.get(key) as number) < world.idleTimeout
    if (active !== modelActive) violation ??= { at: now, why: `the tracker calls ${key} ${cls}, the record says ${modelActive ? 'active' : 'not active'}` }
    if (active) seen.set(key as string, now)
    const admitted = policy.admits(active, world.limit, n, now) && n < world.limit
    if (!admitted) {
      // Each active session could send a request within the next service time; nothing more is known.
      if (n + 1 <= world.limit - sessions) violation ??= { at: now, why: `${cls} request refused at ${n} in flight, limit ${world.limit}, ${sessions} active sessions` }
      if (sessions === 0 && n < world.limit) violation ??= { at: now, why: `refused with no active session at ${n} of ${world.limit}` }
      return
    }
    policy.started(active)
    if (cls === 'new') {
      tracker.admit(key as string, now)
      seen.set(key as string, now)
      keys.push(key as string)
    }
    inflight.push({ end: now + world.service, active })
  }

  for (const c of commands) {
    switch (c.kind) {
      case 'new': request(`u${nextUser++}`); break
      case 'session':
        if (keys.length === 0) break
        for (let i = 0; i < c.count; i++) request(keys[c.pick % keys.length])
        break
      case 'sessionless': for (let i = 0; i < c.count; i++) request(undefined); break
      case 'wait': advance(c.ms); break
      case 'overload':
        for (let r = 0; r < c.perSession; r++) for (const key of keys) request(key)
        for (let i = 0; i < c.sessionless; i++) request(undefined)
        break
      case 'logout': {
        if (keys.length === 0) break
        const key = keys[c.pick % keys.length]
        tracker.end(key)
        seen.delete(key)
        break
      }
    }
    if (violation !== undefined) return violation
  }
  return undefined
}

const world: fc.Arbitrary<World> = fc.record({
  limit: fc.integer({ min: 1, max: 30 }),
  service: fc.integer({ min: 1, max: 50 }),
  idleTimeout: fc.integer({ min: 1, max: 2000 })
})

t.test('property: no refusal while in-flight + 1 <= limit - active sessions; none at all once every session expired', async t => {
  fc.assert(fc.property(world, fc.array(command, { maxLength: 80 }), (w, commands) => {
    const v = play(w, commands)
    if (v !== undefined) throw new Error(`t=${v.at}: ${v.why}`)
  }), { numRuns: 300 })
  t.pass('no counterexample')
})

t.test('property: after any history, once every session has expired, new users fill the whole limit', async t => {
  fc.assert(fc.property(world, fc.array(command, { maxLength: 80 }), (w, commands) => {
    // The history, then one idleTimeout plus one service time of silence, then new users up to the limit and one more.
    const after: Command[] = [{ kind: 'wait', ms: w.idleTimeout + w.service }, ...Array.from({ length: w.limit + 1 }, () => ({ kind: 'new' as const }))]
    const v = play(w, [...commands, ...after])
    if (v !== undefined) throw new Error(`t=${v.at}: ${v.why}`)
  }), { numRuns: 200 })
  t.pass('no counterexample')
})

t.test('a drain that saw every session go idle leaves nothing reserved when the server resumes', async t => {
  const clock = new ManualClock(0)
  const tracker = new SessionTracker({ idleTimeout: 1000, clock: clock.now, timers: clock })
  const policy = new SessionOverloadPolicy({}, tracker)
  for (let i = 0; i < 10; i++) tracker.admit(`s${i}`, 0)
  // Overload by the ten sessions: the limit of 5 is theirs and their refusals raise the demand.
  for (let i = 0; i < 5; i++) policy.started(true)
  for (let i = 0; i < 20; i++) policy.admits(true, 5, 5, 0)
  clock.advance(10)
  for (let i = 0; i < 5; i++) policy.finished(true, 10)
  t.equal(policy.admits(false, 5, 1, 10), false, 'the sessions are active: the reserve holds')
  const drained = tracker.drain({ timeout: 60_000 })
  clock.advance(1000)
  t.same(await drained, { reason: 'idle', remaining: 0 })
  tracker.resume()
  for (let n = 0; n < 5; n++) t.equal(policy.admits(false, 5, n, clock.time), true, `admitted at ${n} of 5`)
})
