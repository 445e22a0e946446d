// The pure limit algorithms, and the factory the plugin maps its options onto.
import { invalidOption } from '../errors'
import { describe } from '../validate'
import { AIMDLimit, type AIMDLimitOptions } from './aimd'
import { FixedLimit, type FixedLimitOptions } from './fixed'
import { Gradient2Limit, type Gradient2LimitOptions } from './gradient2'
import { VegasLimit, type VegasLimitOptions } from './vegas'
import { WindowedLimit, type WindowedLimitOptions } from './windowed'
import type { LimitAlgorithm } from './types'

export type { Sample, LimitAlgorithm, BaseLimitOptions } from './types'
export type { ProbeOptions } from './baseline'
export {
  AIMDLimit, FixedLimit, Gradient2Limit, VegasLimit, WindowedLimit,
  type AIMDLimitOptions, type FixedLimitOptions,
  type Gradient2LimitOptions, type VegasLimitOptions, type WindowedLimitOptions
}

export type AlgorithmName = 'gradient2' | 'vegas' | 'aimd' | 'fixed'

export const ALGORITHM_NAMES: readonly AlgorithmName[] = Object.freeze(['gradient2', 'vegas', 'aimd', 'fixed'])

/**
 * Build a named algorithm from plugin options. Errors name options as the plugin user wrote
 * them: `algorithm`, `algorithm.options.<key>`, `algorithm.window.<key>`. `window` wraps the algorithm in
 * a WindowedLimit unless it is undefined or false.
 */
export function createAlgorithm (name: AlgorithmName, options?: object, window?: WindowedLimitOptions | false): LimitAlgorithm {
  const prefix = 'algorithm.options'
  const opts = options ?? {}
  let algorithm: LimitAlgorithm
  switch (name) {
    case 'gradient2': algorithm = new Gradient2Limit(opts, prefix); break
    case 'vegas': algorithm = new VegasLimit(opts, prefix); break
    case 'aimd': algorithm = new AIMDLimit(opts, prefix); break
    case 'fixed': algorithm = new FixedLimit(opts, prefix); break
    default:
      return invalidOption('algorithm', `expected one of ${ALGORITHM_NAMES.map(n => `'${n}'`).join(', ')}, got ${describe(name)}`)
  }
  return window === undefined || window === false ? algorithm : new WindowedLimit(algorithm, window, 'algorithm.window')
}

/** Duck-typing check for user-supplied algorithm instances. */
export function isLimitAlgorithm (x: unknown): x is LimitAlgorithm {
  if (x === null || typeof x !== 'object') return false
  const a = x as Record<string, unknown>
  return typeof a.name === 'string' &&
    typeof a.limit === 'number' &&
    typeof a.onSample === 'function' &&
    typeof a.state === 'function'
}
