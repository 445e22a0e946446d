'use strict'

const hdr = require('hdr-histogram-js')

// Latencies are recorded in microseconds (integers, as HDR histograms want) and reported
// in milliseconds. 3 significant digits: p99 of 12.345 ms is reported as 12.34x ms.
const HIGHEST_US = 10 * 60 * 1000 * 1000

function newHistogram () {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_US, numberOfSignificantValueDigits: 3 })
}

function newCounters () {
  return { offered: 0, sent: 0, ok: 0, expected: 0, good: 0, rejected: 0, otherStatus: 0, errors: 0, timeouts: 0 }
}

// One bucket of outcomes. Every request is attributed to the bucket of its *scheduled*
// send time, never of its completion time, so a request's whole story lands in one place.
function createBucket () {
  return { counters: newCounters(), admitted: newHistogram(), rejection: newHistogram(), sendLag: newHistogram() }
}

function recordLatency (histogram, ms) {
  histogram.recordValue(Math.max(1, Math.min(HIGHEST_US, Math.round(ms * 1000))))
}

function percentileMs (histogram, p) {
  if (histogram.totalCount === 0) return null
  return histogram.getValueAtPercentile(p) / 1000
}

/**
 * Collects outcomes per second of schedule and over the measured window
 * [warmupMs, durationMs). sloMs decides goodput: a 2xx whose latency is <= sloMs, or an
 * answer with the status the request was sent to get (expectStatus, e.g. 400 for a request
 * that fails validation: the correct answer for it, neither a rejection nor an error).
 * classes: names of traffic classes; a request tagged with class index i (>= 0) is also
 * counted in that class's window totals (no per-second series per class).
 */
function createRecorder ({ durationMs, warmupMs, sloMs, classes = [] }) {
  const seconds = Math.ceil(durationMs / 1000)
  const buckets = Array.from({ length: seconds }, createBucket)
  const total = createBucket()
  const classTotals = classes.map(createBucket)

  function bucketsFor (scheduledMs, classIndex = -1) {
    const second = buckets[Math.min(seconds - 1, Math.floor(scheduledMs / 1000))]
    if (scheduledMs < warmupMs) return [second]
    return classIndex >= 0 ? [second, total, classTotals[classIndex]] : [second, total]
  }

  return {
    offered (scheduledMs, classIndex) {
      for (const b of bucketsFor(scheduledMs, classIndex)) b.counters.offered++
    },
    sent (scheduledMs, lagMs) {
      for (const b of bucketsFor(scheduledMs)) { b.counters.sent++; recordLatency(b.sendLag, lagMs) }
    },
    response (scheduledMs, statusCode, latencyMs, classIndex, expectStatus) {
      for (const b of bucketsFor(scheduledMs, classIndex)) {
        if (statusCode >= 200 && statusCode < 300) {
          b.counters.ok++
          if (latencyMs <= sloMs) b.counters.good++
          recordLatency(b.admitted, latencyMs)
        } else if (statusCode === expectStatus) {
          b.counters.expected++
          if (latencyMs <= sloMs) b.counters.good++
        } else if (statusCode === 503) {
          b.counters.rejected++
          recordLatency(b.rejection, latencyMs)
        } else {
          b.counters.otherStatus++
        }
      }
    },
    failure (scheduledMs, isTimeout, classIndex) {
      for (const b of bucketsFor(scheduledMs, classIndex)) {
        if (isTimeout) b.counters.timeouts++
        else b.counters.errors++
      }
    },
    summarize () {
      return {
        perSecond: buckets.map((b, i) => summarizeBucket(b, Math.min(1000, durationMs - i * 1000), i)),
        total: summarizeBucket(total, durationMs - warmupMs, null),
        classes: Object.fromEntries(classes.map((name, i) => [name, summarizeBucket(classTotals[i], durationMs - warmupMs, null)]))
      }
    }
  }
}

function summarizeBucket (bucket, spanMs, second) {
  const c = bucket.counters
  const perSecond = (n) => n * 1000 / spanMs
  return {
    second,
    ...c,
    offeredRate: perSecond(c.offered),
    sentRate: perSecond(c.sent),
    okRate: perSecond(c.ok),
    goodput: perSecond(c.good),
    rejectedRate: perSecond(c.rejected),
    rejectedFraction: c.offered === 0 ? 0 : c.rejected / c.offered,
    expectedRate: perSecond(c.expected),
    // Share of offered requests answered 2xx (or their expected status) within the SLO: a class's "success".
    goodFraction: c.offered === 0 ? null : c.good / c.offered,
    admittedP50: percentileMs(bucket.admitted, 50),
    admittedP99: percentileMs(bucket.admitted, 99),
    admittedP999: percentileMs(bucket.admitted, 99.9),
    rejectionP50: percentileMs(bucket.rejection, 50),
    rejectionP99: percentileMs(bucket.rejection, 99),
    sendLagP99: percentileMs(bucket.sendLag, 99)
  }
}

module.exports = { createRecorder }
