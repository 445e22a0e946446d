// Shared test helpers: a fixed-limit algorithm that records samples, and a "latch" route that
// holds requests in the handler until released, so saturation is deterministic (no sleeps).
import type { LimitAlgorithm, Sample } from '../../lib/algorithms/types'

export interface RecordingAlgorithm extends LimitAlgorithm {
  limit: number
  readonly samples: Sample[]
}

export function recordingAlgorithm (limit: number): RecordingAlgorithm {
  const samples: Sample[] = []
  return {
    name: 'recording',
    limit,
    samples,
    onSample (sample: Sample) {
      samples.push({ rtt: sample.rtt, inflight: sample.inflight, dropped: sample.dropped })
    },
    state: () => ({ samples: samples.length, mode: 'test' })
  }
}

/** Requests wait in the handler until open(); `arrived(n)` resolves once n of them are inside. */
export function latch (): {
  wait: () => Promise<void>
  open: () => void
  arrived: (n: number) => Promise<void>
} {
  let release!: () => void
  const gate = new Promise<void>(resolve => { release = resolve })
  let count = 0
  const watchers: Array<{ n: number, resolve: () => void }> = []
  return {
    async wait () {
      count++
      for (const w of watchers.filter(w => w.n <= count)) w.resolve()
      await gate
    },
    open: () => release(),
    arrived (n: number) {
      if (count >= n) return Promise.resolve()
      return new Promise(resolve => { watchers.push({ n, resolve }) })
    }
  }
}

/** Wait for a condition driven by I/O (socket close events), failing after `ms`. */
export async function until (cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

/**
 * light-my-request emits the response's 'close' on the tick after inject() resolves; the permit
 * is released on 'close'. Awaiting one macrotask lets those close events run.
 */
export function settle (): Promise<void> {
  return new Promise(resolve => setImmediate(resolve))
}
