// `fastify.concurrency`: a live, read-only view over the limiter, and the plain-JSON snapshot
// the status route serves. Getters read the limiter directly, so fields are never stale.
import type { Limiter } from './limiter/limiter'
import type { SampleClassStats } from './limiter/sample-classes'
import type { DrainOptions, DrainResult, SessionStats } from './sessions/tracker'
import type { SessionsStage } from './sessions/stage'
import type { History } from './observability/history'
import type { BacklogSnapshot } from './backlog/status'
import type { LongLivedStatus, LongLivedTracker } from './longlived/tracker'
import type { PressureProbe } from './signal/outcome'
import type { ConcurrencySnapshot, ConcurrencyStatus, SnapshotOptions } from './types'

export interface StatusSources {
  limiter: Limiter
  /** @fastify/under-pressure's readings, when it is registered. */
  pressure: PressureProbe
  /** Sessions and the drain. */
  sessions: Pick<SessionsStage, 'drain' | 'stats'>
  /** undefined with `history: false`. */
  history: History | undefined
  /** Queue, partitions and service time (empty when unconfigured). */
  backlog: { snapshot (): BacklogSnapshot }
  /** What holds no permit: websockets, long-lived routes' requests, responses still sending. */
  longLived: Pick<LongLivedTracker, 'status'>
  /** Requests that waited for their body and never asked for a permit. */
  abandoned: () => number
}

export class Status implements ConcurrencyStatus {
  readonly limiter: Limiter
  private readonly pressure: PressureProbe
  private readonly sessionsStage: StatusSources['sessions']
  private readonly history: History | undefined
  private readonly backlog: StatusSources['backlog']
  private readonly longLivedSource: StatusSources['longLived']
  private readonly abandonedSource: StatusSources['abandoned']

  constructor (sources: StatusSources) {
    this.limiter = sources.limiter
    this.pressure = sources.pressure
    this.sessionsStage = sources.sessions
    this.history = sources.history
    this.backlog = sources.backlog
    this.longLivedSource = sources.longLived
    this.abandonedSource = sources.abandoned
  }

  get algorithm (): string { return this.limiter.algorithm.name }
  get limit (): number { return this.limiter.limit }
  get inflight (): number { return this.limiter.inflight }
  get admitted (): number { return this.limiter.admitted }
  get rejected (): number { return this.limiter.rejected }
  get succeeded (): number { return this.limiter.succeeded }
  get dropped (): number { return this.limiter.dropped }
  get ignored (): number { return this.limiter.ignored }
  get bypassed (): number { return this.limiter.bypassed }
  get abandoned (): number { return this.abandonedSource() }
  get state (): Record<string, number | string> { return this.limiter.algorithm.state() }
  get sessions (): SessionStats | undefined { return this.sessionsStage.stats() }
  get sampleClasses (): SampleClassStats | undefined { return this.limiter.sampleClasses?.stats() }
  get longLived (): LongLivedStatus { return this.longLivedSource.status() }
  get shedding (): boolean { return this.history === undefined ? this.isOverloaded() : this.history.recentRejections() > 0 }

  drain (options: DrainOptions): Promise<DrainResult> {
    return this.sessionsStage.drain(options)
  }

  isOverloaded (): boolean {
    return this.limiter.isAtLimit()
  }

  snapshot (options?: SnapshotOptions): ConcurrencySnapshot {
    const snap: ConcurrencySnapshot = {
      algorithm: this.algorithm,
      ...this.limiter.snapshot(),
      overloaded: this.isOverloaded(),
      shedding: this.shedding,
      state: this.state,
      longLived: this.longLived
    }
    const sessions = this.sessions
    if (sessions !== undefined) snap.sessions = sessions
    const sampleClasses = this.sampleClasses
    if (sampleClasses !== undefined) snap.sampleClasses = sampleClasses
    Object.assign(snap, this.backlog.snapshot())
    if (options?.history === true) snap.history = this.history === undefined ? [] : this.history.points()
    const { memoryUsage, isUnderPressure } = this.pressure
    if (memoryUsage !== undefined) {
      const m = memoryUsage()
      snap.underPressure = {
        eventLoopDelay: m.eventLoopDelay,
        rssBytes: m.rssBytes,
        heapUsed: m.heapUsed,
        eventLoopUtilized: m.eventLoopUtilized,
        underPressure: isUnderPressure !== undefined && isUnderPressure()
      }
    }
    return snap
  }

  toJSON (): ConcurrencySnapshot {
    return this.snapshot()
  }
}
