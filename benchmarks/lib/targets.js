'use strict'

// The targets, evaluated from measured numbers. Each check returns
// { label, value, pass } where value is the measured quantity (a median over runs).

const median = (xs) => {
  // Infinity (never recovered) is a value and sorts last; null (not measured) is skipped.
  const v = xs.filter((x) => x !== null && !Number.isNaN(x)).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2
}

// Seconds from `fromSecond` until the per-second predicate holds for every second up to
// (not including) `untilSecond`; null if it never settles. Buckets are by scheduled send
// second, so "1" means: from the second full second after the event on, every second met it.
function secondsUntilSettled (perSecond, fromSecond, untilSecond, predicate) {
  for (let s = fromSecond; s < untilSecond; s++) {
    let settled = true
    for (let k = s; k < untilSecond; k++) {
      if (!predicate(perSecond[k])) { settled = false; break }
    }
    if (settled) return s - fromSecond
  }
  return null
}

function shiftRecovery (trial, scenario) {
  const drop = Math.floor(scenario.shift.dropAtMs / 1000)
  const restore = Math.floor(scenario.shift.restoreAtMs / 1000)
  const end = trial.perSecond.length
  return {
    p99RecoverySeconds: secondsUntilSettled(trial.perSecond, drop, restore,
      (s) => s.admittedP99 !== null && s.admittedP99 <= 2 * scenario.serviceMs),
    goodputRecoverySeconds: secondsUntilSettled(trial.perSecond, restore, end,
      (s) => s.goodput >= 0.9 * scenario.capacity)
  }
}

// Mix shift: the protection's own limit (100 ms server samples) over the last seconds of the
// phase before the shift and of the run's end, median of each: { before, after, ratio }
// (ratio after / before), or null without samples of a limit. The window is 3 s, or half
// the shorter phase if less.
function limitAcrossShift (samples, shiftAtMs, durationMs, windowMs = 3000) {
  const w = Math.min(windowMs, shiftAtMs / 2, (durationMs - shiftAtMs) / 2)
  const limits = (from, to) => (samples || []).filter((s) => s.t >= from && s.t < to && typeof s.limit === 'number').map((s) => s.limit)
  const before = median(limits(shiftAtMs - w, shiftAtMs))
  const after = median(limits(durationMs - w, durationMs))
  return before === null || after === null || before === 0 ? null : { before, after, ratio: after / before }
}

// value null = nothing to judge (e.g. a rejection latency when nothing was rejected);
// the table shows it as "n/a" rather than as a pass or a fail.
// For a recovery time, null means "never recovered": a fail, shown as "never".
const check = (label, value, pass, format) => ({ label, value, pass: value === null ? null : pass(value), format })
const recovery = (label, value, limitS) => value === null || value === Infinity
  ? { label, value: Infinity, pass: false, format: () => 'never' }
  : check(label, value, (v) => v <= limitS, secs)
const pct = (v) => `${(v * 100).toFixed(1)} %`
const ms = (v) => `${v.toFixed(1)} ms`
const times = (v) => `${v.toFixed(2)}x`
const secs = (v) => `${v} s`

/**
 * runs: [{ trial, oracle }] for one protection, oracle being the same run's oracle trial.
 */
function evaluateTargets (scenario, runs) {
  const m = (f) => median(runs.map(f))
  const ratio = (a, b) => (a === null || b === null || b === 0) ? null : a / b
  switch (scenario.targets) {
    case 'downstream': return [
      check('goodput ≥ 95 % of oracle', m((r) => ratio(r.trial.total.goodput, r.oracle?.total.goodput)), (v) => v >= 0.95, pct),
      check('admitted p99 ≤ 1.5x oracle', m((r) => ratio(r.trial.total.admittedP99, r.oracle?.total.admittedP99)), (v) => v <= 1.5, times),
      check('rejection p99 ≤ 10 ms', m((r) => r.trial.total.rejectionP99), (v) => v <= 10, ms)
    ]
    case 'shift': return [
      recovery('p99 < 2x S within 2 s of the drop', m((r) => shiftRecovery(r.trial, scenario).p99RecoverySeconds ?? Infinity), 2),
      recovery('goodput ≥ 90 % of capacity within 5 s of the restore', m((r) => shiftRecovery(r.trial, scenario).goodputRecoverySeconds ?? Infinity), 5)
    ]
    case 'under': return [
      check('≤ 0.1 % rejected', m((r) => r.trial.total.rejectedFraction), (v) => v <= 0.001, (v) => `${(v * 100).toFixed(3)} %`)
    ]
    case 'cpu': return [
      check('goodput ≥ 85 % of capacity', m((r) => r.trial.total.goodput / scenario.capacity), (v) => v >= 0.85, pct),
      check('admitted p99 ≤ 100 ms', m((r) => r.trial.total.admittedP99), (v) => v <= 100, ms),
      check('rejection p99 ≤ 100 ms', m((r) => r.trial.total.rejectionP99), (v) => v <= 100, ms)
    ]
    case 'bursts': return [
      check('≤ 0.1 % rejected', m((r) => r.trial.total.rejectedFraction), (v) => v <= 0.001, (v) => `${(v * 100).toFixed(3)} %`),
      check('goodput ≥ 99 % of offered', m((r) => ratio(r.trial.total.goodput, r.trial.total.offeredRate)), (v) => v >= 0.99, pct)
    ]
    case 'bursty': return [
      check('≤ 0.1 % rejected', m((r) => r.trial.total.rejectedFraction), (v) => v <= 0.001, (v) => `${(v * 100).toFixed(3)} %`),
      check(`admitted p99 ≤ burst + 2 S (${scenario.burstMs + 2 * scenario.serviceMs} ms)`, m((r) => r.trial.total.admittedP99),
        (v) => v <= scenario.burstMs + 2 * scenario.serviceMs, ms)
    ]
    case 'class': return [
      check(`${scenario.keyClass} success ≥ 99 %`, m((r) => r.trial.classes?.[scenario.keyClass]?.goodFraction ?? null), (v) => v >= 0.99, pct),
      check('goodput ≥ 95 % of oracle', m((r) => ratio(r.trial.total.goodput, r.oracle?.total.goodput)), (v) => v >= 0.95, pct)
    ]
    case 'fast-rejection': return [
      check('rejection p99 ≤ 10 ms', m((r) => r.trial.total.rejectionP99), (v) => v <= 10, ms),
      check('goodput ≥ 95 % of oracle', m((r) => ratio(r.trial.total.goodput, r.oracle?.total.goodput)), (v) => v >= 0.95, pct)
    ]
    case 'traffic': return trafficChecks(scenario, runs, m, ratio)
    case 'longlived': return longLivedChecks(scenario, m, ratio)
    case 'hung': return [
      recovery('shed within 1 s of the hang', m((r) => hungShedSeconds(r.trial, scenario) ?? Infinity), 1)
    ]
    case 'memory': return [
      check('RSS growth ≤ 20 MB after warm-up', m((r) => r.trial.memory?.growthMb ?? null), (v) => v <= 20, (v) => `${v.toFixed(1)} MB`)
    ]
    default: return []
  }
}

