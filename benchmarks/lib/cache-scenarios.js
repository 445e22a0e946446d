'use strict'

// Cache hits: a share of the requests is answered without touching the downstream (a cached
// answer), the rest waits on one pool of C = 16 slots x 100 ms (jitter +-20 %). The answers that
// never wait read "no queue" however long the pool's queue is, which is what lets a limit that
// counts every sample alike creep up. Shares 0 %, 40 % and 90 %, at 2x and 5x capacity, judged as
// the traffic mixes are (goodput and admitted p99 against the oracle's static limit of 16).
// The downstream's 100 ms keeps the 90 % case at 5x under ~8,000 req/s, what the load
// generator and the server sustain together on 2 shared cores.

const { mixCapacity } = require('./traffic-scenarios')

const SLOTS = 16
const SERVICE_MS = 100
const SHARES = [0, 0.4, 0.9]
const LOADS = [{ suffix: '2x', load: 2 }, { suffix: '5x', load: 5 }]
const PROTECTIONS = ['oracle', 'gradient2', 'vegas', 'aimd']
const SERVER_ROUTES = [{ path: '/work', serviceMs: SERVICE_MS }, { path: '/cached', kind: 'health' }]

function cacheScenario (share, { suffix, load }) {
  const pct = Math.round(share * 100)
  const routes = [
    { path: '/work', weight: 1 - share, class: 'work' },
    ...(share > 0 ? [{ path: '/cached', weight: share, class: 'cached' }] : [])
  ]
  const { meanMs, capacity } = mixCapacity(SERVER_ROUTES, routes, undefined, SLOTS)
  return {
    name: `cache-${pct}-${suffix}`,
    title: `${pct} % /cached (answered at once, no downstream), ${100 - pct} % /work (S = ${SERVICE_MS} ms); C = ${SLOTS}, capacity ${Math.round(capacity)} req/s, offered ${load}x capacity`,
    groups: ['cache'],
    server: { kind: 'downstream', slots: SLOTS, jitter: 0.2, routes: SERVER_ROUTES, preload: ['/cached'] },
    routes,
    capacity,
    oracleLimit: SLOTS,
    serviceMs: meanMs,
    rate: capacity * load,
    arrival: { mode: 'fixed' },
    durationMs: 8000,
    targets: 'traffic',
    protections: PROTECTIONS
  }
}

function cacheScenarios () {
  return SHARES.flatMap((share) => LOADS.map((load) => cacheScenario(share, load)))
}

module.exports = { cacheScenarios }
