'use strict'

// Bursty arrivals below capacity: the plugin's default queue must absorb them (nothing
// refused) and still let no burst turn into a standing delay. Each runs the same Poisson
// schedule whose rate steps up to `capacityMultiple` x capacity for `burstMs` every second,
// the rate between bursts lowered so that the mean stays `load` of capacity, on the single
// downstream (C = 16, S = 10 ms, 1,600 req/s).
//
// What no queue discipline can beat, whatever the protection: a burst of b x capacity for L ms
// leaves (b - 1) x L ms of work behind it, so with FIFO its last request waits about
// (b - 1) x L. At 2x that is the burst's length; at 3x it is twice the length, and the
// target "admitted p99 ≤ L + 2 S" is out of reach when the burst carries more than 1 % of the
// requests. 'none' (no protection) shows that bound in each run.

const BURST_EVERY_MS = 1000
const SHAPES = [
  { name: 'bursty-30', load: 0.3, capacityMultiple: 3, burstMs: 50 },
  { name: 'bursty-50', load: 0.5, capacityMultiple: 2, burstMs: 100 },
  { name: 'bursty-80', load: 0.8, capacityMultiple: 2, burstMs: 200 }
]

function burstScenarios (downstream) {
  return SHAPES.map(({ name, load, capacityMultiple, burstMs }) => ({
    ...downstream(name, load, { targets: 'bursty', durationMs: 10000 }),
    title: `Bursty arrivals at ${load * 100} % mean load: ${capacityMultiple}x capacity for ${burstMs} ms every 1 s (Poisson)`,
    // burstFactor is relative to the mean rate.
    arrival: { mode: 'bursts', burstFactor: capacityMultiple / load, burstMs, burstEveryMs: BURST_EVERY_MS },
    burstMs,
    groups: ['bursty'],
    protections: ['none', 'oracle', 'gradient2', 'gradient2+noqueue']
  }))
}

module.exports = { burstScenarios }
