// The reference of the per-route classes (sample-classes.ts): the classes' no-load latencies
// averaged by their recent traffic, the scale against which a sample's wait is read.
//
// Each class's traffic is its decayed count of samples (REFERENCE_DECAY per sample of any class),
// and the reference is sum(share x baseline) / sum(share) over the classes that have a baseline.
// Both sums decay with every sample at once; a class's share decays lazily, when it is next
// touched. So when a class learns its baseline, or its baseline moves, the reference moves by
// that class's share at once. It must: in the first second of a mix of cached answers (0.5 ms)
// and a 100 ms route, only cached answers complete at first and their class learns first; were
// the slow route's baseline to enter the reference only with its samples from then on, over a
// few hundred samples, its waits would be read against a reference of about 1 ms: 13x "no load"
// without any queue, which sheds traffic and drives the first probes to cut the limit by half.
// O(1) per sample: one power, a few multiplications.

/** Per sample: the classes' traffic shares forget over a few hundred samples. */
export const REFERENCE_DECAY = 0.005
const KEEP = 1 - REFERENCE_DECAY

/** What the reference keeps on each class. */
export interface ReferenceShare {
  /** No-load latency (ms); Infinity until learned. */
  readonly baseline: number
  /** A long-lived class holds no permit and is left out. */
  readonly longLived: boolean
  /** Its decayed count of samples, as of sample `shareAt`. */
  share: number
  shareAt: number
  /** The baseline it adds to the sums (NaN: none). */
  counted: number
}

export class TrafficReference {
  private samples = 0
  private sum = 0
  private shares = 0

  /** Traffic-weighted average of the counted baselines (ms); Infinity while none is counted. */
  get value (): number {
    return this.shares > 0 ? this.sum / this.shares : Infinity
  }

  /** One sample of `cls`: its share grows by one, everyone's decays. */
  add (cls: ReferenceShare): void {
    this.samples++
    this.sum *= KEEP
    this.shares *= KEEP
    cls.share = this.shareOf(cls) + 1
    cls.shareAt = this.samples
    if (!Number.isNaN(cls.counted)) {
      this.sum += cls.counted
      this.shares += 1
    }
    this.update(cls)
  }

  /** `cls`'s baseline may have changed, or it became long-lived: move the sums with it. */
  update (cls: ReferenceShare): void {
    const next = cls.longLived || cls.baseline === Infinity ? NaN : cls.baseline
    const prev = cls.counted
    if (next === prev || (Number.isNaN(next) && Number.isNaN(prev))) return
    const share = this.shareOf(cls)
    if (!Number.isNaN(prev)) {
      this.sum -= share * prev
      this.shares -= share
    }
    if (!Number.isNaN(next)) {
      this.sum += share * next
      this.shares += share
    }
    cls.counted = next
    // Rounding residue once every counted class has gone.
    if (this.shares < 1e-9) {
      this.sum = 0
      this.shares = 0
    }
  }

  private shareOf (cls: ReferenceShare): number {
    return cls.share === 0 ? 0 : cls.share * Math.pow(KEEP, this.samples - cls.shareAt)
  }
}
