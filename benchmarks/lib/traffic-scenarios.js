'use strict'

// Traffic mixes: real services are never one route. Health checks, fast client errors,
// cheap and expensive endpoints sharing one pool, a mix that shifts mid-run and a cold start,
// each at 50 % and 80 % of capacity and at 2x and 5x, against the oracle and every algorithm.
// All share one downstream of C = 16 slots (jitter +-20 %); the oracle is a static limit of 16.
//
// Capacity of a mix: the pool serves C slots, each request holds one for its route's mean
// service time, so capacity = C / (mean downstream time per request). Requests that never
// reach the downstream (health checks, 400s from validation) count as free: their cost on the
// server (tens of microseconds) is small beside the downstream's.

const SLOTS = 16
const JITTER = 0.2
const LOADS = [
  { suffix: '50', load: 0.5, label: '50 % of capacity' },
  { suffix: '80', load: 0.8, label: '80 % of capacity' },
  { suffix: '2x', load: 2, label: '2x capacity' },
  { suffix: '5x', load: 5, label: '5x capacity' }
]
const DURATION_MS = 8000
const SHIFT_AT_MS = 8000
const PROTECTIONS = ['oracle', 'gradient2', 'vegas', 'aimd']

/**
 * Mean downstream time per request (ms) and capacity (req/s) of a mix.
 * serverRoutes: [{ path, serviceMs?, kind? }] (a route without serviceMs or of kind 'health' /
 * 'client-error' skips the downstream); clientRoutes: [{ path, weight, expectStatus? }] (a
 * request expecting a non-2xx answer, e.g. a 400 from validation, skips it too).
 */
function mixCapacity (serverRoutes, clientRoutes, weights = clientRoutes.map((r) => r.weight), slots = SLOTS) {
  const total = weights.reduce((a, b) => a + b, 0)
  let meanMs = 0
  clientRoutes.forEach((route, i) => {
    const server = serverRoutes.find((s) => s.path === route.path.split('?')[0])
    if (!server) throw new Error(`no server route for ${route.path}`)
    const touchesDownstream = (server.kind ?? 'downstream') === 'downstream' && !route.expectStatus
    if (touchesDownstream) meanMs += weights[i] / total * server.serviceMs
  })
  return { meanMs, capacity: slots * 1000 / meanMs }
}

// The three routes of the route mixes: service times 1, 10 and 100 ms on one pool.
const THREE_ROUTES = [
  { path: '/cheap', serviceMs: 1 },
  { path: '/mid', serviceMs: 10 },
  { path: '/expensive', serviceMs: 100 }
]
const threeRouteClients = (weights) => THREE_ROUTES.map((r, i) => ({ path: r.path, weight: weights[i], class: r.path.slice(1) }))
const SHIFT_BEFORE = [0.5, 0.4, 0.1] // mean 14.5 ms: 1,103 req/s
const SHIFT_AFTER = [0.1, 0.4, 0.5] // mean 54.1 ms: 296 req/s

const MIXES = [
  {
    mix: 'health',
    title: '1 % /health (no downstream; one sent through Fastify before the load), 99 % /work (S = 10 ms)',
    server: { routes: [{ path: '/work', serviceMs: 10 }, { path: '/health', kind: 'health' }], preload: ['/health'] },
    routes: [{ path: '/work', weight: 0.99, class: 'work' }, { path: '/health', weight: 0.01, class: 'health' }]
  },
  {
    mix: 'errors',
    title: '20 % of /work requests lack a required querystring: 400 from schema validation at once; 80 % valid (S = 10 ms)',
    server: { routes: [{ path: '/work', serviceMs: 10, requiredQuery: 'id' }] },
    routes: [
      { path: '/work?id=1', weight: 0.8, class: 'valid' },
      { path: '/work', weight: 0.2, class: 'invalid', expectStatus: 400 }
    ]
  },
  {
    mix: 'routes',
    title: '60 % /cheap (1 ms), 30 % /mid (10 ms), 10 % /expensive (100 ms) sharing one pool',
    server: { routes: THREE_ROUTES },
    routes: threeRouteClients([0.6, 0.3, 0.1])
  },
  {
    mix: 'shift',
    title: `Mix shift halfway through (at ${SHIFT_AT_MS / 1000} s of ${2 * SHIFT_AT_MS / 1000} s), same pool: /cheap /mid /expensive (1, 10, 100 ms) ${pcts(SHIFT_BEFORE)} -> ${pcts(SHIFT_AFTER)}`,
    server: { routes: THREE_ROUTES },
    routes: threeRouteClients(SHIFT_BEFORE),
    durationMs: 2 * SHIFT_AT_MS,
    phases: [{ atMs: SHIFT_AT_MS, weights: SHIFT_AFTER }]
  },
  {
    mix: 'cold',
    title: 'Cold start: service time 3x at start, decaying to 1x (time constant 0.75 s: 1.5x at 1 s, 1.04x at 3 s), S = 10 ms',
    server: { routes: [{ path: '/work', serviceMs: 10 }], coldStart: { factor: 3, tauMs: 750 } },
    routes: [{ path: '/work', weight: 1, class: 'work' }]
  }
]

function pcts (weights) {
  return weights.map((w) => `${Math.round(w * 100)}`).join('/') + ' %'
}

function trafficScenario (mix, { suffix, load, label }) {
  const { meanMs, capacity } = mixCapacity(mix.server.routes, mix.routes)
  const { routes: serverRoutes, ...serverExtra } = mix.server
  const phases = (mix.phases || []).map((p) => ({ ...p, capacity: mixCapacity(mix.server.routes, mix.routes, p.weights).capacity }))
  const capacityText = phases.length
    ? `capacity ${Math.round(capacity)} -> ${phases.map((p) => Math.round(p.capacity)).join(' -> ')} req/s`
    : `capacity ${Math.round(capacity)} req/s`
  return {
    name: `${mix.mix}-${suffix}`,
    title: `${mix.title}; C = ${SLOTS}, ${capacityText}, offered ${label}`,
    groups: ['traffic', mix.mix],
    server: { kind: 'downstream', slots: SLOTS, jitter: JITTER, routes: serverRoutes, ...serverExtra },
    routes: mix.routes,
    capacity,
    oracleLimit: SLOTS,
    serviceMs: meanMs,
    rate: capacity * load,
    // Fixed spacing at every load: the mix (random route picks, seeded) is what varies here;
    // bursty arrivals are the under-capacity scenarios' subject.
    arrival: { mode: 'fixed' },
    durationMs: mix.durationMs || DURATION_MS,
    ...(phases.length ? { phases } : {}),
    targets: 'traffic',
    protections: PROTECTIONS
  }
}

function trafficScenarios () {
  return MIXES.flatMap((mix) => LOADS.map((load) => trafficScenario(mix, load)))
}

module.exports = { trafficScenarios, mixCapacity, SHIFT_AT_MS }
