export type { Sample, LimitAlgorithm, BaseLimitOptions } from './lib/algorithms/types'
export { errors } from './lib/errors'
