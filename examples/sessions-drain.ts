// Sessions: a user with an active session (a key seen in the last idleTimeout ms) keeps being
// served under overload ahead of new users; at most maxSessions at once. On shutdown,
// drainOnClose stops admitting new users and waits (up to timeout) for active sessions to go idle.
// Run: node --import tsx examples/sessions-drain.ts
//      curl -H 'x-session-id: alice' http://127.0.0.1:3000/    then Ctrl-C to see the drain
import Fastify from 'fastify'
import { setTimeout as sleep } from 'node:timers/promises'
import adaptiveConcurrency from '../index' // in your app: from 'fastify-adaptive-concurrency'
import { run } from './run'

// drainOnClose needs Fastify's own "503 while closing" off: the drain decides who is still served.
const app = Fastify({ logger: { level: 'info' }, return503OnClosing: false })
app.register(adaptiveConcurrency, {
  sessions: {
    // A raw header, for trying this example with curl only: in your app return a VERIFIED identity
    // (a signed cookie, a JWT subject), or any client can pose as an active session.
    key: request => request.headers['x-session-id'] as string | undefined,
    idleTimeout: 30_000,
    maxSessions: 1000
  },
  drainOnClose: { timeout: 2000 },
  statusRoute: true
})

app.get('/', async () => {
  await sleep(10)
  return { ok: true }
})

run(app, 'status (with sessions): $URL/status')
