'use strict'

// The scenario matrix. Each scenario knows its true capacity, so the oracle (a static
// limit at that capacity) and the targets of the issue can be derived from it.
// capacity: requests per second the server can serve at best; oracleLimit: the in-flight
// count that achieves it (Little's law: slots for a pool, 1 for a synchronous handler).

const { backlogScenarios } = require('./backlog-scenarios')
const { trafficScenarios } = require('./traffic-scenarios')
const { burstScenarios } = require('./burst-scenarios')
const { cacheScenarios } = require('./cache-scenarios')
const { longLivedScenarios, hungScenarios } = require('./longlived-scenarios')

const SLOTS = 16
const SERVICE_MS = 10
const DOWNSTREAM_CAPACITY = SLOTS * 1000 / SERVICE_MS // 1,600 req/s

function downstream (name, multiple, extra = {}) {
  return {
    name,
    title: `Async downstream: C = ${SLOTS}, S = ${SERVICE_MS} ms, offered ${multiple}x capacity`,
    server: { kind: 'downstream', slots: SLOTS, jitter: 0.2, routes: [{ path: '/work', serviceMs: SERVICE_MS }] },
    routes: [{ path: '/work', weight: 1 }],
    capacity: DOWNSTREAM_CAPACITY,
    oracleLimit: SLOTS,
    serviceMs: SERVICE_MS,
    rate: DOWNSTREAM_CAPACITY * multiple,
    arrival: { mode: 'fixed' },
    durationMs: 20000,
    targets: 'downstream',
    ...extra
  }
}

const SCENARIOS = [
  downstream('downstream-2x', 2),
  downstream('downstream-5x', 5),
  downstream('downstream-10x', 10),
  {
    ...downstream('capacity-shift', 2, { targets: 'shift', durationMs: 30000 }),
    title: `Capacity shift: C = ${SLOTS} -> ${SLOTS / 2} at 10 s -> ${SLOTS} at 20 s, S = ${SERVICE_MS} ms, offered 2x`,
    server: {
      kind: 'downstream',
      slots: SLOTS,
      jitter: 0.2,
      routes: [{ path: '/work', serviceMs: SERVICE_MS }],
      capacitySchedule: [{ atMs: 10000, slots: SLOTS / 2 }, { atMs: 20000, slots: SLOTS }]
    },
    shift: { dropAtMs: 10000, restoreAtMs: 20000 }
  },
  // hung-downstream, hung-capacity-1: group 'hung' (lib/longlived-scenarios.js).
  ...hungScenarios(downstream),
  ...[50, 80].map((pct) => ({
    ...downstream(`under-capacity-${pct}`, pct / 100, { targets: 'under' }),
    title: `Under capacity: offered ${pct} % of capacity, Poisson with bursts (2x the mean for 100 ms every 1 s)`,
    arrival: { mode: 'bursts', burstFactor: 2, burstMs: 100, burstEveryMs: 1000 }
  })),
  {
    name: 'cpu-bound',
    title: 'CPU-bound: handler burns K = 2 ms synchronously, offered 2x single-core capacity',
    server: { kind: 'cpu', burnMs: 2 },
    routes: [{ path: '/work', weight: 1 }],
    capacity: 500,
    // A synchronous handler never has more than one request in flight.
    oracleLimit: 1,
    serviceMs: 2,
    rate: 1000,
    arrival: { mode: 'fixed' },
    durationMs: 20000,
    targets: 'cpu'
  },
  {
    // 80 % fast (2 ms) and 20 % slow (50 ms) calls sharing one 16-slot pool:
    // mean service 11.6 ms, capacity 16 / 11.6 ms = ~1,379 req/s.
    ...downstream('mixed', 2, { targets: 'downstream' }),
    title: 'Mixed: 80 % fast (2 ms) and 20 % slow (50 ms) routes sharing C = 16, offered 2x',
    server: {
      kind: 'downstream',
      slots: SLOTS,
      jitter: 0.2,
      routes: [{ path: '/fast', serviceMs: 2 }, { path: '/slow', serviceMs: 50 }]
    },
    routes: [{ path: '/fast', weight: 0.8 }, { path: '/slow', weight: 0.2 }],
    capacity: Math.round(SLOTS * 1000 / (0.8 * 2 + 0.2 * 50)),
    serviceMs: 0.8 * 2 + 0.2 * 50,
    rate: 2 * Math.round(SLOTS * 1000 / (0.8 * 2 + 0.2 * 50))
  },
  {
    ...downstream('memory', 10, { targets: 'memory', durationMs: 60000 }),
    title: 'Memory: async downstream at 10x capacity for 60 s (RSS growth after warm-up)',
    // Opt-in (--scenario memory): a minute per protection, and only the plugin's RSS matters.
    optIn: true,
    protections: ['oracle', 'gradient2', 'vegas', 'aimd']
  },
  ...backlogScenarios(downstream),
  // health-*, errors-*, routes-*, shift-*, cold-*: group 'traffic' (lib/traffic-scenarios.js).
  ...trafficScenarios(),
  // bursty-30, -50, -80: group 'bursty' (lib/burst-scenarios.js).
  ...burstScenarios(downstream),
  // cache-*: a share of cached answers that never wait (lib/cache-scenarios.js).
  ...cacheScenarios(),
  // ll-<kind>-<load>, ll-cold-poll: group 'longlived' (lib/longlived-scenarios.js).
  ...longLivedScenarios()
]

