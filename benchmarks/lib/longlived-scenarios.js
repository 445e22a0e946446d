'use strict'

// Long-lived requests next to ordinary traffic (group `longlived`), and a hung downstream
// (group `hung`), next to `capacity-shift`.
//
// The ordinary route waits on a downstream of 24 slots, 25 ms each (capacity 960 req/s),
// offered at a fixed rate (50 %, 80 %, 2x, 5x of that). Next to it, in each scenario, ~40
// clients of one long-lived kind stay open at every moment (lib/longlived-clients.js; the
// server side is lib/longlived-server.js): websockets, server-sent event streams, long-polls
// of 8 s and of 3 s, a streamed download read slowly, slow uploads. The reference (`oracle`)
// is a static limit of 24 that leaves the long-lived route out (lib/static-limit.js `skip`).
// `gradient2` is the plugin at its defaults; `gradient2+declared` the same with the
// long-lived route declared (`config: { adaptiveConcurrency: { longLived: true } }`).

const { startLongLivedClients } = require('./longlived-clients')

const SLOTS = 24
const SERVICE_MS = 25
const CAPACITY = SLOTS * 1000 / SERVICE_MS // 960 req/s
const CLIENTS = 40
const DURATION_MS = 10000
const LOADS = [
  { suffix: '50', load: 0.5, label: '50 % of capacity' },
  { suffix: '80', load: 0.8, label: '80 % of capacity' },
  { suffix: '2x', load: 2, label: '2x capacity' },
  { suffix: '5x', load: 5, label: '5x capacity' }
]
// `-noloop`: the same with the event-loop stage off (`eventLoop: false`), a documented option,
// to tell the long-lived accounting apart from that stage's interaction with it.
const VARIANTS = {
  'gradient2+declared': { options: { algorithm: 'gradient2' }, declareLongLived: true },
  'gradient2-noloop': { options: { algorithm: 'gradient2', eventLoop: false } },
  'gradient2+declared-noloop': { options: { algorithm: 'gradient2', eventLoop: false }, declareLongLived: true }
}
const PROTECTIONS = ['oracle', 'gradient2', 'gradient2+declared', 'gradient2-noloop', 'gradient2+declared-noloop']

// kind: the server route and client of lib/longlived-server.js / longlived-clients.js.
// holdMs: each exchange's lifetime; retryMs: a client's wait after a refusal or an error.
const KINDS = {
  ws: { kind: 'ws', holdMs: 8000, text: `${CLIENTS} websockets (@fastify/websocket; 8 s each, a message a second)` },
  sse: { kind: 'sse', holdMs: 8000, text: `${CLIENTS} server-sent event streams (reply.hijack(), an event a second, 8 s each)` },
  poll: { kind: 'poll', holdMs: 8000, text: `${CLIENTS} long-polls (answered after 8 s)` },
  poll3: { kind: 'poll', holdMs: 3000, text: `${CLIENTS} long-polls of 3 s` },
  // 1 MB/s per reader, 8 s: 8 MB each. Loopback socket buffers absorb ~4.5 MB of a slow
  // reader's body (measured: a 16 MB body read at 2 MB/s left the server after 5.8 s, a 2 MB
  // one at once), so the server's side of each stream lasts ~4 s; 40 MB/s in all.
  download: { kind: 'download', holdMs: 8000, readBytesPerS: 1024 * 1024, text: `${CLIENTS} streamed downloads (reply.send(stream), 8 MB read at 1 MB/s)` },
  upload: { kind: 'upload', holdMs: 400, bytes: 8 * 1024, text: `${CLIENTS} slow uploads at a time (8 KB sent over 400 ms; ~100/s)` }
}

function sidecarFor (spec) {
  return ({ origin, durationMs, warmupMs }) => startLongLivedClients({ origin, spec, durationMs, warmupMs })
}

