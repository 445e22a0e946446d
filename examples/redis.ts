// Sessions with one `maxSessions` cap for the whole cluster: every process registers its seats in
// the same Redis sorted set through RedisStore (ioredis). Start two of these on different ports
// against one Redis and the cap holds across both.
//
// The session key is the user id from a VERIFIED token, never a raw header: a client that could
// choose its key freely would either pose as an active session (skip ahead of new users under
// overload) or fill every seat with invented sessions. Here the token is `<user>.<HMAC-SHA256 of
// user>` signed with a secret all processes share, checked with node:crypto in constant time; in
// your app use what you already verify (a signed session cookie, a JWT's `sub`, ...).
//
// What a client sees: `GET /login/alice` hands out a token (a real app would check a password
// first). `GET /` with `Authorization: Bearer <token>` is served as alice and takes one of the
// seats; a missing or forged token counts as no session (served as usual, but not protected under
// overload). Once `maxSessions` users hold a seat anywhere in the cluster, a new user gets 503 +
// Retry-After (`FST_CONCURRENCY_SESSION_REFUSED`, reason `session-cap`) until a seat goes idle
// (`idleTimeout`); users who already hold a seat keep being served, on any process.
//
// If Redis is unreachable at start, this exits with code 1 and says so. If Redis fails later, new
// sessions are let in (`onStoreError: 'open'`, with a warning at most once a minute) and existing
// sessions never depend on Redis.
//
// Run: redis-server &   (or REDIS_URL=redis://host:port)
//      TOKEN_SECRET=change-me MAX_SESSIONS=1 node --import tsx examples/redis.ts
//      TOKEN=$(curl -s http://127.0.0.1:3000/login/alice | node -pe 'JSON.parse(require("fs").readFileSync(0)).token')
//      curl -H "authorization: Bearer $TOKEN" http://127.0.0.1:3000/      -> {"user":"alice"}
//      (the same with bob's token -> 503 session-cap while alice holds the only seat)
import Fastify from 'fastify'
import type { FastifyRequest } from 'fastify'
import Redis from 'ioredis'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import { RedisStore } from '../sessions' // in your app: from 'fastify-adaptive-concurrency/sessions'
import { run } from './run'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
// MAX_SESSIONS=1 shows a refusal with a second user. Processes sharing a cap share SESSIONS_KEY.
const MAX_SESSIONS = Number(process.env.MAX_SESSIONS ?? 100)
const SESSIONS_KEY = process.env.SESSIONS_KEY ?? 'example:sessions'
// Every process of the cluster must use the same secret, or a token issued by one is refused by
// the others. The fallback is for trying the example only.
const SECRET = process.env.TOKEN_SECRET ?? 'example-only-secret'
if (process.env.TOKEN_SECRET === undefined) console.warn('TOKEN_SECRET is unset: using a built-in secret, fine for trying this example only')

function sign (user: string): string {
  return createHmac('sha256', SECRET).update(user).digest('base64url')
}

/** The user id of a valid `Bearer <user>.<signature>` header, or undefined. */
function verifiedUser (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header === undefined || !header.startsWith('Bearer ')) return undefined
  const token = header.slice(7)
  const dot = token.lastIndexOf('.')
  if (dot <= 0) return undefined
  const user = token.slice(0, dot)
  const given = Buffer.from(token.slice(dot + 1))
  const expected = Buffer.from(sign(user))
  // timingSafeEqual throws on different lengths; comparing in constant time hides how much matched.
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  return user
}

async function main (): Promise<void> {
  // lazyConnect so that a Redis that is down fails here, once, with a clear message, instead of
  // the client retrying forever in the background while the server looks healthy.
  const client = new Redis(REDIS_URL, { lazyConnect: true, connectTimeout: 2000 })
  // ioredis reports connection trouble as 'error' events (and prints them when nobody listens).
  let lastError: Error | undefined
  client.on('error', (err: Error) => { lastError = err })
  try {
    await client.connect()
  } catch (err) {
    client.disconnect()
    console.error(`cannot reach Redis at ${REDIS_URL}: ${(lastError ?? err as Error).message}\n` +
      'Start one (redis-server) or point REDIS_URL at yours, e.g. REDIS_URL=redis://127.0.0.1:6379')
    process.exit(1)
  }

  const app = Fastify({ logger: { level: 'info' } })
  // Later connection errors: RedisStore already answers each failing call by its onStoreError
  // policy; this only keeps a trace of the connection itself in the log.
  client.removeAllListeners('error')
  client.on('error', (err: Error) => { app.log.warn({ err }, 'redis connection error') })
  // The plugin never closes the client (you may share it); quit it once the app has closed.
  app.addHook('onClose', async () => { await client.quit() })
  app.register(adaptiveConcurrency, {
    sessions: {
      key: verifiedUser,
      idleTimeout: 60_000, // a user silent for a minute gives their seat back
      maxSessions: MAX_SESSIONS, // cluster-wide: every process using SESSIONS_KEY shares these seats
      store: new RedisStore({ client, key: SESSIONS_KEY, storeTimeout: 100, onStoreError: 'open' })
    },
    statusRoute: true
  })

  app.get<{ Params: { user: string } }>('/login/:user', async (request) => {
    return { token: `${request.params.user}.${sign(request.params.user)}` }
  })

  app.get('/', async (request) => {
    await sleep(10)
    return { user: verifiedUser(request) ?? 'anonymous' }
  })

  await run(app, [
    `sessions in Redis at ${REDIS_URL} (key ${SESSIONS_KEY}), at most ${MAX_SESSIONS} across every process using it`,
    'token:   curl $URL/login/alice',
    'request: curl -H "authorization: Bearer <token>" $URL/',
    'seats:   curl $URL/status   (sessions.active here, sessions.seats in the whole cluster)'
  ].join('\n'))
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
