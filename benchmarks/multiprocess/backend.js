'use strict'

// The shared backend of the multi-process scenarios: an HTTP service in its own process with
// `slots` concurrent slots and a service time of `serviceMs` (uniform +-jitter), FIFO waiters
// beyond the slots (a database's connection pool, a downstream service's workers). Every
// Fastify process of the scenario calls it over loopback, so they all queue in one place.
// argv[2]: JSON { slots, serviceMs, jitter }. IPC: -> { type: 'ready', port };
// <- { type: 'stats' } -> { type: 'stats', queued, busy, served } (queued and busy: means since the last stats).

const http = require('node:http')
const { createDownstreamPool } = require('../lib/downstream-pool')
const { seededRandom } = require('../lib/arrivals')

const { slots, serviceMs, jitter } = JSON.parse(process.argv[2])
const pool = createDownstreamPool(slots)
const random = seededRandom(42)
let served = 0
// Time-weighted queue length and busy slots since the last stats request: the standing queue and
// the slots left idle, not snapshots.
let queueArea = 0
let busyArea = 0
let lastChange = performance.now()
let windowStart = lastChange

function account () {
  const now = performance.now()
  queueArea += pool.queued * (now - lastChange)
  busyArea += pool.busy * (now - lastChange)
  lastChange = now
}

const server = http.createServer((req, res) => {
  account()
  pool.acquire().then(() => {
    account()
    setTimeout(() => {
      account()
      pool.release()
      served++
      res.end('ok')
    }, serviceMs * (1 - jitter + 2 * jitter * random()))
  })
})
server.keepAliveTimeout = 10 * 60 * 1000

server.listen(0, '127.0.0.1', () => process.send({ type: 'ready', port: server.address().port }))
process.on('message', (msg) => {
  if (msg.type !== 'stats') return
  account()
  const span = lastChange - windowStart
  process.send({ type: 'stats', queued: span > 0 ? queueArea / span : pool.queued, busy: span > 0 ? busyArea / span : pool.busy, served })
  queueArea = 0
  busyArea = 0
  windowStart = lastChange
})
process.on('disconnect', () => process.exit(0))