function longLivedScenario (name, key, { load, label }, extra = {}) {
  const k = KINDS[key]
  const spec = { kind: k.kind, clients: CLIENTS, holdMs: k.holdMs, retryMs: 1000, readBytesPerS: k.readBytesPerS, bytes: k.bytes, cold: extra.cold || false }
  return {
    name,
    title: `${k.text} next to ordinary traffic (C = ${SLOTS}, S = ${SERVICE_MS} ms: ${CAPACITY} req/s), offered ${label}${extra.cold ? '; cold start: every long-poll opens in the first second' : ''}`,
    groups: ['longlived', `ll-${key}`],
    server: { kind: 'downstream', slots: SLOTS, jitter: 0.2, routes: [{ path: '/work', serviceMs: SERVICE_MS }], longLived: { kind: k.kind } },
    routes: [{ path: '/work', weight: 1 }],
    capacity: CAPACITY,
    oracleLimit: SLOTS,
    serviceMs: SERVICE_MS,
    rate: CAPACITY * load,
    arrival: { mode: 'fixed' },
    durationMs: extra.durationMs || DURATION_MS,
    longLived: spec,
    sidecar: sidecarFor(spec),
    report: longLivedTable,
    targets: 'longlived',
    protections: PROTECTIONS,
    variants: VARIANTS
  }
}

function longLivedScenarios () {
  const matrix = Object.keys(KINDS).flatMap((key) => LOADS.map((l) => longLivedScenario(`ll-${key}-${l.suffix}`, key, l)))
  // Cold start: 40 long-polls open in the first second, none ends before 8 s, so nothing about
  // the route can have been learned from a finished one until ~8-9 s of the 10 s run.
  const cold = longLivedScenario('ll-cold-poll', 'poll', LOADS[1], { cold: true })
  return [...matrix, cold]
}

// A hung downstream, on capacity-shift's server (C = 16, S = 10 ms, offered 2x), with 40
// long-polls of 8 s on their own route beside it (so a protection that learns long routes is
// tested on telling the two apart). Halfway through, the ordinary route's calls start taking
// 30 s (`hung-downstream`) or the pool drops to one slot (`hung-capacity-1`).
function hungScenarios (downstream) {
  const HUNG_AT_MS = 5000
  const spec = { kind: 'poll', clients: CLIENTS, holdMs: 8000, retryMs: 1000 }
  const make = (name, change, capacityAfter, what) => {
    const base = downstream(name, 2, { targets: 'hung', durationMs: 2 * HUNG_AT_MS })
    return {
      ...base,
      title: `Hung downstream: ${what} at ${HUNG_AT_MS / 1000} s (C = 16, S = 10 ms, offered 2x; ${CLIENTS} long-polls of 8 s beside it)`,
      groups: ['hung'],
      server: { ...base.server, capacitySchedule: [{ atMs: HUNG_AT_MS, ...change }], longLived: { kind: 'poll' } },
      // shift.dropAtMs is the hang (run.js scales it with --duration); restoreAtMs: the run's end.
      shift: { dropAtMs: HUNG_AT_MS, restoreAtMs: 2 * HUNG_AT_MS },
      capacityAfter,
      longLived: spec,
      sidecar: sidecarFor(spec),
      report: longLivedTable,
      protections: PROTECTIONS,
      variants: VARIANTS
    }
  }
  return [
    make('hung-downstream', { serviceMs: 30000 }, 0, 'every call starts taking 30 s'),
    make('hung-capacity-1', { slots: 1 }, 100, 'the pool drops to 1 slot (100 req/s)')
  ]
}

const fmtPct = (v) => v === null || v === undefined ? '–' : `${(v * 100).toFixed(1)} %`

// The long-lived requests' own outcomes, medians over runs (report.js appends it).
function longLivedTable (groups) {
  const { median } = require('./targets')
  const lines = [
    '### Long-lived requests',
    '',
    'Exchanges started in the measured window: ok = ended as the kind ends; open = admitted and still going at the run\'s end; refused = 503; failed = another status, a socket error or an early close. Medians over runs.',
    '',
    '| protection | started | ok | open | refused | failed | ordinary refused |',
    '|---|---|---|---|---|---|---|'
  ]
  for (const { name, runs } of groups) {
    const m = (f) => median(runs.map((r) => r.trial.sidecar ? f(r.trial.sidecar) : null))
    const ordinary = median(runs.map((r) => r.trial.total.rejectedFraction))
    lines.push(`| ${name} | ${m((s) => s.attempts)} | ${m((s) => s.ok)} | ${m((s) => s.open)} | ${fmtPct(m((s) => s.refusedFraction))} | ${fmtPct(m((s) => s.failedFraction))} | ${fmtPct(ordinary)} |`)
  }
  return lines.join('\n') + '\n'
}

module.exports = { longLivedScenarios, hungScenarios, KINDS, CAPACITY, SLOTS, SERVICE_MS }
