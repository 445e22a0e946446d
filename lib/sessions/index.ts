// Sessions: priority for active users under overload, a cap on concurrent sessions (local or
// cluster-wide through Redis), and graceful drain. Framework-agnostic; the Fastify plugin
// wires these into its hooks.
export { SessionTracker } from './tracker'
export type { SessionTrackerOptions, SessionClass, SessionRefusal, Admission, DrainOptions, DrainResult, DrainTimers, SessionStats } from './tracker'
export { SessionOverloadPolicy } from './overload-policy'
export type { ActiveSessionCount, OverloadPolicyOptions } from './overload-policy'
export { MemoryStore } from './memory-store'
export { RedisStore } from './redis-store'
export type { RedisClient, RedisStoreOptions, StoreErrorPolicy } from './redis-store'
export { StoreTimeoutError } from './deadline'
export type { Seat, SessionStore, StoreLogger } from './store'
export { isPromise } from './store'
