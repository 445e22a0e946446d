// Pieces every built-in algorithm shares: option reading (with the option's full name in
// errors), the [minLimit, maxLimit] bounds, sample validation, slow start and drop backoff.
import { invalidOption } from '../errors'
import { booleanOption, knownKeys, numberOption, objectOption } from '../validate'
import type { LimitAlgorithm, Sample } from './types'

/** Largest limit we accept: keeps every intermediate (limit * 2, limit + beta) an exact integer. */
export const MAX_LIMIT = 1_000_000_000

export function optionName (prefix: string, key: string): string {
  return prefix === '' ? key : `${prefix}.${key}`
}

type NumberFlags = Parameters<typeof numberOption>[5]

/** Reads one algorithm's options object; every error names the option with its prefix. */
export class OptionReader {
  readonly prefix: string
  private readonly options: Record<string, unknown>

  constructor (prefix: string, options: unknown, allowedKeys: readonly string[]) {
    this.prefix = prefix
    this.options = objectOption(prefix === '' ? 'options' : prefix, options) ?? {}
    knownKeys(prefix, this.options, allowedKeys)
  }

  name (key: string): string {
    return optionName(this.prefix, key)
  }

  raw (key: string): unknown {
    return this.options[key]
  }

  number (key: string, def: number, min?: number, max?: number, flags?: NumberFlags): number {
    return numberOption(this.name(key), this.options[key], def, min, max, flags)
  }

  integer (key: string, def: number, min: number, max: number): number {
    return this.number(key, def, min, max, { integer: true })
  }

  /** A ratio in (0, 1], the shape of every smoothing factor. */
  fraction (key: string, def: number): number {
    return this.number(key, def, 0, 1, { minExclusive: true })
  }

  boolean (key: string, def: boolean): boolean {
    return booleanOption(this.name(key), this.options[key], def)
  }
}

export interface LimitBounds {
  initialLimit: number
  minLimit: number
  maxLimit: number
}

export const BOUND_KEYS = ['initialLimit', 'minLimit', 'maxLimit'] as const

/**
 * initialLimit, minLimit and maxLimit, checked against each other. A bound the user left unset
 * widens to include the values they did set, so `{ initialLimit: 10 }` alone is valid even
 * when the default minLimit is 20; two explicit values that contradict each other throw.
 */
export function readBounds (r: OptionReader, defaults: LimitBounds): LimitBounds {
  const read = (key: string): number | undefined =>
    r.raw(key) === undefined ? undefined : r.integer(key, 0, 1, MAX_LIMIT)
  const initial = read('initialLimit')
  const min = read('minLimit')
  const max = read('maxLimit')
  const minLimit = min ?? Math.min(defaults.minLimit, initial ?? Infinity, max ?? Infinity)
  const maxLimit = max ?? Math.max(defaults.maxLimit, initial ?? 0, minLimit)
  if (minLimit > maxLimit) {
    invalidOption(r.name('minLimit'), `expected an integer in [1, maxLimit=${maxLimit}], got ${minLimit}`)
  }
  const initialLimit = initial ?? clamp(defaults.initialLimit, minLimit, maxLimit)
  if (initialLimit < minLimit || initialLimit > maxLimit) {
    invalidOption(r.name('initialLimit'),
      `expected an integer in [minLimit=${minLimit}, maxLimit=${maxLimit}], got ${initialLimit}`)
  }
  return { initialLimit, minLimit, maxLimit }
}

export function clamp (value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value
}

/** NaN, negative or infinite rtt, negative inflight, non-finite `at`: the sample is ignored. */
export function isValidSample (s: Sample): boolean {
  return s !== null && typeof s === 'object' &&
    Number.isFinite(s.rtt) && s.rtt >= 0 &&
    Number.isFinite(s.inflight) && s.inflight >= 0 &&
    (s.at === undefined || Number.isFinite(s.at))
}

