// The no-load RTT ("baseline") that Vegas, Gradient and Gradient2 compare latency against.
//
// A plain running minimum has two failure modes: one freak fast sample pins it forever (and
// every later sample then looks like queueing, so the limit collapses), and naive re-probing
// ("the next sample is the new baseline") under sustained load adopts the loaded RTT, after
// which queueing is never detected again. So the baseline is re-measured the way a queueing
// system allows: every `probeInterval` samples the algorithm caps its limit at
// `probeRatio` x limit (the in-flight count drains to that level), and the minimum RTT of the
// next `probeSamples` samples *admitted at or under that cap* becomes the new baseline.
// Requests admitted before the cap took effect carry an inflight above it and are ignored,
// so they cannot smuggle the old queue into the new baseline.
import type { OptionReader } from './common'

export const PROBE_KEYS = ['probeInterval', 'probeRatio', 'probeSamples'] as const

export interface ProbeOptions {
  /** Samples between two baseline probes. Default 1000. */
  probeInterval?: number
  /** Limit during a probe, as a fraction of the limit. Default 0.5. */
  probeRatio?: number
  /** Samples (admitted under the probe cap) whose minimum RTT becomes the new baseline. Default 10. */
  probeSamples?: number
}

export interface ProbeSettings {
  interval: number
  ratio: number
  samples: number
}

export function readProbe (r: OptionReader): ProbeSettings {
  return {
    interval: r.integer('probeInterval', 1000, 1, Number.MAX_SAFE_INTEGER),
    ratio: r.number('probeRatio', 0.5, 0, 1, { minExclusive: true }),
    samples: r.integer('probeSamples', 10, 1, 100_000)
  }
}

export class BaselineProbe {
  /** The no-load RTT estimate (ms); Infinity until the first healthy sample. */
  rtt = Infinity
  /** Limit cap while a probe runs, Infinity otherwise. */
  cap = Infinity
  probes = 0
  private readonly settings: ProbeSettings
  private sinceProbe = 0
  private seen = 0
  private qualified = 0
  private probeMin = Infinity

  constructor (settings: ProbeSettings) {
    this.settings = settings
  }

  get probing (): boolean {
    return this.cap !== Infinity
  }

  /**
   * Feed one healthy sample. Returns true while a probe is running: the algorithm should hold
   * its estimate, because samples taken under the cap say nothing about the uncapped limit.
   */
  observe (rtt: number, inflight: number, estimate: number, minLimit: number): boolean {
    if (this.probing) {
      this.seen++
      if (inflight <= this.cap) {
        if (rtt < this.probeMin) this.probeMin = rtt
        if (++this.qualified >= this.settings.samples) this.finish(this.probeMin)
      } else if (this.seen >= this.settings.interval) {
        // Nothing got admitted under the cap for a whole interval (the caller ignored it):
        // give up rather than hold the limit down forever; the old baseline stays.
        this.finish(this.rtt)
      }
      return true
    }
    if (rtt < this.rtt) this.rtt = rtt
    if (++this.sinceProbe >= this.settings.interval) {
      this.cap = Math.max(minLimit, Math.floor(estimate * this.settings.ratio))
      this.seen = 0
      this.qualified = 0
      this.probeMin = Infinity
    }
    return false
  }

  private finish (baseline: number): void {
    this.rtt = baseline
    this.cap = Infinity
    this.sinceProbe = 0
    this.probes++
  }
}