// Traffic mixes (lib/traffic-scenarios.js). Below capacity: nothing rejected (≤ 0.1 %).
// Overloaded: as the oracle does (goodput, admitted p99), and fast rejections: p99 ≤ 10 ms,
// or within 1.5x of the oracle's when even the oracle's take longer (the box's own lag).
// A mix shift, at every load: the limit after the shift within 20 % of the limit before it.
// The load is rate / capacity, so `--load x` is judged as the load it offers.
function trafficChecks (scenario, runs, m, ratio) {
  const checks = []
  if (scenario.rate < scenario.capacity) {
    checks.push(check('≤ 0.1 % rejected', m((r) => r.trial.total.rejectedFraction), (v) => v <= 0.001, (v) => `${(v * 100).toFixed(3)} %`))
  } else {
    const rejection = m((r) => r.trial.total.rejectionP99)
    const vsOracle = m((r) => ratio(r.trial.total.rejectionP99, r.oracle?.total.rejectionP99))
    checks.push(
      check('goodput ≥ 95 % of oracle', m((r) => ratio(r.trial.total.goodput, r.oracle?.total.goodput)), (v) => v >= 0.95, pct),
      check('admitted p99 ≤ 1.5x oracle', m((r) => ratio(r.trial.total.admittedP99, r.oracle?.total.admittedP99)), (v) => v <= 1.5, times),
      check('rejection p99 ≤ 10 ms or ≤ 1.5x oracle', rejection, (v) => v <= 10 || (vsOracle !== null && vsOracle <= 1.5),
        (v) => vsOracle === null ? ms(v) : `${ms(v)} (${times(vsOracle)})`)
    )
  }
  const shiftAt = scenario.phases?.[0]?.atMs
  if (shiftAt !== undefined) {
    // The limits themselves are shown too: a limit that stayed at its floor "held" as well.
    const shift = (r) => limitAcrossShift(r.trial.samples, shiftAt, scenario.durationMs)
    const before = m((r) => shift(r)?.before ?? null)
    const after = m((r) => shift(r)?.after ?? null)
    checks.push(check('limit after the shift within 20 % of before', m((r) => shift(r)?.ratio ?? null), (v) => Math.abs(v - 1) <= 0.2,
      (v) => `${times(v)} (${before} → ${after})`))
  }
  return checks
}

// Long-lived requests next to ordinary traffic. Below capacity: ≤ 0.1 % of ordinary requests
// refused, and the long-lived ones themselves ≤ 1 % refused. Overloaded: ordinary goodput
// and admitted p99 as the reference's (the oracle: a static limit leaving the long-lived
// route out).
function longLivedChecks (scenario, m, ratio) {
  if (scenario.rate < scenario.capacity) {
    return [
      check('ordinary ≤ 0.1 % refused', m((r) => r.trial.total.rejectedFraction), (v) => v <= 0.001, (v) => `${(v * 100).toFixed(3)} %`),
      check('long-lived ≤ 1 % refused', m((r) => r.trial.sidecar?.refusedFraction ?? null), (v) => v <= 0.01, (v) => `${(v * 100).toFixed(2)} %`)
    ]
  }
  return [
    check('goodput ≥ 95 % of reference', m((r) => ratio(r.trial.total.goodput, r.oracle?.total.goodput)), (v) => v >= 0.95, pct),
    check('admitted p99 ≤ 1.5x reference', m((r) => ratio(r.trial.total.admittedP99, r.oracle?.total.admittedP99)), (v) => v <= 1.5, times)
  ]
}

// A hung downstream at shift.dropAtMs: seconds (per second of schedule, from the first whole
// second after the hang: a second that starts before it mixes in the healthy part) until
// every later second refuses at least 90 % of what the server can no longer serve:
// rejected / offered ≥ 0.9 x (1 - capacityAfter / offered rate). null: never.
function hungShedSeconds (trial, scenario) {
  const from = Math.ceil(scenario.shift.dropAtMs / 1000)
  return secondsUntilSettled(trial.perSecond, from, trial.perSecond.length, (s) =>
    s.offered > 0 && s.rejected / s.offered >= 0.9 * Math.max(0, 1 - scenario.capacityAfter / s.offeredRate))
}

module.exports = { evaluateTargets, hungShedSeconds, longLivedChecks, shiftRecovery, secondsUntilSettled, limitAcrossShift, median }