const BASELINES = ['none', 'under-pressure', 'oracle', 'static-4x']
const ALGORITHMS = ['gradient2', 'vegas', 'aimd']
const UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS = 200

// 'gradient2:noLoadTolerance=1.5;minLimit=8': an algorithm with some of its options, for
// tuning runs (`--protection oracle,gradient2,gradient2:minLimit=20`). Values are numbers or
// true/false. Returns plugin options ({ algorithm: { name, options } }), or null when the name
// is not of that form.
// A protection every scenario can run: a baseline, an algorithm, or an algorithm with options.
function isCommonProtection (name) {
  return BASELINES.includes(name) || ALGORITHMS.includes(name) || Boolean(parseTuned(name))
}

// '<algorithm>+noqueue': the algorithm without the default wait queue (queue: false, immediate
// refusal at the limit), for any scenario.
function parseTuned (name) {
  const noQueue = /^([a-z0-9]+)\+noqueue$/.exec(name)
  if (noQueue && ALGORITHMS.includes(noQueue[1])) return { algorithm: noQueue[1], queue: false }
  // '<algorithm>+queue:interval=100;standingTimeout=5': the default queue with some options changed.
  const queue = /^([a-z0-9]+)\+queue:(.+)$/.exec(name)
  if (queue && ALGORITHMS.includes(queue[1])) return { algorithm: queue[1], queue: pairs(name, queue[2]) }
  const m = /^([a-z0-9]+):([^@]+)$/.exec(name)
  if (!m || !ALGORITHMS.includes(m[1])) return null
  return { algorithm: { name: m[1], options: pairs(name, m[2]) } }
}

function pairs (name, text) {
  const options = {}
  for (const pair of text.split(';')) {
    const [key, raw] = pair.split('=')
    if (!key || raw === undefined) throw new Error(`protection "${name}": expected key=value pairs separated by ';'`)
    options[key] = raw === 'true' ? true : raw === 'false' ? false : Number(raw)
  }
  return options
}

// Serializable protection configs for the scenario server.
// A scenario's `variants` are plugin configurations it names in its protections.
function protectionConfig (name, scenario) {
  const variant = scenario.variants?.[name]
  if (variant) return { name, kind: 'plugin', ...variant }
  const derived = scenario.variantOf?.(name)
  if (derived) return derived
  if (name === 'none') return { name, kind: 'none' }
  if (name === 'under-pressure') {
    return { name, kind: 'under-pressure', options: { maxEventLoopDelay: UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS } }
  }
  if (name === 'oracle') return { name, kind: 'static', limit: scenario.oracleLimit }
  if (name === 'static-4x') return { name, kind: 'static', limit: 4 * scenario.oracleLimit }
  if (ALGORITHMS.includes(name)) return { name, kind: 'plugin', options: { algorithm: name } }
  const tuned = parseTuned(name)
  if (tuned) return { name, kind: 'plugin', options: tuned }
  const known = [...BASELINES, ...ALGORITHMS, ...Object.keys(scenario.variants || {})]
  throw new Error(`unknown protection "${name}" for scenario ${scenario.name}; known: ${known.join(', ')}`)
}

module.exports = { SCENARIOS, BASELINES, ALGORITHMS, protectionConfig, parseTuned, isCommonProtection, UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS }
