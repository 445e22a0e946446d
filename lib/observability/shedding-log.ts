// Logs for operators, through the app's pino logger (any object with debug/warn works):
// - every limit change at debug (skipped without building anything when debug is off);
// - sustained shedding at warn, at most once per interval, with counts:
//   "rejected 1,234 requests in the last 10 s; limit 17, rtt p50 12 ms".
//
// No timer: the interval is measured between rejection timestamps (injected clock). Shedding
// is "sustained" once rejections have kept coming for a whole interval without a pause longer
// than the interval; a short burst that stops is not logged (the metrics and the history count
// it). The price of having no timer: the warning for a window is written at the first
// rejection after the window ends, never on an idle process.
import { performance } from 'node:perf_hooks'
import type { LimiterObserver, LimiterStats, RejectReason } from '../limiter/events'

/** The subset of pino's logger API used here. */
export interface LoggerLike {
  debug (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  isLevelEnabled? (level: string): boolean
}

export interface SheddingLogOptions {
  logger: LoggerLike
  stats: Pick<LimiterStats, 'limit'>
  /** Minimum ms between two shedding warnings. Default 10 000. */
  interval?: number
  /** Monotonic clock, ms. Default performance.now. */
  now?: () => number
  /** Recent sample RTT p50 in ms (e.g. History.lastRttP50), for the warning. */
  rttP50?: () => number | undefined
}

export function createSheddingLog (options: SheddingLogOptions): LimiterObserver {
  const { logger, stats } = options
  // Checked once, with the other options (observability/options.ts).
  const interval = options.interval ?? 10_000
  const now = options.now ?? (() => performance.now())
  const rttP50 = options.rttP50

  let windowStart = -Infinity
  let lastReject = -Infinity
  let count = 0
  let reasons: Partial<Record<RejectReason, number>> = {}

  return {
    onLimitChange (oldLimit: number, newLimit: number, reason: string): void {
      if (logger.isLevelEnabled !== undefined && !logger.isLevelEnabled('debug')) return
      logger.debug({ oldLimit, newLimit, reason }, `concurrency limit ${oldLimit} -> ${newLimit} (${reason})`)
    },
    onReject (reason: RejectReason): void {
      const t = now()
      if (t - lastReject > interval) {
        // A pause longer than the interval ends the episode: start counting afresh.
        windowStart = t
        count = 0
        reasons = {}
      }
      lastReject = t
      count++
      reasons[reason] = (reasons[reason] ?? 0) + 1
      const elapsed = t - windowStart
      if (elapsed < interval) return

      const seconds = Math.round(elapsed / 1000)
      const p50 = rttP50?.()
      const limit = stats.limit
      logger.warn(
        { rejected: count, seconds, limit, rttP50: p50 ?? null, reasons },
        `rejected ${count.toLocaleString('en-US')} requests in the last ${seconds} s; ` +
        `limit ${limit}, rtt p50 ${p50 === undefined ? 'n/a' : formatMs(p50)}`
      )
      windowStart = t
      count = 0
      reasons = {}
    }
  }
}

function formatMs (ms: number): string {
  return ms >= 10 ? `${Math.round(ms)} ms` : `${Math.round(ms * 10) / 10} ms`
}
