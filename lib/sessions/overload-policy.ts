// Who goes first when the service is at its limit: requests of active sessions ahead of new
// sessions (and sessionless requests). The rule, given the limiter's limit L and in-flight n:
//
//   an active-session request is admitted while  n < L
//   any other request is admitted while          n < max(1, L - max(0, reserve - a))
//   reserve = min(L, max(floor(minReserveRatio * L), ceil(headroom * demand)))
//
// where a is the number of active-session requests in flight: the reserve is the share of
// the limit kept for active sessions, and its part they are not using right now stays free.
// `demand` estimates how much concurrency active sessions need. It jumps at once to a when a
// is higher, grows by one each time an active-session request is refused (the reserve was too
// small), and on each completed request decays toward a by decay/L of the gap (so about
// `decay` of the gap per limit's worth of completions, i.e. per service time at full load):
// capacity active sessions stopped using flows back to new users at the service's own pace,
// and a flood of refused new requests cannot wipe the estimate.
//
// Since the reserve term is >= 0, whenever an active-session request is refused (n >= L) a
// new one is too: new sessions are always shed first. Deterministic: no clock, no randomness.
import { invalidOption } from '../errors'
import { numberOption, objectOption, knownKeys } from '../validate'

export interface OverloadPolicyOptions {
  /** Reserve this multiple of the estimated active-session demand (default 1.25). */
  headroom?: number
  /** Fraction of the gap between demand and current use dropped per limit's worth of completions (default 0.2). */
  decay?: number
  /** Share of the limit always kept for active sessions (default 0.1, floored). */
  minReserveRatio?: number
}

export class SessionOverloadPolicy {
  readonly headroom: number
  readonly decay: number
  readonly minReserveRatio: number
  /** Active-session requests currently in flight. */
  activeInflight = 0
  /** Estimated concurrency active sessions need. */
  demand = 0
  private lastLimit = 1

  constructor (options: OverloadPolicyOptions = {}) {
    const opts = objectOption('sessions.overload', options) ?? invalidOption('sessions.overload', 'expected an object')
    knownKeys('sessions.overload', opts, ['headroom', 'decay', 'minReserveRatio'])
    this.headroom = numberOption('sessions.overload.headroom', opts.headroom, 1.25, 1, 10)
    this.decay = numberOption('sessions.overload.decay', opts.decay, 0.2, 0, 1, { minExclusive: true })
    this.minReserveRatio = numberOption('sessions.overload.minReserveRatio', opts.minReserveRatio, 0.1, 0, 1)
  }

  /** In-flight slots new sessions may not use at this limit. */
  reserve (limit: number): number {
    const floor = Math.floor(this.minReserveRatio * limit)
    const wanted = Math.ceil(this.headroom * this.demand)
    return Math.min(limit, wanted > floor ? wanted : floor)
  }

  /** Decide; call `started`/`finished` around requests that the limiter then admits. */
  admits (active: boolean, limit: number, inflight: number): boolean {
    this.lastLimit = limit > 1 ? limit : 1
    if (active) {
      if (inflight < limit) return true
      if (this.demand < limit) this.demand++
      return false
    }
    // Keep free the part of the reserve that active sessions are not already using, but never
    // the last slot: demand only falls as requests complete, so a reserve of the whole limit
    // would refuse every new request on an idle server, and nothing would ever complete.
    const unused = this.reserve(limit) - this.activeInflight
    const room = unused > 0 ? limit - unused : limit
    return inflight < (room > 1 ? room : 1)
  }

  started (active: boolean): void {
    if (!active) return
    this.activeInflight++
    if (this.activeInflight > this.demand) this.demand = this.activeInflight
  }

  finished (active: boolean): void {
    if (active && this.activeInflight > 0) this.activeInflight--
    // Decay per completion, not per decision: completions come at the service's own pace,
    // while a flood of refused new requests would otherwise wipe the estimate in an instant.
    if (this.demand > this.activeInflight) this.demand -= (this.demand - this.activeInflight) * this.decay / this.lastLimit
  }
}
