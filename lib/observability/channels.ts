// diagnostics_channel publishing. Each publish is guarded by `hasSubscribers`, so with nobody
// listening an event costs one property read and no message object is built
// (benchmarks/diagnostics/publish-cost.ts measures it).
import { channel } from 'node:diagnostics_channel'
import type { LimiterObserver, RejectReason } from '../limiter/events'
import type { Sample } from '../algorithms/types'

export const LIMIT_CHANNEL = 'fastify-adaptive-concurrency:limit'
export const REJECT_CHANNEL = 'fastify-adaptive-concurrency:reject'
export const SAMPLE_CHANNEL = 'fastify-adaptive-concurrency:sample'

/** Published on `fastify-adaptive-concurrency:limit` when the algorithm moves the limit. */
export interface LimitMessage {
  instance: string
  oldLimit: number
  newLimit: number
  /** Short word from the limiter: 'sample', 'drop', 'probe', ... */
  reason: string
}

/** Published on `fastify-adaptive-concurrency:reject` for each rejected request. */
export interface RejectMessage {
  instance: string
  reason: RejectReason
  partition: string | undefined
}

/** Published on `fastify-adaptive-concurrency:sample` for each latency sample fed to the algorithm. */
export interface SampleMessage {
  instance: string
  /** ms */
  rtt: number
  /** In flight when the request was admitted, itself included. */
  inflight: number
  dropped: boolean
  partition: string | undefined
}

// Module-level references: Node holds channels weakly, so keeping them here keeps the
// `hasSubscribers` check a plain property read on a live object.
const limitChannel = channel(LIMIT_CHANNEL)
const rejectChannel = channel(REJECT_CHANNEL)
const sampleChannel = channel(SAMPLE_CHANNEL)

export interface ChannelsObserverOptions {
  /** Copied into every message so subscribers can tell apps apart. Default "default". */
  instance?: string
}

export function createChannelsObserver (options: ChannelsObserverOptions = {}): LimiterObserver {
  const instance = options.instance ?? 'default'
  return {
    onLimitChange (oldLimit: number, newLimit: number, reason: string): void {
      if (limitChannel.hasSubscribers) {
        const message: LimitMessage = { instance, oldLimit, newLimit, reason }
        limitChannel.publish(message)
      }
    },
    onReject (reason: RejectReason, partition: string | undefined): void {
      if (rejectChannel.hasSubscribers) {
        const message: RejectMessage = { instance, reason, partition }
        rejectChannel.publish(message)
      }
    },
    onSample (sample: Sample, partition: string | undefined): void {
      if (sampleChannel.hasSubscribers) {
        // Copy the fields: the limiter may hand us a pooled or internal object.
        const message: SampleMessage = { instance, rtt: sample.rtt, inflight: sample.inflight, dropped: sample.dropped, partition }
        sampleChannel.publish(message)
      }
    }
  }
}
