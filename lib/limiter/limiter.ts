// Admission and accounting, with no knowledge of Fastify: any server, framework or outgoing client
// can wrap it. tryAcquire() either hands back a Permit or says why not; release() must be called
// exactly once per permit (a second call is a no-op), and feeds the latency sample to the algorithm.
//
// Invariant, at every moment: admitted = succeeded + dropped + ignored + inflight.
//
// Backlog (optional): with a `queue`, acquire() may hand back a Waiter instead of rejecting; the
// waiter is granted a permit later, from release() (onGranted), or rejected by the queue's timer
// (onQueueReject). A queued request is neither admitted nor rejected until then, so the invariant
// holds throughout. With `partitions`, each permit is charged to a partition (see partitions.ts),
// and a full queue makes room for a more important partition's request by evicting its least
// important waiter, which is rejected ('queue-full', counted against its own partition).
import type { LimitAlgorithm } from '../algorithms/types'
import type { LimiterObserver, LimiterStats, Outcome, RejectReason } from './events'
import { invalidOption } from '../errors'
import type { Partition, PartitionSet } from './partitions'
import { Permit } from './permit'
import type { SampleClasses } from './sample-classes'
import { ServiceTimeEwma, deadlineUnreachable, estimateWait } from './wait-estimate'
import { WaitQueue, Waiter, systemTimers } from './wait-queue'
import type { ExpiryReason, QueueOrder, TimerApi } from './wait-queue'

export interface LimiterOptions<C = unknown> {
  algorithm: LimitAlgorithm
  /** Monotonic clock in ms. Injected by tests; defaults to systemTimers.now (epoch ms, shared by processes). */
  now?: () => number
  observers?: LimiterObserver[]
  /**
   * A bounded wait queue for requests that find no free permit (acquire() only); with
   * `standingTimeout`, a controlled-delay queue (see wait-queue.ts).
   */
  queue?: { size: number, timeout: number, order?: QueueOrder, standingTimeout?: number, interval?: number }
  /** Shares of the limit per class of traffic; one queue level per partition, in declaration order. */
  partitions?: PartitionSet
  /**
   * Moving average of latency, for wait estimates and deadlines. Created automatically with a
   * queue; pass one to use deadlines without a queue.
   */
  serviceTime?: ServiceTimeEwma
  /** Reject ('estimated-wait') instead of queueing when the estimated wait exceeds this (ms). */
  maxEstimatedWait?: number
  /**
   * Per-class latency baselines: the algorithm then sees each sample's latency relative to its
   * class's no-load latency (see sample-classes.ts), set on each permit before release.
   */
  sampleClasses?: SampleClasses
  /** Timers for the queue. Its clock also becomes the limiter's when `now` is not given. */
  timers?: TimerApi
  /** A queued request got a permit (from release()). Required with `queue`; must not throw. */
  onGranted?: (context: C, permit: Permit<C>) => void
  /**
   * A queued request left the queue without a permit: timeout, deadline, or 'queue-full' (a more
   * important arrival evicted it from the full queue). Required with `queue`.
   */
  onQueueReject?: (context: C, reason: RejectReason) => void
  /**
   * An observer threw. Observers watch; they do not decide: the admission, release or rejection
   * stands, the other observers still run, and the error comes here (default: ignored).
   */
  onObserverError?: (err: unknown) => void
}

/** The counters as plain, writable JSON. */
export type LimiterSnapshot = { -readonly [K in keyof LimiterStats]: LimiterStats[K] }

function noGrant (): void {}