export const ADAPTIVE_KEYS = [...BOUND_KEYS, 'backoffRatio', 'slowStart'] as const

export interface AdaptiveSettings {
  bounds: LimitBounds
  backoffRatio: number
  slowStart: boolean
}

export function readAdaptive (r: OptionReader, defaults: LimitBounds): AdaptiveSettings {
  return {
    bounds: readBounds(r, defaults),
    backoffRatio: r.number('backoffRatio', 0.9, 0.5, 1, { maxExclusive: true }),
    slowStart: r.boolean('slowStart', true)
  }
}

/**
 * Base of the adaptive algorithms. Keeps a real-valued estimate clamped to [minLimit, maxLimit]
 * and exposes its integer part, so `limit` is always a finite integer in range whatever the
 * subclass computes. Invalid samples never reach the subclass.
 */
export abstract class AdaptiveLimit implements LimitAlgorithm {
  abstract readonly name: string
  readonly minLimit: number
  readonly maxLimit: number
  readonly backoffRatio: number
  protected estimate: number
  protected inSlowStart: boolean
  /** An upper bound on the exposed limit that a subclass may impose for a while (a probe). */
  protected cap = Infinity

  constructor (settings: AdaptiveSettings) {
    this.minLimit = settings.bounds.minLimit
    this.maxLimit = settings.bounds.maxLimit
    this.estimate = settings.bounds.initialLimit
    this.backoffRatio = settings.backoffRatio
    this.inSlowStart = settings.slowStart && this.estimate < this.maxLimit
  }

  /** Added to the estimate before it is rounded down to the limit, in [0, 1) (see Gradient2's coordination). */
  protected dither = 0

  get limit (): number {
    const dithered = this.estimate + this.dither
    const capped = Math.floor(dithered < this.cap ? dithered : this.cap)
    return capped < this.minLimit ? this.minLimit : capped
  }

  onSample (sample: Sample): void {
    if (!isValidSample(sample)) return
    if (sample.dropped === true) {
      // A drop is the loudest overload signal there is (and a failing downstream answers fast,
      // so latency alone would look healthy): back off multiplicatively, leave slow start.
      // Dropped samples never feed RTT baselines, for the same reason.
      this.inSlowStart = false
      this.onDrop(sample)
      return
    }
    this.update(sample)
  }

  /** Default drop reaction; AIMD and Vegas keep it, subclasses may add bookkeeping. */
  protected onDrop (_sample: Sample): void {
    this.setEstimate(this.estimate * this.backoffRatio)
  }

  protected abstract update (sample: Sample): void

  protected setEstimate (value: number): void {
    this.estimate = clamp(value, this.minLimit, this.maxLimit)
  }

  /**
   * Slow start: while no queueing has been seen, double the limit each time a sample shows it
   * fully used. Doubling waits for a sample admitted under the new limit, so the limit doubles
   * once per round trip (as TCP's does) and overshoots true capacity by at most 2x before
   * the first queueing sign ends it for good. Returns true when it doubled the limit; other
   * samples go through the algorithm's usual rule, so slow start only ever adds speed.
   */
  protected slowStartStep (sample: Sample, queueing: boolean): boolean {
    if (!this.inSlowStart) return false
    if (queueing) {
      this.inSlowStart = false
      return false
    }
    if (sample.inflight < this.limit) return false
    this.setEstimate(this.estimate * 2)
    if (this.estimate >= this.maxLimit) this.inSlowStart = false
    return true
  }

  /** Fewer than half the limit in use: latency says nothing about whether more would fit. */
  protected appLimited (sample: Sample): boolean {
    return sample.inflight * 2 < this.estimate
  }

  state (): Record<string, number | string> {
    return {
      limit: this.limit,
      estimate: round3(this.estimate),
      slowStart: this.inSlowStart ? 'on' : 'off'
    }
  }
}

export function round3 (x: number): number {
  return Math.round(x * 1000) / 1000
}
