'use strict'

// The generator must recover after a stall: requests that time out are aborted and their
// sockets reused, and every request is counted exactly once. (It does not reproduce the
// undici assertion on connect errors that made the pool hand sockets over asynchronously;
// that was seen with a 300 ms connect timeout under load.) Counts only, no timing limits.

const { test } = require('node:test')
const assert = require('node:assert')
const http = require('node:http')
const { runOpenLoop } = require('../lib/load-generator')
const { createArrivalSchedule } = require('../lib/arrivals')
const { createRecorder } = require('../lib/metrics')

test('open loop: requests time out during a server stall, answers resume after it', async () => {
  let stalled = true
  const server = http.createServer((req, res) => {
    if (req.url === '/__warmup') return res.end('w')
    if (!stalled) res.end('ok')
    // While stalled the request is never answered: the client must time it out.
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const durationMs = 2000
  const recorder = createRecorder({ durationMs, warmupMs: 0, sloMs: 1000 })
  const result = await runOpenLoop({
    origin: `http://127.0.0.1:${server.address().port}`,
    schedule: createArrivalSchedule({ mode: 'fixed', rate: 200, durationMs }),
    durationMs,
    routes: [{ path: '/x', weight: 1 }],
    recorder,
    timeoutMs: 200,
    connections: 20,
    onStart: () => setTimeout(() => { stalled = false }, 500)
  })
  server.closeAllConnections()
  server.close()
  const { total, perSecond } = recorder.summarize()
  assert.strictEqual(total.offered, 400)
  assert.strictEqual(total.ok + total.timeouts + total.errors, 400, 'every request is accounted for once')
  assert.ok(total.timeouts > 0, 'requests sent during the stall time out')
  assert.ok(perSecond[1].ok > 0, 'answers resume after the stall')
  assert.deepStrictEqual(result.errorCodes, {})
})