export class Limiter<C = unknown> implements LimiterStats {
  readonly algorithm: LimitAlgorithm
  readonly queue: WaitQueue<C> | undefined
  readonly partitions: PartitionSet | undefined
  readonly serviceTime: ServiceTimeEwma | undefined
  readonly maxEstimatedWait: number
  readonly sampleClasses: SampleClasses | undefined
  /** The limiter's clock (ms): permits' `start` is a reading of it. */
  readonly now: () => number
  private readonly observers: LimiterObserver[]
  private readonly onGranted: (context: C, permit: Permit<C>) => void
  private readonly onQueueReject: (context: C, reason: RejectReason) => void
  private readonly onObserverError: (err: unknown) => void
  private _inflight = 0
  private _admitted = 0
  private _rejected = 0
  private _succeeded = 0
  private _dropped = 0
  private _ignored = 0
  private _bypassed = 0
  /** The limit turned a request away (turnAway) since the last sample: Sample.limited. */
  private turnedAway = false

  constructor (options: LimiterOptions<C>) {
    this.algorithm = options.algorithm
    const timers = options.timers
    this.now = options.now ?? (timers !== undefined ? () => timers.now() : systemTimers.now)
    this.observers = options.observers !== undefined ? options.observers.slice() : []
    this.partitions = options.partitions
    this.sampleClasses = options.sampleClasses
    this.maxEstimatedWait = options.maxEstimatedWait ?? Infinity
    this.onGranted = options.onGranted ?? noGrant
    this.onQueueReject = options.onQueueReject ?? noGrant
    this.onObserverError = options.onObserverError ?? noGrant
    const queue = options.queue
    if (queue === undefined) {
      this.queue = undefined
      this.serviceTime = options.serviceTime
      return
    }
    if (options.onGranted === undefined) invalidOption('onGranted', 'a queue needs onGranted to hand out permits')
    if (options.onQueueReject === undefined) invalidOption('onQueueReject', 'a queue needs onQueueReject to answer expired waiters')
    this.serviceTime = options.serviceTime ?? new ServiceTimeEwma()
    // The queue and the deadlines it computes share the limiter's clock.
    const now = this.now
    this.queue = new WaitQueue<C>({
      ...queue,
      levels: this.partitions === undefined ? 1 : this.partitions.list.length,
      timers: timers ?? { now, setTimer: systemTimers.setTimer, clearTimer: systemTimers.clearTimer },
      onExpire: (context, reason, level) => { this.expire(context, reason, level) }
    })
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

  /**
   * Admit a request now, or return why not; never queues. Returning the reason as a string (not an
   * object or an exception) keeps the rejection path allocation-free; `typeof result === 'string'`
   * tells them apart. `budget`: the client's remaining time in ms (deadline), if it sent one.
   */
  tryAcquire (context: C, partition?: string, budget?: number): Permit<C> | RejectReason {
    return this.decide(context, partition, budget, false) as Permit<C> | RejectReason
  }

  /**
   * As tryAcquire, but with a queue a request that finds no free permit may wait: the result is
   * then a Waiter, settled later through onGranted or onQueueReject (or withdrawn by cancel()).
   */
  acquire (context: C, partition?: string, budget?: number): Permit<C> | Waiter<C> | RejectReason {
    return this.decide(context, partition, budget, true)
  }

  /** Withdraw a queued request (its client left). True if it was still queued: nothing more happens for it. */
  cancel (waiter: Waiter<C>): boolean {
    return this.queue !== undefined && this.queue.cancel(waiter)
  }

  /**
   * Empty the queue (server closing): each waiter is counted as rejected with `reason` and its
   * context returned, for the caller to answer. Later expiries cannot happen: the queue is empty.
   */
  rejectQueued (reason: RejectReason): C[] {
    if (this.queue === undefined) return []
    const waiters = this.queue.removeAllWaiters()
    const out: C[] = []
    for (const w of waiters) {
      this.rejectAt(reason, this.partitions?.list[w.level])
      out.push(w.value)
    }
    return out
  }

  /** Estimated queue wait (ms) of a request behind the whole current backlog: Retry-After 'auto' uses it. */
  estimatedBacklogWait (): number {
    const serviceTime = this.serviceTime
    if (serviceTime === undefined) return 0
    return estimateWait(this.queue === undefined ? 0 : this.queue.length, this.algorithm.limit, serviceTime.value)
  }

  private decide (context: C, name: string | undefined, budget: number | undefined, mayQueue: boolean): Permit<C> | Waiter<C> | RejectReason {
    const partitions = this.partitions
    // With partitions, observers see the resolved name (undeclared names become 'default').
    const p = partitions === undefined ? undefined : partitions.get(name)
    const label = p === undefined ? name : p.name
    const limit = this.algorithm.limit
    const serviceTime = this.serviceTime === undefined ? 0 : this.serviceTime.value
    if (p === undefined ? this._inflight < limit : (partitions as PartitionSet).canAdmit(p, this._inflight, limit)) {
      if (budget !== undefined && deadlineUnreachable(budget, 0, serviceTime)) return this.rejectAt('deadline', p, label)
      return this.grant(context, p, label)
    }
    const queue = this.queue
    if (queue === undefined || !mayQueue || queue.bypass()) return this.turnAway(p === undefined ? 'limit' : 'partition', p, label)
    const level = p === undefined ? 0 : p.level
    const wait = estimateWait(queue.aheadOf(level), limit, serviceTime)
    if (wait > this.maxEstimatedWait) return this.turnAway('estimated-wait', p, label)
    if (queue.wouldExpire(wait, level)) return this.turnAway(p === undefined ? 'limit' : 'partition', p, label)
    if (budget !== undefined && deadlineUnreachable(budget, wait, serviceTime)) return this.turnAway('deadline', p, label)
    const waiter = queue.enqueue(context, level, budget === undefined ? Infinity : this.now() + budget)
    if (waiter === 'full') return this.turnAway('queue-full', p, label)
    return waiter
  }

  private grant (context: C, p: Partition | undefined, label: string | undefined): Permit<C> {
    const inflight = ++this._inflight
    this._admitted++
    if (p !== undefined) {
      p.inflight++ // PartitionSet.admit, inlined
      p.admitted++
    }
    const permit = new Permit(this.now(), inflight, label, context)
    const observers = this.observers
    for (let i = 0; i < observers.length; i++) {
      // Guarded: a throwing observer after the counting above would otherwise leave the
      // request admitted with no one holding its permit (in-flight one too high for good).
      try { observers[i].onAdmit?.(label) } catch (err) { this.onObserverError(err) }
    }
    return permit
  }

  private rejectAt (reason: RejectReason, p: Partition | undefined, label: string | undefined = p?.name): RejectReason {
    if (p !== undefined) p.rejected++ // PartitionSet.reject, inlined
    return this.count(reason, label)
  }

  /** A rejection because the limit was full (refused, or expired waiting): Sample.limited. */
  private turnAway (reason: RejectReason, p: Partition | undefined, label: string | undefined = p?.name): RejectReason {
    this.turnedAway = true
    return this.rejectAt(reason, p, label)
  }

  private expire (context: C, reason: ExpiryReason, level: number): void {
    this.turnAway(reason, this.partitions?.list[level])
    this.onQueueReject(context, reason)
  }

  /** Hand freed permits to waiters while there is room; runs at the end of every release. */
  private drain (queue: WaitQueue<C>): void {
    const partitions = this.partitions
    const eligible = partitions === undefined ? this.belowLimit : partitions.levelEligible
    while (queue.length > 0) {
      if (partitions !== undefined) partitions.setGlobal(this._inflight, this.algorithm.limit)
      const w = queue.grantNextWaiter(eligible)
      if (w === undefined) return
      const p = partitions === undefined ? undefined : partitions.list[w.level]
      // The permit starts now, not at enqueue: the algorithm must see service latency, not queue wait.
      this.onGranted(w.value, this.grant(w.value, p, p?.name))
    }
  }

  private readonly belowLimit = (): boolean => this._inflight < this.algorithm.limit

  /**
   * The caller's own admission step refused a request because the event loop is the queue: for an
   * interval, requests at the limit are refused rather than queued, and a standing wait queue
   * stays standing (WaitQueue.shedUpstream, WaitQueue.bypassed).
   */
  shedUpstream (): void {
    this.queue?.shedUpstream()
  }

  /**
   * Count a rejection decided by the caller's own admission step (an event-loop gate, a drain, a
   * session cap), before or instead of acquire(). `partition` as given to acquire(): with
   * partitions, the rejection is counted against it (undeclared names: `default`).
   */
  reject (reason: RejectReason, partition?: string): RejectReason {
    const partitions = this.partitions
    if (partitions === undefined) return this.count(reason, partition)
    const p = partitions.get(partition)
    p.rejected++ // PartitionSet.reject, inlined
    return this.count(reason, p.name)
  }

  private count (reason: RejectReason, label: string | undefined): RejectReason {
    this._rejected++
    const observers = this.observers
    for (let i = 0; i < observers.length; i++) {
      try { observers[i].onReject?.(reason, label) } catch (err) { this.onObserverError(err) }
    }
    return reason
  }

  /** A request that skipped the limiter entirely (health checks, internal traffic). */
  recordBypass (): void {
    this._bypassed++
  }

  /**
   * The request's latency in ms, for classifying it before release. It stamps the completion
   * time, so classification and the sample given to the algorithm share one clock reading.
   */
  elapsed (permit: Permit<C>): number {
    if (Number.isNaN(permit.at)) {
      const at = this.now()
      permit.at = at
      permit.rtt = at - permit.start
    }
    return permit.rtt
  }

  /**
   * Give the permit back. Returns false (and does nothing) if it was already released, so every
   * completion path (close, error, abort) may call it without double counting. Accounting is
   * updated before the algorithm runs, so a throwing algorithm cannot leak a permit.
   */
  release (permit: Permit<C>, outcome: Outcome): boolean {
    if (permit.released) return false
    permit.released = true
    this.elapsed(permit)
    this._inflight--
    const partitions = this.partitions
    if (partitions !== undefined) partitions.release(partitions.get(permit.partition))
    const queue = this.queue
    if (queue === undefined || queue.length === 0) {
      this.account(permit, outcome)
      return true
    }
    permit.burst = queue.absorbing
    // Drain even if a custom algorithm throws: waiters must not be stranded by someone else's bug.
    try {
      this.account(permit, outcome)
    } finally {
      this.drain(queue)
    }
    return true
  }

  private account (permit: Permit<C>, outcome: Outcome): void {
    const observers = this.observers
    if (outcome === 'ignore') {
      this._ignored++
    } else {
      const dropped = outcome === 'drop'
      permit.dropped = dropped
      if (dropped) this._dropped++
      else this._succeeded++
      if (this.serviceTime !== undefined) this.serviceTime.update(permit.rtt)
      permit.limited = this.turnedAway
      this.turnedAway = false
      const algorithm = this.algorithm
      const before = algorithm.limit
      const classes = this.sampleClasses
      const sample = classes === undefined
        ? permit
        : classes.normalize(permit, permit.sampleClass === undefined ? classes.fallback : permit.sampleClass, before)
      if (sample !== undefined) algorithm.onSample(sample)
      for (let i = 0; i < observers.length; i++) {
        try { observers[i].onSample?.(permit, permit.partition) } catch (err) { this.onObserverError(err) }
      }
      const after = algorithm.limit
      if (after !== before) {
        const reason = dropped ? 'drop' : 'sample'
        for (let i = 0; i < observers.length; i++) {
          try { observers[i].onLimitChange?.(before, after, reason) } catch (err) { this.onObserverError(err) }
        }
      }
    }
    for (let i = 0; i < observers.length; i++) {
      try { observers[i].onRelease?.(outcome, permit.rtt, permit.partition) } catch (err) { this.onObserverError(err) }
    }
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
