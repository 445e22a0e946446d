'use strict'

const { performance } = require('node:perf_hooks')
const { seededRandom } = require('./arrivals')
const { createConnectionPool } = require('./connection-pool')

// How often due sends are dispatched and overdue requests are timed out. Sends are stamped
// with their *scheduled* time, so the tick granularity shows up in latency and in the
// reported send lag, never as hidden time.
const TICK_MS = 1
const SWEEP_MS = 20

/**
 * Open-loop load: requests go out at the schedule's times whether or not earlier ones have
 * answered (wrk2 style). Latency is measured from the scheduled send time, so time spent
 * waiting for a free connection or behind a late generator tick counts against the server,
 * as a real client would experience it (no coordinated omission).
 *
 * Every request is given up timeoutMs after its scheduled time (client timeout) and counted
 * as a timeout. Resolves once every scheduled request has answered or timed out.
 */
async function runOpenLoop ({ origin, schedule, durationMs, routes, recorder, timeoutMs, connections, seed = 7, onStart = () => {} }) {
  let start = 0
  let writtenInRun = 0
  const now = () => performance.now() - start
  // "Sent" means written to a socket, not merely scheduled: if the generator is starved of
  // CPU, or every connection is busy, requests wait here and the send lag shows it.
  function onWritten (exchange) {
    const t = now()
    recorder.sent(exchange.scheduled, t - exchange.scheduled)
    if (t <= durationMs) writtenInRun++
  }
  const pool = createConnectionPool(origin, { connections, connectTimeoutMs: timeoutMs, onWritten })
  // The scenario server answers these before Fastify sees them (see scenario-server.js), so
  // no protection learns from warm-up traffic. Without it the first seconds would measure
  // the TCP handshakes of a thousand new sockets, not the protection.
  await pool.warmUp('/__warmup')
  onStart()

  const pickRoute = routePicker(routes, seed)
  const errorCodes = {}
  // Exchanges in scheduled order. Deadlines are scheduled + timeoutMs, so they are in order
  // too, and the sweep only ever looks at the head.
  let pending = []
  let head = 0
  let outstanding = 0
  let next = schedule.next()
  let maxQueued = 0
  start = performance.now()

  return new Promise((resolve) => {
    let tickTimer = null
    let finished = false

    function onDone (exchange, err) {
      outstanding--
      if (err) {
        if (!exchange.timedOut) {
          const code = err.code || err.name || 'unknown'
          errorCodes[code] = (errorCodes[code] || 0) + 1
        }
        recorder.failure(exchange.scheduled, exchange.timedOut)
      } else {
        recorder.response(exchange.scheduled, exchange.statusCode, now() - exchange.scheduled)
      }
      if (next === Infinity && outstanding === 0) finish()
    }

    function tick () {
      const t = now()
      while (next <= t) {
        recorder.offered(next)
        outstanding++
        pending.push(pool.request(pickRoute(), next, onDone))
        next = schedule.next()
      }
      if (pool.queued > maxQueued) maxQueued = pool.queued
      if (next === Infinity) {
        tickTimer = null
        if (outstanding === 0) finish()
      } else {
        tickTimer = setTimeout(tick, TICK_MS)
      }
    }

    function sweep () {
      const t = now()
      while (head < pending.length) {
        const exchange = pending[head]
        if (!exchange.recorded && exchange.scheduled + timeoutMs > t) break
        exchange.timeout()
        head++
      }
      // Drop the swept prefix now and then so the FIFO does not grow for the whole run.
      if (head > 4096) {
        pending = pending.slice(head)
        head = 0
      }
    }
    const sweepTimer = setInterval(sweep, SWEEP_MS)

    function finish () {
      if (finished) return
      finished = true
      clearTimeout(tickTimer)
      clearInterval(sweepTimer)
      pool.destroy().then(() => resolve({ errorCodes, writtenInRun, maxQueued }))
    }

    tick()
  })
}

// routes: [{ path, weight }]. Picks by weight with a seeded PRNG, so every protection is
// offered the same sequence of routes.
function routePicker (routes, seed) {
  if (routes.length === 1) {
    const path = routes[0].path
    return () => path
  }
  const random = seededRandom(seed)
  const totalWeight = routes.reduce((sum, r) => sum + r.weight, 0)
  return function pick () {
    let x = random() * totalWeight
    for (const r of routes) {
      x -= r.weight
      if (x < 0) return r.path
    }
    return routes[routes.length - 1].path
  }
}

module.exports = { runOpenLoop, routePicker }
