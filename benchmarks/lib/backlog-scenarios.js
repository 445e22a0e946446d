'use strict'

// Scenarios of the backlog (issue 5: queue, estimated wait, partitions) and sessions
// (issue 6) features. Each compares the plugin with and without the feature, on the same
// downstream (C = 16, S = 10 ms) and the same schedule, in short 10 s trials.
// `variants` are plugin configurations named in `protections`; options cross to the server
// process as JSON, so functions are described by data (see scenario-server.js).

const SHORT_MS = 10000
const SESSION_HEADER = 'x-session-id'

function backlogScenarios (downstream) {
  return [
    {
      // Bursts of 3x the mean (225 % of capacity) for 100 ms every second: about 200
      // requests above what the downstream serves arrive in each burst, then the lull drains them.
      ...downstream('bursts-queue', 0.75, { targets: 'bursts', durationMs: SHORT_MS }),
      title: 'Bursty arrivals at 75 % of capacity (3x the mean for 100 ms every 1 s): wait queue off vs on',
      arrival: { mode: 'bursts', burstFactor: 3, burstMs: 100, burstEveryMs: 1000 },
      protections: ['none', 'oracle', 'gradient2', 'gradient2+queue'],
      variants: {
        'gradient2+queue': { options: { algorithm: 'gradient2', queue: { size: 200, timeout: 500 } } }
      }
    },
    {
      // 20 % critical at 5x would be 100 % of capacity: a class that alone saturates the
      // server cannot get 99 % through under any limiter. 10 % critical is half of capacity,
      // with 4.5x capacity of batch traffic flooding the same downstream.
      ...downstream('priority-5x', 5, { targets: 'class', durationMs: SHORT_MS }),
      title: 'Priority at 5x overload: 10 % /critical (half of capacity), 90 % /batch, sharing C = 16',
      server: {
        kind: 'downstream',
        slots: 16,
        jitter: 0.2,
        routes: [{ path: '/critical', serviceMs: 10, partition: 'critical' }, { path: '/batch', serviceMs: 10, partition: 'batch' }]
      },
      routes: [{ path: '/critical', weight: 0.1, class: 'critical' }, { path: '/batch', weight: 0.9, class: 'batch' }],
      keyClass: 'critical',
      protections: ['oracle', 'gradient2+queue', 'gradient2+partitions'],
      variants: {
        'gradient2+queue': { options: { algorithm: 'gradient2', queue: { size: 50, timeout: 250 } } },
        'gradient2+partitions': {
          options: { algorithm: 'gradient2', queue: { size: 50, timeout: 250 }, partitions: { critical: 0.8, batch: 0.2 } }
        }
      }
    },
    {
      // A FIFO queue larger than its timeout can drain (500 waiters x 10 ms / 16 = ~310 ms >
      // 250 ms): without an estimate, waiters at the back time out after 250 ms; with one,
      // they are refused at once.
      ...downstream('estimated-wait', 2, { targets: 'fast-rejection', durationMs: SHORT_MS }),
      title: 'Estimated-wait shedding vs a plain FIFO queue of the same size (500, timeout 250 ms), 2x overload',
      protections: ['oracle', 'gradient2+queue', 'gradient2+queue+estimate'],
      variants: {
        'gradient2+queue': { options: { algorithm: 'gradient2', queue: { size: 500, timeout: 250, order: 'fifo' } } },
        'gradient2+queue+estimate': {
          options: { algorithm: 'gradient2', queue: { size: 500, timeout: 250, order: 'fifo' }, maxEstimatedWait: 100 }
        }
      }
    },
    sessionsScenario('sessions-3x', 'interleaved', 'fixed', downstream),
    { ...sessionsScenario('sessions-3x-random', 'random', 'poisson', downstream), optIn: true }
  ]
}

// 3x overload, 30 % of requests from 200 existing sessions (90 % of capacity), the rest
// without a session key. 'interleaved' + fixed arrivals: each session sends every
// 200 / 1,440 s = ~139 ms exactly (paced clients). 'random' + Poisson: the same mix, at random.
function sessionsScenario (name, pattern, mode, downstream) {
  const sessionOptions = { algorithm: 'gradient2', sessions: { idleTimeout: 60000 } }
  return {
    ...downstream(name, 3, { targets: 'class', durationMs: SHORT_MS }),
    title: `Sessions at 3x overload: 30 % of requests from 200 existing sessions (90 % of capacity), ${pattern === 'random' ? 'Poisson arrivals, classes at random' : 'fixed pacing per session'}`,
    arrival: { mode },
    pattern,
    routes: [
      { path: '/work', weight: 0.3, class: 'session', sessions: { header: SESSION_HEADER, count: 200 } },
      { path: '/work', weight: 0.7, class: 'sessionless' }
    ],
    keyClass: 'session',
    protections: ['oracle', 'gradient2', 'gradient2+sessions', 'gradient2+sessions+queue'],
    variants: {
      'gradient2+sessions': { options: sessionOptions, sessionKeyHeader: SESSION_HEADER },
      'gradient2+sessions+queue': { options: { ...sessionOptions, queue: { size: 50, timeout: 250 } }, sessionKeyHeader: SESSION_HEADER }
    }
  }
}

module.exports = { backlogScenarios }
