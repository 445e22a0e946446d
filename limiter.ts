// `fastify-adaptive-concurrency/limiter`: admission and accounting without Fastify. The limiter,
// its permits, the wait queue, partitions and the wait estimates the plugin builds on.
export { Limiter } from './lib/limiter/limiter'
export type { LimiterOptions, LimiterSnapshot } from './lib/limiter/limiter'
export { Permit } from './lib/limiter/permit'
export type { LimiterObserver, LimiterRejectReason, LimiterStats, Outcome, RejectReason } from './lib/limiter/events'
export { WaitQueue, Waiter } from './lib/limiter/wait-queue'
export type { QueueOrder, TimerApi, ExpiryReason, WaitQueueOptions } from './lib/limiter/wait-queue'
export { PartitionSet, DEFAULT_PARTITION } from './lib/limiter/partitions'
export type { PartitionStatus } from './lib/limiter/partitions'
export { ServiceTimeEwma, estimateWait, deadlineUnreachable, parseDeadlineHeader } from './lib/limiter/wait-estimate'
export { SampleClasses, SampleClass } from './lib/limiter/sample-classes'
export type { SampleClassStats } from './lib/limiter/sample-classes'
