// Who goes first when the service is at its limit: requests of active sessions ahead of new
// sessions (and sessionless requests). The rule, given the limiter's limit L and in-flight n:
//
//   an active-session request is admitted while  n < L
//   any other request is admitted while          n < max(1, L - unused)
//   unused  = min(S, max(0, reserve - a))
//   reserve = min(L, max(floor(minReserveRatio * L), ceil(headroom * demand)))
//
// where a is the number of active-session requests in flight and S the number of sessions
// active now (seen within idleTimeout). The reserve is the share of the limit kept for active
// sessions; the part they already use is not kept twice, and what is kept never exceeds one
// slot per active session: each of them could send a request within the next service time, and
// nothing more is known to be coming. So nobody is refused for being new while n + 1 <= L - S,
// and once every session has expired (or a drain saw them all go idle) nothing is reserved.
//
// `demand` estimates how much concurrency active sessions need. It jumps at once to a when a
// is higher, grows by one each time an active-session request is refused (the reserve was too
// small), and decays toward a by `decay` of the gap per service time (the moving average of
// completed requests' latency), in two ways that add up: on each completed request by decay/L
// of the gap (about `decay` per service time at full load, at the service's own pace, so a
// stalled event loop or a flood of refused new requests cannot wipe the estimate), and with the
// clock, in proportion to the share of the limit that is free (an idle server decays a full
// `decay` per service time): a server with room stops keeping slots for traffic that has
// stopped, whether or not any request completes. A gap under half a request is dropped: the
// estimate counts requests, and an exponential decay never reaches zero.
//
// Since the reserve term is >= 0, whenever an active-session request is refused (n >= L) a
// new one is too: new sessions are always shed first. Time enters only through `now`.
import { invalidOption } from '../errors'
import { ServiceTimeEwma } from '../limiter/wait-estimate'
import { numberOption, objectOption, knownKeys } from '../validate'

export interface OverloadPolicyOptions {
  /** Reserve this multiple of the estimated active-session demand (default 1.25). */
  headroom?: number
  /** Fraction of the gap between demand and current use dropped per service time, at full load or idle (default 0.2). */
  decay?: number
  /** Share of the limit kept for active sessions while there are any (default 0.1, floored; never more than one slot per active session). */
  minReserveRatio?: number
}

/** Where the policy learns how many sessions are active (the SessionTracker). */
export interface ActiveSessionCount {
  activeSessions (now: number): number
}

/** Without a count of sessions, nothing caps the reserve but the limit. */
const UNCOUNTED: ActiveSessionCount = { activeSessions: () => Infinity }

/** Below this, what is left of the demand's excess over current use counts as none. */
const NEGLIGIBLE_GAP = 0.5

export class SessionOverloadPolicy {
  readonly headroom: number
  readonly decay: number
  readonly minReserveRatio: number
  /** Active-session requests currently in flight. */
  activeInflight = 0
  /** Estimated concurrency active sessions need. */
  demand = 0
  /** Latency of completed requests: the time scale on which the demand decays. */
  readonly serviceTime = new ServiceTimeEwma()
  private readonly sessions: ActiveSessionCount
  private readonly keep: number
  private decayedAt = -Infinity
  private lastLimit = 1

  constructor (options: OverloadPolicyOptions = {}, sessions: ActiveSessionCount = UNCOUNTED) {
    const opts = objectOption('sessions.overload', options) ?? invalidOption('sessions.overload', 'expected an object')
    knownKeys('sessions.overload', opts, ['headroom', 'decay', 'minReserveRatio'])
    this.headroom = numberOption('sessions.overload.headroom', opts.headroom, 1.25, 1, 10)
    this.decay = numberOption('sessions.overload.decay', opts.decay, 0.2, 0, 1, { minExclusive: true })
    this.minReserveRatio = numberOption('sessions.overload.minReserveRatio', opts.minReserveRatio, 0.1, 0, 1)
    this.keep = 1 - this.decay
    this.sessions = sessions
  }

  /** In-flight slots kept for active sessions at this limit with `inflight` in flight (before the one-slot-per-session cap). */
  reserve (limit: number, inflight: number, now: number): number {
    this.decayTo(now, limit, inflight)
    const floor = Math.floor(this.minReserveRatio * limit)
    const wanted = Math.ceil(this.headroom * this.demand)
    return Math.min(limit, wanted > floor ? wanted : floor)
  }

  /** Decide; call `started`/`finished` around requests that the limiter then admits. */
  admits (active: boolean, limit: number, inflight: number, now: number): boolean {
    this.lastLimit = limit > 1 ? limit : 1
    if (active) {
      if (inflight < limit) return true
      this.decayTo(now, limit, inflight)
      if (this.demand < limit) this.demand++
      return false
    }
    let unused = this.reserve(limit, inflight, now) - this.activeInflight
    if (unused <= 0 || inflight < limit - unused) return inflight < limit
    // Within the reserve: keep at most one slot per active session. Counting them drops expired
    // sessions first, so this runs only here, where the answer can change the decision.
    const sessions = this.sessions.activeSessions(now)
    if (unused > sessions) unused = sessions
    // Never the last free slot: an idle server always takes a request.
    const room = limit - unused
    return inflight < (room > 1 ? room : 1)
  }

  started (active: boolean): void {
    if (!active) return
    this.activeInflight++
    if (this.activeInflight > this.demand) this.demand = this.activeInflight
  }

  /** A request the limiter admitted completed after `rtt` ms (NaN: it never ran, no sample). */
  finished (active: boolean, rtt: number): void {
    if (active && this.activeInflight > 0) this.activeInflight--
    this.serviceTime.update(rtt)
    const gap = this.demand - this.activeInflight
    if (gap > 0) this.settle(gap * (1 - this.decay / this.lastLimit))
  }

  /**
   * Let the demand's excess over current use decay for the time passed since the last look, in
   * proportion to the free share of the limit: at the limit only completions move it.
   */
  private decayTo (now: number, limit: number, inflight: number): void {
    const elapsed = now - this.decayedAt
    if (!(elapsed > 0)) return
    this.decayedAt = now
    const gap = this.demand - this.activeInflight
    if (gap <= 0 || inflight >= limit) return
    // No latency measured yet: no time scale to decay on (nothing has completed either).
    const serviceTime = this.serviceTime.value
    if (!(serviceTime > 0)) return
    this.settle(gap * Math.pow(this.keep, (elapsed / serviceTime) * (1 - inflight / limit)))
  }

  private settle (gap: number): void {
    this.demand = this.activeInflight + (gap < NEGLIGIBLE_GAP ? 0 : gap)
  }
}
