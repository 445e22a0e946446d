export { Limiter } from './limiter'
export type { AdmissionGate, LimiterOptions, LimiterSnapshot } from './limiter'
export { Permit } from './permit'
export type { LimiterObserver, LimiterStats, Outcome, RejectReason } from './events'
