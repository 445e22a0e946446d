'use strict'

// Arrival schedules for the open-loop generator. A schedule is a pure function of its
// options and seed: the same options always produce the same send times, so runs of
// different protections are offered exactly the same load.

// mulberry32: a tiny seeded PRNG. Math.random cannot be seeded, and reproducible Poisson
// arrivals matter more here than statistical quality.
function seededRandom (seed) {
  let state = seed >>> 0
  return function next () {
    state = (state + 0x6D2B79F5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// Rate (requests per second) at time tMs for a 'bursts' schedule. Bursts of
// burstFactor x the mean rate last burstMs every burstEveryMs; the rate between bursts
// is lowered so that the long-run mean stays exactly `rate`.
function burstRate (tMs, { rate, burstFactor, burstMs, burstEveryMs }) {
  const burstFraction = burstMs / burstEveryMs
  const inBurst = (tMs % burstEveryMs) < burstMs
  if (inBurst) return rate * burstFactor
  return rate * (1 - burstFraction * burstFactor) / (1 - burstFraction)
}

function validateBursts (opts) {
  if (opts.burstMs >= opts.burstEveryMs) throw new Error('burstMs must be shorter than burstEveryMs')
  if (opts.burstFactor * opts.burstMs / opts.burstEveryMs >= 1) {
    throw new Error('bursts this large leave no room for a positive base rate; lower burstFactor or burstMs')
  }
}

// Rate at tMs when the schedule has `phases` ([{ atMs, rate }], in time order): the last
// phase begun by tMs, else the base rate (a route mix that changes mid-run changes the
// capacity in req/s, and the offered rate follows it).
function phaseRate (tMs, { rate, phases }) {
  let r = rate
  for (const p of phases) if (p.atMs <= tMs) r = p.rate
  return r
}

/**
 * Returns an iterator-like object: next() gives the next scheduled send time in ms from the
 * start, or Infinity once the schedule is over (at durationMs).
 * mode: 'fixed' (constant spacing, as wrk2), 'poisson' (exponential gaps), 'bursts'
 * (Poisson whose rate steps up to burstFactor x mean during periodic bursts).
 * phases (fixed / poisson only): [{ atMs, rate }], the rate from atMs on.
 */
function createArrivalSchedule (opts) {
  const { mode = 'fixed', rate, durationMs, seed = 1 } = opts
  if (!(rate > 0)) throw new Error('rate must be > 0 requests per second')
  if (!(durationMs > 0)) throw new Error('durationMs must be > 0')
  if (mode === 'bursts') validateBursts(opts)
  if (opts.phases && mode === 'bursts') throw new Error('phases and bursts cannot be combined')
  if (opts.phases && !opts.phases.every((p) => p.rate > 0)) throw new Error('every phase needs a rate > 0')
  const random = seededRandom(seed)
  let t = 0
  let first = true

  function rateAt (tMs) {
    if (mode === 'bursts') return burstRate(tMs, opts)
    return opts.phases ? phaseRate(tMs, opts) : rate
  }

  function gap (tMs) {
    const perMs = rateAt(tMs) / 1000
    if (mode === 'fixed') return 1 / perMs
    // 1 - random() is in (0, 1], so the log is finite.
    return -Math.log(1 - random()) / perMs
  }

  return {
    next () {
      if (first) {
        first = false
        // A fixed schedule starts at 0; a random one draws its first gap too.
        t = mode === 'fixed' ? 0 : gap(0)
      } else {
        t += gap(t)
      }
      return t < durationMs ? t : Infinity
    },
    rateAt
  }
}

module.exports = { createArrivalSchedule, seededRandom, burstRate }
