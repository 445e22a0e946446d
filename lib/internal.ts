// The seam through which tests give the plugin clocks and timers. It is a symbol-keyed option
// that the public types do not list: deterministic tests need it, users never should.
import type { LoopTurnOptions } from './eventloop/loop-turn'
import type { TimerApi } from './limiter/timers'
import type { DrainTimers } from './sessions/tracker'
import { objectOption } from './validate'

export const kInternal: unique symbol = Symbol('fastify-adaptive-concurrency.internal')

export interface InternalHooks {
  /** The limiter's clock and the queue's timers (default: performance.now and unref'd setTimeout). */
  timers?: TimerApi
  /** Epoch-ms clock of the sessions (default Date.now). */
  sessionClock?: () => number
  /** Timers of the drain wait (default Node's, unref'd). */
  drainTimers?: DrainTimers
  /** The event-loop gate's clock and turn-end scheduling (default performance.now and setImmediate). */
  loop?: LoopTurnOptions
}

export function readInternal (opts: Record<string | symbol, unknown>): InternalHooks {
  return (objectOption('internal', opts[kInternal]) ?? {}) as InternalHooks
}
