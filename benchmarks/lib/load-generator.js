'use strict'

const { performance } = require('node:perf_hooks')
const { seededRandom } = require('./arrivals')
const { createConnectionPool } = require('./connection-pool')
const { request } = require('undici')

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
async function runOpenLoop ({ origin, schedule, durationMs, routes, phases = [], pattern, recorder, timeoutMs, connections, rotate = false, seed = 7, onStart = () => {} }) {
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
  const pool = createConnectionPool(origin, { connections, connectTimeoutMs: timeoutMs, rotate, onWritten })
  // The scenario server answers these before Fastify sees them (see scenario-server.js), so
  // no protection learns from warm-up traffic. Without it the first seconds would measure
  // the TCP handshakes of a thousand new sockets, not the protection.
  await pool.warmUp('/__warmup')
  await onStart()
  await establishSessions(origin, routes)

  const pickRoute = phasedPicker(routes, phases, seed, pattern)
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
        recorder.failure(exchange.scheduled, exchange.timedOut, exchange.spec.classIndex)
      } else {
        recorder.response(exchange.scheduled, exchange.statusCode, now() - exchange.scheduled, exchange.spec.classIndex, exchange.spec.expectStatus)
      }
      if (next === Infinity && outstanding === 0) finish()
    }

    function tick () {
      const t = now()
      while (next <= t) {
        const spec = pickRoute(next)
        recorder.offered(next, spec.classIndex)
        outstanding++
        pending.push(pool.request(spec, next, onDone))
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

// Traffic classes of a scenario, in declaration order: each gets its own counters and
// histograms (a route without `class` is counted only in the totals).
function trafficClasses (routes) {
  return [...new Set(routes.filter((r) => r.class).map((r) => r.class))]
}

// The request specs of one route, made once: { path, headers, classIndex, expectStatus }. A route with
// `sessions: { header, count }` stands for `count` clients, each sending its own key in
// `header`; they take turns, so every session sends at the same steady pace.
function routeSpecs (route, classIndex) {
  const { expectStatus } = route
  if (!route.sessions) return [{ path: route.path, headers: route.headers, classIndex, expectStatus }]
  const { header, count } = route.sessions
  return Array.from({ length: count }, (_, i) => ({ path: route.path, headers: { ...route.headers, [header]: `s${i}` }, classIndex, expectStatus }))
}

// "Existing sessions" must exist before the overload starts: each session key of the
// scenario sends one request first, a few at a time (no overload yet), so the server has seen
// and admitted it. Without this every session would start as a new user in the middle of the
// overload and be shed as one, which measures something else (how fast new users get in).
// These requests are not recorded; a session the server refused is simply new in the run.
async function establishSessions (origin, routes, parallel = 8) {
  const specs = routes.filter((r) => r.sessions).flatMap((r) => routeSpecs(r, -1))
  let i = 0
  async function worker () {
    while (i < specs.length) {
      const spec = specs[i++]
      const res = await request(origin + spec.path, { headers: spec.headers })
      await res.body.dump()
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, specs.length) }, worker))
}

// routes: [{ path, weight, class?, headers?, sessions? }]. Returns pick() -> request spec.
// pattern 'random' picks by weight with a seeded PRNG (the same sequence for every
// protection); 'interleaved' is a smooth weighted round robin: each route's requests are
// spread evenly over the schedule (with fixed arrivals: a fixed pace per route).
function routePicker (routes, seed, pattern = 'random') {
  const classes = trafficClasses(routes)
  const specs = routes.map((r) => routeSpecs(r, classes.indexOf(r.class)))
  const turn = routes.map(() => 0)
  const nextOf = (i) => {
    const list = specs[i]
    const spec = list[turn[i]]
    turn[i] = (turn[i] + 1) % list.length
    return spec
  }
  if (routes.length === 1) return () => nextOf(0)
  const totalWeight = routes.reduce((sum, r) => sum + r.weight, 0)
  if (pattern === 'interleaved') {
    const credit = routes.map(() => 0)
    return function pickInterleaved () {
      let best = 0
      for (let i = 0; i < routes.length; i++) {
        credit[i] += routes[i].weight
        if (credit[i] > credit[best]) best = i
      }
      credit[best] -= totalWeight
      return nextOf(best)
    }
  }
  const random = seededRandom(seed)
  return function pick () {
    let x = random() * totalWeight
    for (let i = 0; i < routes.length; i++) {
      x -= routes[i].weight
      if (x < 0) return nextOf(i)
    }
    return nextOf(routes.length - 1)
  }
}

// A route mix that changes at given times: phases [{ atMs, weights }] give the routes'
// weights from atMs on (same routes, so classes keep their indices). Returns pick(tMs).
function phasedPicker (routes, phases, seed, pattern) {
  const first = routePicker(routes, seed, pattern)
  if (phases.length === 0) return () => first()
  const pickers = phases.map((p, i) => ({
    atMs: p.atMs,
    pick: routePicker(routes.map((r, k) => ({ ...r, weight: p.weights[k] })), seed + i + 1, pattern)
  }))
  return function pickPhased (tMs) {
    let pick = first
    for (const p of pickers) if (p.atMs <= tMs) pick = p.pick
    return pick()
  }
}

module.exports = { runOpenLoop, routePicker, phasedPicker, trafficClasses }
