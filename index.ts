// The package root: the Fastify plugin, its errors and its types. The framework-agnostic parts
// have their own entry points: ./limiter, ./algorithms and ./sessions.
//
// The shape is the one official Fastify plugins use, so that every module system sees the same
// thing: `require()` returns the plugin itself, with `default`, `fastifyAdaptiveConcurrency` and
// `errors` on it; the types travel in a namespace merged with it under `export =`. An ES module
// default-importing it gets the plugin (not a namespace object), and its named imports work
// because the end of this file spells them out for Node's static CommonJS export detection.
import { fastifyAdaptiveConcurrency as plugin } from './lib/plugin'
import { errors as pluginErrors } from './lib/errors'
import type * as options from './lib/types'
import type * as algorithms from './lib/algorithms'
import type * as limiter from './limiter'
import type * as sessions from './lib/sessions'
import type * as sessionOptions from './lib/sessions/options'
import type { EventLoopOptions as EventLoopOptionsType } from './lib/eventloop/gate'
import type * as observability from './lib/observability/options'
import type { HistoryPoint as HistoryPointType } from './lib/observability/history'

type Plugin = typeof plugin

interface RootExports {
  /** The plugin, for `import plugin from` under TypeScript's CommonJS interop. */
  default: Plugin
  fastifyAdaptiveConcurrency: Plugin
  /** The FST_ error constructors, for `instanceof` checks and codes. */
  errors: typeof pluginErrors
}

const fastifyAdaptiveConcurrency: Plugin & RootExports = Object.assign(plugin, {
  default: plugin,
  fastifyAdaptiveConcurrency: plugin,
  errors: pluginErrors
})

// eslint-disable-next-line @typescript-eslint/no-redeclare -- the types merge with the value exported below
declare namespace fastifyAdaptiveConcurrency {
  // Options
  export type FastifyAdaptiveConcurrencyOptions = options.FastifyAdaptiveConcurrencyOptions
  export type AlgorithmConfig = options.AlgorithmConfig
  export type AlgorithmOptions = options.AlgorithmOptions
  export type AlgorithmName = algorithms.AlgorithmName
  export type WindowOption = options.WindowOption
  export type SignalOptions = options.SignalOptions
  export type ClassifyFunction = options.ClassifyFunction
  export type SampleClassFunction = options.SampleClassFunction
  export type BypassFunction = options.BypassFunction
  export type RejectionOptions = options.RejectionOptions
  export type OnLimitExceededFunction = options.OnLimitExceededFunction
  export type LimitExceededInfo = options.LimitExceededInfo
  export type StatusRouteOptions = options.StatusRouteOptions
  export type EventLoopOptions = EventLoopOptionsType
  export type ObservabilityOptions = observability.ObservabilityOptions
  export type MetricsOptions = observability.MetricsOptions
  export type MetricsRegistry = observability.MetricsRegistry
  export type LoggingOptions = observability.LoggingOptions
  export type HistoryOptions = observability.HistoryOptions
  export type QueueOptions = options.QueueOptions
  export type PartitionsOptions = options.PartitionsOptions
  export type RouteConcurrencyConfig = options.RouteConcurrencyConfig
  export type RouteConcurrencySettings = options.RouteConcurrencySettings
  export type SessionsOptions = sessionOptions.SessionsOptions
  export type SessionKeyFunction = sessionOptions.SessionKeyFunction
  export type OnSessionRefusedFunction = sessionOptions.OnSessionRefusedFunction
  export type DrainOnCloseOptions = sessionOptions.DrainOnCloseOptions
  // fastify.concurrency and the status route
  export type ConcurrencyStatus = options.ConcurrencyStatus
  export type ConcurrencySnapshot = options.ConcurrencySnapshot
  export type SnapshotOptions = options.SnapshotOptions
  export type UnderPressureReadings = options.UnderPressureReadings
  export type QueueSnapshot = options.QueueSnapshot
  export type SampleClassStats = options.SampleClassStats
  export type LongLivedStatus = options.LongLivedStatus
  export type PartitionStatus = options.PartitionStatus
  export type HistoryPoint = HistoryPointType
  export type SessionStats = sessions.SessionStats
  export type SessionRefusal = sessions.SessionRefusal
  export type DrainOptions = sessions.DrainOptions
  export type DrainResult = sessions.DrainResult
  export type Outcome = limiter.Outcome
  export type RejectReason = options.RejectReason
}

export = fastifyAdaptiveConcurrency

// Node finds the names an ES module may import from CommonJS by scanning the source for
// `module.exports.<name> =` (cjs-module-lexer); it cannot see through Object.assign or export =.
// These lines exist for that scan: tsc emits `module.exports = fastifyAdaptiveConcurrency` after
// them, and that object already carries the same values.
module.exports.fastifyAdaptiveConcurrency = plugin
module.exports.errors = pluginErrors
