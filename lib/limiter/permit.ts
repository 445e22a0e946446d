// One admitted request. It is the only allocation the limiter makes per request, so it doubles
// as the latency Sample handed to the algorithm (rtt, inflight, dropped, at, burst): no second object.
import type { Sample } from '../algorithms/types'
import type { SampleClass } from './sample-classes'

export class Permit<C = unknown> implements Sample {
  /** Clock reading (ms) at admission. */
  readonly start: number
  /** Requests in flight when this one was admitted, itself included. */
  readonly inflight: number
  readonly partition: string | undefined
  /**
   * The caller's handle for this request (the Fastify reply, say), so one shared, module-level
   * completion listener can find everything from the permit without a per-request closure.
   */
  readonly context: C
  /** Set by Limiter.release: a second release is a no-op, whatever path calls it. */
  released = false
  /**
   * Filled in once at completion (Limiter.elapsed or release, whichever comes first): latency in
   * ms, completion time (NaN until then), and whether it counted as a drop.
   */
  rtt = 0
  at = Number.NaN
  dropped = false
  /** Set by Limiter.release: waiters were queued behind a burst when this request completed. */
  burst = false
  /** Set by Limiter.release: the limit turned requests away since the previous completion (Sample.limited). */
  limited = false
  /**
   * What kind of request this was, for a limiter with sample classes: set by the caller before
   * release (undefined: the fallback class; null: a class past the cap, not sampled).
   */
  sampleClass: SampleClass | null | undefined = undefined

  constructor (start: number, inflight: number, partition: string | undefined, context: C) {
    this.start = start
    this.inflight = inflight
    this.partition = partition
    this.context = context
  }
}
