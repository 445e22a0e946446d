// The plugin's options, read once. resolveOptions() checks every option and returns the typed
// configuration of every feature; nothing downstream checks an option again. It runs inside the
// plugin function, so a bad value rejects `ready()` with FST_CONCURRENCY_INVALID_OPTION naming
// the option and what it accepts.
import { ALGORITHM_NAMES, createAlgorithm, isLimitAlgorithm } from './algorithms'
import type { AlgorithmName } from './algorithms'
import type { LimitAlgorithm } from './algorithms/types'
import { resolvePartitions, resolveQueue, type ResolvedPartitions, type ResolvedQueue } from './backlog/options'
import { invalidOption } from './errors'
import { resolveEventLoopOptions } from './eventloop/gate'
import { readInternal, type InternalHooks } from './internal'
import { resolveObservability, type ResolvedObservability } from './observability/options'
import { resolveRejection, type ResolvedRejection } from './refusal'
import { resolveDrainOnClose, resolveSessions, type ResolvedSessions } from './sessions/options'
import { resolveCoordination, type ResolvedCoordination } from './coordination/options'
import { resolveLongLivedAfter } from './longlived/options'
import { resolveSampleClass, type SampleClassFunction } from './signal/request-class'
import { resolveStatusRoute, type ResolvedStatusRoute } from './status-route'
import { describe, functionOption, knownKeys, numberOption, objectOption } from './validate'
import type { BypassFunction, ClassifyFunction, FastifyAdaptiveConcurrencyOptions, SignalOptions } from './types'

export const OPTION_NAMES = [
  'algorithm', 'signal', 'eventLoop', 'bypass', 'rejection', 'queue', 'partitions',
  'sessions', 'drainOnClose', 'observability', 'statusRoute', 'coordination'
] as const satisfies ReadonlyArray<keyof FastifyAdaptiveConcurrencyOptions>

export const DEFAULT_ALGORITHM: AlgorithmName = 'gradient2'
/** Named algorithms that never compare latencies (AIMD's timeout is absolute): classes off by default. */
const LATENCY_BLIND = new Set<unknown>(['aimd', 'fixed'])
export const DEFAULT_TIMEOUT_MS = 5000

export interface ResolvedSignal {
  /** Per-class latency: on (with an optional custom classifier) or off (raw latency). */
  sampleClass: { enabled: boolean, custom: SampleClassFunction | undefined }
  classify: ClassifyFunction | undefined
  timeout: number
  /** A route class is learned long-lived from a window this long (ms); Infinity: never. */
  longLivedAfter: number
}

export interface ResolvedOptions {
  algorithm: LimitAlgorithm
  signal: ResolvedSignal
  /** The event-loop gate's settings; undefined when turned off. */
  eventLoop: { maxWait: number } | undefined
  bypass: BypassFunction | undefined
  rejection: ResolvedRejection
  /** undefined (`queue: false`): requests at the limit are rejected at once, with no deadline checks. */
  queue: ResolvedQueue | undefined
  partitions: ResolvedPartitions | undefined
  sessions: ResolvedSessions | undefined
  /** fastify.close() drains first, for at most this many ms; undefined when off. */
  drainOnClose: number | undefined
  observability: ResolvedObservability
  statusRoute: ResolvedStatusRoute | undefined
  /** One limit budget with the other processes on the same backend, through Redis; undefined when off. */
  coordination: ResolvedCoordination | undefined
  /** Clocks and timers from tests (see lib/internal.ts). */
  internal: InternalHooks
}

export function resolveOptions (input: unknown): ResolvedOptions {
  const opts = objectOption('options', input) ?? {}
  knownKeys('', opts, OPTION_NAMES)
  const internal = readInternal(opts)
  const { algorithm, named } = resolveAlgorithm(opts.algorithm)
  return {
    algorithm,
    signal: resolveSignal(opts.signal, named),
    eventLoop: resolveEventLoopOptions(opts.eventLoop),
    bypass: functionOption<BypassFunction>('bypass', opts.bypass),
    rejection: resolveRejection(opts.rejection),
    queue: resolveQueue(opts.queue),
    partitions: resolvePartitions(opts.partitions),
    sessions: resolveSessions(opts.sessions, internal),
    drainOnClose: resolveDrainOnClose(opts.drainOnClose),
    observability: resolveObservability(opts.observability),
    statusRoute: resolveStatusRoute(opts.statusRoute),
    coordination: resolveCoordination(opts.coordination, algorithm),
    internal
  }
}

/** `algorithm`: a name, an instance, or `{ name, options, window }`. */
function resolveAlgorithm (value: unknown): { algorithm: LimitAlgorithm, named: AlgorithmName | undefined } {
  if (value === undefined) return { algorithm: createAlgorithm(DEFAULT_ALGORITHM), named: DEFAULT_ALGORITHM }
  if (typeof value === 'string') return { algorithm: createAlgorithm(algorithmName('algorithm', value)), named: value as AlgorithmName }
  if (isLimitAlgorithm(value)) return { algorithm: value, named: undefined }
  if (value === null || typeof value !== 'object' || Array.isArray(value) || !('name' in value) || typeof value.name !== 'string') {
    invalidOption('algorithm', `expected a name (${ALGORITHM_NAMES.join(', ')}), a LimitAlgorithm (name, limit, onSample(), state()) or { name, options, window }, got ${describe(value)}`)
  }
  const obj = value as Record<string, unknown>
  knownKeys('algorithm', obj, ['name', 'options', 'window'])
  const name = algorithmName('algorithm.name', obj.name)
  const options = objectOption('algorithm.options', obj.options)
  const window = obj.window
  // The windows take their time from each sample; a clock is a test hook of the class itself.
  if (window !== null && typeof window === 'object' && 'clock' in window) {
    invalidOption('algorithm.window.clock', 'unknown option: the windows take their time from each sample')
  }
  return { algorithm: createAlgorithm(name, options, window as never), named: name }
}

function algorithmName (option: string, value: unknown): AlgorithmName {
  if (typeof value !== 'string' || !(ALGORITHM_NAMES as readonly string[]).includes(value)) {
    invalidOption(option, `expected one of ${ALGORITHM_NAMES.map(n => `'${n}'`).join(', ')}, got ${describe(value)}`)
  }
  return value as AlgorithmName
}

function resolveSignal (value: unknown, named: AlgorithmName | undefined): ResolvedSignal {
  const opts = objectOption('signal', value) ?? {}
  knownKeys('signal', opts, ['sampleClass', 'classify', 'timeout', 'longLivedAfter'] satisfies Array<keyof SignalOptions>)
  return {
    sampleClass: opts.sampleClass === undefined && LATENCY_BLIND.has(named)
      ? { enabled: false, custom: undefined }
      : resolveSampleClass(opts.sampleClass),
    classify: functionOption<ClassifyFunction>('signal.classify', opts.classify),
    timeout: numberOption('signal.timeout', opts.timeout, DEFAULT_TIMEOUT_MS, 0, Infinity, { minExclusive: true }),
    longLivedAfter: resolveLongLivedAfter(opts.longLivedAfter)
  }
}
