// `fastify-adaptive-concurrency/sessions`: session tracking, the overload policy and the session
// stores (in memory, Redis), usable without Fastify. The plugin's `sessions` option wires them.
export { MemoryStore, RedisStore, SessionOverloadPolicy, SessionTracker, StoreTimeoutError } from './lib/sessions'
export type {
  ActiveSessionCount, Admission, DrainOptions, DrainResult, DrainTimers, OverloadPolicyOptions, RedisClient, RedisStoreOptions, Seat, SessionClass,
  SessionRefusal, SessionStats, SessionStore, SessionTrackerOptions, StoreErrorPolicy, StoreLogger
} from './lib/sessions'
