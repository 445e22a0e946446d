// `signal.longLivedAfter`, read once: from which no-load latency a route is learned long-lived.
import { invalidOption } from '../errors'
import { DEFAULT_LONG_LIVED_AFTER_MS } from '../limiter/sample-classes'
import { describe, isFiniteNumber } from '../validate'

/** A positive number of ms (default 1000), or `false` for never (Infinity). */
export function resolveLongLivedAfter (value: unknown): number {
  if (value === undefined) return DEFAULT_LONG_LIVED_AFTER_MS
  if (value === false) return Infinity
  if (!isFiniteNumber(value) || value <= 0) {
    invalidOption('signal.longLivedAfter', `expected a number of ms > 0, or false, got ${describe(value)}`)
  }
  return value
}
