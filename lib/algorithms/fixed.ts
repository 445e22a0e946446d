// A constant limit: the baseline to compare adaptive algorithms against, and the right choice
// when the capacity is known (a pool of N connections).
import { invalidOption } from '../errors'
import { BOUND_KEYS, MAX_LIMIT, OptionReader } from './common'
import type { BaseLimitOptions, LimitAlgorithm, Sample } from './types'

export interface FixedLimitOptions extends BaseLimitOptions {
  /** The limit. Default 20. `initialLimit` is a synonym; min/maxLimit, if given, must contain it. */
  limit?: number
}

export class FixedLimit implements LimitAlgorithm {
  readonly name = 'fixed'
  readonly limit: number
  readonly minLimit: number
  readonly maxLimit: number

  constructor (options: FixedLimitOptions = {}, prefix = '') {
    const r = new OptionReader(prefix, options, ['limit', ...BOUND_KEYS])
    const read = (key: string, min: number, max: number): number | undefined =>
      r.raw(key) === undefined ? undefined : r.integer(key, 0, min, max)
    const limit = read('limit', 1, MAX_LIMIT)
    const initial = read('initialLimit', 1, MAX_LIMIT)
    if (limit !== undefined && initial !== undefined && limit !== initial) {
      invalidOption(r.name('initialLimit'), `expected nothing or the same value as limit (${limit}), got ${initial}`)
    }
    this.limit = limit ?? initial ?? 20
    this.minLimit = read('minLimit', 1, this.limit) ?? this.limit
    this.maxLimit = read('maxLimit', this.limit, MAX_LIMIT) ?? this.limit
  }

  onSample (_sample: Sample): void {}

  state (): Record<string, number | string> {
    return { limit: this.limit }
  }
}
