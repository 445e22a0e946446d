// `fastify.concurrency`: a live, read-only view over the limiter, and the plain-JSON snapshot
// the status route serves. Getters read the limiter directly, so fields are never stale.
import type { Limiter } from './limiter/limiter'
import type { ConcurrencySnapshot, ConcurrencyStatus, UnderPressureReadings } from './types'

/**
 * The @fastify/under-pressure decorators, found lazily: that plugin may register after us, so
 * the plugin fills this in at registration and again at onReady.
 */
export interface PressureProbe {
  isUnderPressure: (() => boolean) | undefined
  memoryUsage: (() => UnderPressureReadings) | undefined
}

export class Status implements ConcurrencyStatus {
  readonly limiter: Limiter
  private readonly pressure: PressureProbe

  constructor (limiter: Limiter, pressure: PressureProbe) {
    this.limiter = limiter
    this.pressure = pressure
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
  get state (): Record<string, number | string> { return this.limiter.algorithm.state() }

  isOverloaded (): boolean {
    return this.limiter.isAtLimit()
  }

  snapshot (): ConcurrencySnapshot {
    const snap: ConcurrencySnapshot = {
      algorithm: this.algorithm,
      ...this.limiter.snapshot(),
      overloaded: this.isOverloaded(),
      state: this.state
    }
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
