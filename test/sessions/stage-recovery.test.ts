// After an overload of active sessions: the reserve kept for them goes once they are gone (or
// quiet), so new users on a server with room are not refused. Through the plugin, with a fixed
// limit, handlers held open until the test releases them, and one manual clock for the
// sessions and the limiter: every decision and every duration is the test's.
import t from 'tap'
import { heldApp as held, type HeldApp } from './held-app'

const IDLE_TIMEOUT = 1000
const SERVICE_MS = 25
const heldApp = (t: tap.Test, limit: number) => held(t, { limit, serviceMs: SERVICE_MS, sessions: { idleTimeout: IDLE_TIMEOUT } })

/** `users` session users overload a limit of `limit`: the limit is full of their requests and the rest are refused, `rounds` times. */
async function overload (t: tap.Test, s: HeldApp, users: number, limit: number, rounds: number) {
  const starts: number[] = []
  for (let i = 0; i < users; i++) starts.push(await s.serve(`old${i}`))
  t.same(starts, Array(users).fill(200), 'every user starts a session')
  let refused = 0
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < users; i++) if (await s.hold(`old${i}`) !== 'admitted') refused++
    if (s.app.concurrency.inflight !== limit) t.fail(`round ${round}: the limit is not full`)
    const codes = await s.releaseAll()
    if (codes.length !== limit || codes.some((c) => c !== 200)) t.fail(`round ${round}: ${codes.join(',')}`)
  }
  t.equal(refused, rounds * (users - limit), 'active sessions beyond the limit were refused')
  t.equal(s.app.concurrency.inflight, 0)
}

t.test('once the old sessions have expired, new users at half the limit are all admitted (limit 20, 40 users)', async t => {
  const s = await heldApp(t, 20)
  await overload(t, s, 40, 20, 5)
  s.clock.advance(IDLE_TIMEOUT)
  t.equal(s.app.concurrency.sessions?.active, 0, 'every old session has expired')
  for (let i = 0; i < 10; i++) t.equal(await s.hold(`new${i}`), 'admitted', `new user ${i} admitted on a server at ${i} of 20`)
  // The new users are active sessions of their own now: the minimum reserve (10 % of the
  // limit) is theirs, at the top of the limit only.
  for (let i = 10; i < 18; i++) t.equal(await s.hold(), 'admitted', `sessionless request at ${i} of 20`)
  t.equal(await s.hold(), 503, 'the last two slots are kept for the ten new sessions')
  t.equal(await s.hold('new0'), 'admitted', 'which may use them')
  t.equal(await s.hold('new1'), 'admitted')
  t.equal(await s.hold('late'), 503, 'the limit itself still refuses')
  t.same(await s.releaseAll(), Array(20).fill(200))
})

t.test('limit 2: a new user and a sessionless request sent together on an idle server both get in, round after round', async t => {
  const s = await heldApp(t, 2)
  await overload(t, s, 1 + 2, 2, 4)
  for (let round = 0; round < 4; round++) {
    s.clock.advance(IDLE_TIMEOUT)
    t.equal(await s.hold(`round${round}`), 'admitted', `round ${round}: the new user`)
    t.equal(await s.hold(), 'admitted', `round ${round}: the sessionless request`)
    t.same(await s.releaseAll(), [200, 200])
  }
})

t.test('an idle server does not keep the reserve for sessions that are still active but quiet', async t => {
  const s = await heldApp(t, 20)
  await overload(t, s, 40, 20, 5)
  // 20 service times of silence, well within idleTimeout: the 40 sessions are still active.
  s.clock.advance(20 * SERVICE_MS)
  t.equal(s.app.concurrency.sessions?.active, 40)
  for (let i = 0; i < 10; i++) t.equal(await s.hold(`new${i}`), 'admitted', `new user ${i} admitted at ${i} of 20 in flight`)
  t.same(await s.releaseAll(), Array(10).fill(200))
})

t.test('recovery takes at most one idleTimeout plus one service time, however few requests complete', async t => {
  const s = await heldApp(t, 20)
  await overload(t, s, 40, 20, 5)
  // The overload's last requests completed at the release above; one service time later...
  s.clock.advance(IDLE_TIMEOUT - SERVICE_MS)
  // ...and not a single completion since: only the clock moved. No session is active: the
  // whole limit is open to sessionless requests.
  const codes: Array<'admitted' | number> = []
  for (let i = 0; i < 20; i++) codes.push(await s.hold())
  t.same(codes, Array(20).fill('admitted'), 'every slot of the limit')
  t.equal(await s.hold(), 503, 'then the limit itself')
  t.same(await s.releaseAll(), Array(20).fill(200))
})

t.test('under overload active sessions still go first', async t => {
  const s = await heldApp(t, 10)
  for (let i = 0; i < 8; i++) t.equal(await s.serve(`a${i}`), 200)
  for (let i = 0; i < 8; i++) t.equal(await s.hold(`a${i}`), 'admitted')
  // 8 in flight, reserve ceil(1.25 * 8) = 10, of which 8 in use: the 2 left are kept for them.
  t.equal(await s.hold('n0'), 503, 'a new user is refused at 8 of 10')
  t.equal(await s.hold(), 503, 'so is a sessionless request')
  t.equal(await s.hold('a0'), 'admitted', 'active sessions take the two slots')
  t.equal(await s.hold('a1'), 'admitted')
  t.equal(await s.hold('a2'), 503, 'the limit itself')
  t.same(await s.releaseAll(), Array(10).fill(200))
})
