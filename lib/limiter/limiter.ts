// Admission and accounting, with no knowledge of Fastify: any server, framework or outgoing client
// can wrap it. tryAcquire() either hands back a Permit or says why not; release() must be called
// exactly once per permit (a second call is a no-op), and feeds the latency sample to the algorithm.
//
// Invariant, at every moment: admitted = succeeded + dropped + ignored + inflight.
import type { LimitAlgorithm } from '../algorithms/types'
import type { LimiterObserver, LimiterStats, Outcome, RejectReason } from './events'
import { Permit } from './permit'

/**
 * One admission step that may shed a request before the capacity check. Later features
 * (event-loop lag, draining, session caps) plug in here; the Limiter runs gates in order and
 * the first reason returned rejects the request. Gates must be O(1) and must not allocate.
 */
export interface AdmissionGate {
  check (stats: LimiterStats, partition: string | undefined): RejectReason | undefined
}

export interface LimiterOptions {
  algorithm: LimitAlgorithm
  /** Monotonic clock in ms. Injected by tests; defaults to performance.now(). */
  now?: () => number
  observers?: LimiterObserver[]
  gates?: AdmissionGate[]
}

export interface LimiterSnapshot {
  limit: number
  inflight: number
  admitted: number
  rejected: number
  succeeded: number
  dropped: number
  ignored: number
  bypassed: number
}

function defaultNow (): number {
  return performance.now()
}

export class Limiter<C = unknown> implements LimiterStats {
  readonly algorithm: LimitAlgorithm
  private readonly now: () => number
  private readonly observers: LimiterObserver[]
  private readonly gates: AdmissionGate[]
  private _inflight = 0
  private _admitted = 0
  private _rejected = 0
  private _succeeded = 0
  private _dropped = 0
  private _ignored = 0
  private _bypassed = 0

  constructor (options: LimiterOptions) {
    this.algorithm = options.algorithm
    this.now = options.now ?? defaultNow
    this.observers = options.observers !== undefined ? options.observers.slice() : []
    this.gates = options.gates !== undefined ? options.gates.slice() : []
  }

  get limit (): number { return this.algorithm.limit }
  get inflight (): number { return this._inflight }
  get admitted (): number { return this._admitted }
  get rejected (): number { return this._rejected }
  get succeeded (): number { return this._succeeded }
  get dropped (): number { return this._dropped }
  get ignored (): number { return this._ignored }
  get bypassed (): number { return this._bypassed }

  /** True when the next request would be rejected for lack of capacity. */
  isAtLimit (): boolean {
    return this._inflight >= this.algorithm.limit
  }

  addObserver (observer: LimiterObserver): void {
    this.observers.push(observer)
  }

  removeObserver (observer: LimiterObserver): void {
    const i = this.observers.indexOf(observer)
    if (i !== -1) this.observers.splice(i, 1)
  }

  addGate (gate: AdmissionGate): void {
    this.gates.push(gate)
  }

  /**
   * Admit a request, or return why not. Returning the reason as a string (not an object or an
   * exception) keeps the rejection path allocation-free; `typeof result === 'string'` tells them apart.
   */
  tryAcquire (context: C, partition?: string): Permit<C> | RejectReason {
    const gates = this.gates
    for (let i = 0; i < gates.length; i++) {
      const reason = gates[i].check(this, partition)
      if (reason !== undefined) return this.reject(reason, partition)
    }
    if (this._inflight >= this.algorithm.limit) return this.reject('limit', partition)
    const inflight = ++this._inflight
    this._admitted++
    const permit = new Permit(this.now(), inflight, partition, context)
    const observers = this.observers
    for (let i = 0; i < observers.length; i++) observers[i].onAdmit?.(partition)
    return permit
  }

  /** Count a rejection decided here or by a later asynchronous step (a queue timeout, say). */
  reject (reason: RejectReason, partition: string | undefined): RejectReason {
    this._rejected++
    const observers = this.observers
    for (let i = 0; i < observers.length; i++) observers[i].onReject?.(reason, partition)
    return reason
  }

  /** A request that skipped the limiter entirely (health checks, internal traffic). */
  recordBypass (): void {
    this._bypassed++
  }

  /** Milliseconds since the permit was granted (for classifying before release). */
  elapsed (permit: Permit<C>): number {
    return this.now() - permit.start
  }

  /**
   * Give the permit back. Returns false (and does nothing) if it was already released, so every
   * completion path (close, error, abort) may call it without double counting. Accounting is
   * updated before the algorithm runs, so a throwing algorithm cannot leak a permit.
   */
  release (permit: Permit<C>, outcome: Outcome): boolean {
    if (permit.released) return false
    permit.released = true
    const at = this.now()
    permit.at = at
    permit.rtt = at - permit.start
    this._inflight--
    const observers = this.observers
    if (outcome === 'ignore') {
      this._ignored++
    } else {
      const dropped = outcome === 'drop'
      permit.dropped = dropped
      if (dropped) this._dropped++
      else this._succeeded++
      const algorithm = this.algorithm
      const before = algorithm.limit
      algorithm.onSample(permit)
      for (let i = 0; i < observers.length; i++) observers[i].onSample?.(permit, permit.partition)
      const after = algorithm.limit
      if (after !== before) {
        const reason = dropped ? 'drop' : 'sample'
        for (let i = 0; i < observers.length; i++) observers[i].onLimitChange?.(before, after, reason)
      }
    }
    for (let i = 0; i < observers.length; i++) observers[i].onRelease?.(outcome, permit.rtt, permit.partition)
    return true
  }

  snapshot (): LimiterSnapshot {
    return {
      limit: this.algorithm.limit,
      inflight: this._inflight,
      admitted: this._admitted,
      rejected: this._rejected,
      succeeded: this._succeeded,
      dropped: this._dropped,
      ignored: this._ignored,
      bypassed: this._bypassed
    }
  }
}
