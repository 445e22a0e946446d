export { Limiter } from './limiter'
export type { LimiterOptions, LimiterSnapshot } from './limiter'
export { Permit } from './permit'
export type { LimiterObserver, LimiterRejectReason, LimiterStats, Outcome, RejectReason } from './events'
