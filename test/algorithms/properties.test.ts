// g. bad samples are ignored; h. for every algorithm and any sample sequence, the limit stays
// a finite integer in [minLimit, maxLimit].
import t from 'tap'
import fc from 'fast-check'
import {
  AIMDLimit, FixedLimit, Gradient2Limit, VegasLimit, WindowedLimit,
  type LimitAlgorithm, type Sample
} from '../../lib/algorithms'
import { feed, fullUse } from './helpers'

const MIN = 3
const MAX = 60
const makers: Array<() => LimitAlgorithm> = [
  () => new FixedLimit({ limit: 10, minLimit: MIN, maxLimit: MAX }),
  () => new AIMDLimit({ minLimit: MIN, maxLimit: MAX, initialLimit: 10 }),
  () => new VegasLimit({ minLimit: MIN, maxLimit: MAX, initialLimit: 10, probeInterval: 20, probeSamples: 3 }),
  () => new Gradient2Limit({ minLimit: MIN, maxLimit: MAX, initialLimit: 10, probeInterval: 20, probeSamples: 3, longWindow: 5 }),
  () => new WindowedLimit(new Gradient2Limit({ minLimit: MIN, maxLimit: MAX, initialLimit: 10 }), { minWindow: 5, maxWindow: 20, minSamples: 3, percentile: 90 })
]

const bad: Sample[] = [
  { rtt: Number.NaN, inflight: 5, dropped: false },
  { rtt: -1, inflight: 5, dropped: false },
  { rtt: Number.POSITIVE_INFINITY, inflight: 5, dropped: true },
  { rtt: 10, inflight: -1, dropped: true },
  { rtt: 10, inflight: Number.NaN, dropped: false },
  { rtt: 10, inflight: 5, dropped: true, at: Number.NaN },
  null as unknown as Sample
]

t.test('g. bad samples leave the limit and the internals unchanged', async t => {
  for (const make of makers) {
    const alg = make()
    feed(alg, 30, fullUse(10))
    const limit = alg.limit
    const state = alg.state()
    for (const s of bad) alg.onSample(s)
    t.equal(alg.limit, limit, `${alg.name}: limit`)
    t.same(alg.state(), state, `${alg.name}: state`)
  }
})

const sample = fc.record({
  rtt: fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(0, 1e-9, Number.NaN, -5, Number.POSITIVE_INFINITY)),
  inflight: fc.oneof(fc.integer({ min: 0, max: 200 }), fc.constantFrom(-1, Number.NaN, 1e9)),
  dropped: fc.boolean(),
  at: fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: undefined })
})

t.test('h. the limit is always a finite integer in [minLimit, maxLimit]', async t => {
  makers.forEach((make, i) => {
    fc.assert(fc.property(fc.array(sample, { maxLength: 300 }), samples => {
      const alg = make()
      for (const s of samples) {
        alg.onSample(s)
        const l = alg.limit
        if (!Number.isInteger(l) || l < MIN || l > MAX) return false
      }
      return true
    }), { numRuns: 200, seed: 4242 + i })
  })
  t.pass('fast-check found no counterexample')
})
