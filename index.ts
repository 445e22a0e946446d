import { fastifyAdaptiveConcurrency } from './lib/plugin'
import './lib/types'

export * from './lib/algorithms'
export { errors } from './lib/errors'
export { Limiter, Permit } from './lib/limiter'
export type {
  AdmissionGate, LimiterOptions, LimiterSnapshot, LimiterObserver, LimiterStats, Outcome, RejectReason
} from './lib/limiter'
export type {
  AlgorithmOptions, BypassFunction, ClassifyFunction, ConcurrencySnapshot, ConcurrencyStatus,
  CustomAlgorithmOptions, FastifyAdaptiveConcurrencyOptions, LimitExceededInfo, NamedAlgorithmOptions,
  OnLimitExceededFunction, StatusRouteOptions, UnderPressureReadings, WindowOption
} from './lib/types'
export { MemoryStore, RedisStore, SessionTracker, SessionOverloadPolicy, StoreTimeoutError } from './lib/sessions'
export type {
  DrainOptions, DrainResult, OverloadPolicyOptions, RedisStoreOptions, Seat, SessionRefusal, SessionStats,
  SessionStore, SessionTrackerOptions, StoreErrorPolicy, StoreLogger
} from './lib/sessions'
export type { DrainOnCloseOptions, OnSessionRefusedFunction, SessionKeyFunction, SessionsOptions } from './lib/sessions/wiring'
export { PartitionSet, DEFAULT_PARTITION } from './lib/limiter/partitions'
export { WaitQueue, Waiter } from './lib/limiter/wait-queue'
export { ServiceTimeEwma, estimateWait, deadlineUnreachable, parseDeadlineHeader } from './lib/limiter/wait-estimate'
export type { QueueOrder, TimerApi, ExpiryReason } from './lib/limiter/wait-queue'
export type { PartitionStatus, QueueOptions, QueueSnapshot, RouteConcurrencyConfig } from './lib/types'
export { fastifyAdaptiveConcurrency }
export default fastifyAdaptiveConcurrency

// CommonJS consumers get the plugin itself from require(), as with every Fastify plugin, with
// `.default`, `.fastifyAdaptiveConcurrency` and the named exports hanging off it.
module.exports = Object.assign(fastifyAdaptiveConcurrency, module.exports)
