// Partitions: shares of the concurrency limit reserved for classes of traffic, so important
// traffic survives overload.
//
// Semantics (as in Netflix's partitioned limiter):
// - Each partition is guaranteed max(1, ceil(limit * share)) permits, recomputed from whatever
//   the limit is at that moment (no stored copy to go stale when the algorithm moves the limit).
// - Below the global limit any partition may borrow: a request is admitted whatever its partition.
// - At or above the global limit a request is admitted only while its partition is below its
//   guaranteed share. So with limit 10, batch 0.3 / live 0.7: batch alone may take 10, and live
//   still gets its 7 afterwards (17 in flight, by design: the guarantee is what protects live).
//
// Priority is declaration order: the first partition declared is the most important, and its
// waiters are served first by the wait queue (one queue level per partition). Requests that name
// no partition, or a name that is not declared, go to the catch-all partition `default`: declare
// it yourself to place it and give it a share; otherwise it is added last, with the share left
// over (1 - sum of the shares, guaranteed at least 1 permit like every partition).
import { invalidOption } from '../errors'
import { describe, numberOption, objectOption } from '../validate'

export const DEFAULT_PARTITION = 'default'

// 0.07 * 100 is 7.000000000000001 in floating point; without this slack ceil() would guarantee 8.
const SHARE_EPSILON = 1e-9

export class Partition {
  readonly name: string
  readonly share: number
  /** Queue level: 0 is served first. Equals the position in declaration order. */
  readonly level: number
  inflight = 0
  admitted = 0
  rejected = 0

  constructor (name: string, share: number, level: number) {
    this.name = name
    this.share = share
    this.level = level
  }

  /** Permits this partition is guaranteed under the given global limit. */
  guaranteed (limit: number): number {
    return Math.max(1, Math.ceil(limit * this.share - SHARE_EPSILON))
  }
}

export interface PartitionStatus {
  share: number
  /** Guaranteed permits under the current limit. */
  limit: number
  inflight: number
  admitted: number
  rejected: number
}

export class PartitionSet {
  /** In priority order (index = queue level); the catch-all is included. */
  readonly list: readonly Partition[]
  readonly fallback: Partition
  /** Requests whose partition name was not declared (sent to the catch-all). */
  unknownNames = 0
  private readonly byName: Map<string, Partition>
  // Global state captured by setGlobal() for levelEligible().
  private limit = 0
  private inflight = 0

  /** `spec` maps partition names to shares; errors name `${option}.<name>`. */
  constructor (spec: unknown, option = 'partitions') {
    const obj = objectOption(option, spec)
    if (obj === undefined) invalidOption(option, 'expected an object mapping partition names to shares in (0, 1]')
    const names = Object.keys(obj)
    if (names.length === 0) invalidOption(option, 'expected at least one partition')
    const list: Partition[] = []
    let sum = 0
    for (const name of names) {
      // Object.keys puts integer-like keys first, whatever the declaration order: that would
      // silently reorder priorities, so such names are refused.
      if (/^(0|[1-9]\d*)$/.test(name)) {
        invalidOption(`${option}.${name}`, 'partition names must not be integers (JavaScript orders such keys first, which would change priorities)')
      }
      const share = numberOption(`${option}.${name}`, obj[name], 0, 0, 1, { minExclusive: true })
      if (share === 0) invalidOption(`${option}.${name}`, `expected a number in (0, 1], got ${describe(obj[name])}`)
      sum += share
      list.push(new Partition(name, share, list.length))
    }
    if (sum > 1 + SHARE_EPSILON) {
      invalidOption(option, `shares must sum to at most 1, got ${Number(sum.toFixed(6))} (${names.join(' + ')})`)
    }
    if (!names.includes(DEFAULT_PARTITION)) {
      list.push(new Partition(DEFAULT_PARTITION, Math.max(0, 1 - sum), list.length))
    }
    this.list = list
    this.byName = new Map(list.map(p => [p.name, p]))
    this.fallback = this.byName.get(DEFAULT_PARTITION) as Partition
  }

  has (name: string): boolean {
    return this.byName.has(name)
  }

  /** The partition for a request; undeclared or missing names go to the catch-all and are counted. */
  get (name: string | undefined): Partition {
    if (name === undefined) return this.fallback
    const p = this.byName.get(name)
    if (p !== undefined) return p
    this.unknownNames++
    return this.fallback
  }

  /**
   * For static names (route config): throw a clear error when the name is not declared.
   * `where` says where the name came from, e.g. 'config.adaptiveConcurrency.partition (GET /jobs)'.
   */
  resolveStatic (name: unknown, where: string): Partition {
    if (typeof name !== 'string' || !this.byName.has(name)) {
      invalidOption(where, `unknown partition ${describe(name)}; declared partitions: ${this.list.map(p => p.name).join(', ')}`)
    }
    return this.byName.get(name) as Partition
  }

  /** Admission rule: anyone below the global limit; at the limit, only within the guaranteed share. */
  canAdmit (p: Partition, inflight: number, limit: number): boolean {
    return inflight < limit || p.inflight < p.guaranteed(limit)
  }

  admit (p: Partition): void {
    p.inflight++
    p.admitted++
  }

  release (p: Partition): void {
    p.inflight--
  }

  reject (p: Partition): void {
    p.rejected++
  }

  /**
   * Record the global in-flight count and limit for the next `levelEligible` calls: the limiter
   * calls this, then WaitQueue.grantNext(partitions.levelEligible), with no closure allocated.
   */
  setGlobal (inflight: number, limit: number): void {
    this.inflight = inflight
    this.limit = limit
  }

  /**
   * May a waiter of the partition at queue `level` take a permit now? See setGlobal. An arrow
   * property, bound once, so grantNext can take it without a closure per call.
   */
  readonly levelEligible = (level: number): boolean => this.canAdmit(this.list[level], this.inflight, this.limit)

  /** Per-partition counters; fromEntries defines own properties, so even a `__proto__` name is safe. */
  status (limit: number): Record<string, PartitionStatus> {
    return Object.fromEntries(this.list.map(p => [p.name, {
      share: p.share, limit: p.guaranteed(limit), inflight: p.inflight, admitted: p.admitted, rejected: p.rejected
    }]))
  }
}
