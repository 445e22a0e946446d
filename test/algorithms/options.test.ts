// Bad options throw FST_CONCURRENCY_INVALID_OPTION naming the option and its accepted range;
// the factory and the duck-typing check the plugin relies on.
import t from 'tap'
import {
  AIMDLimit, ALGORITHM_NAMES, FixedLimit, Gradient2Limit, VegasLimit, WindowedLimit,
  createAlgorithm, isLimitAlgorithm, type AlgorithmName
} from '../../lib/algorithms'

const code = 'FST_CONCURRENCY_INVALID_OPTION'

t.test('bounds: each bad value names the option and the range', async t => {
  t.throws(() => new AIMDLimit({ minLimit: 50, maxLimit: 10 }), { code, message: /"minLimit".*\[1, maxLimit=10\], got 50/ })
  t.throws(() => new AIMDLimit({ initialLimit: 5, minLimit: 10 }), { code, message: /"initialLimit".*\[minLimit=10, maxLimit=200\], got 5/ })
  t.throws(() => new AIMDLimit({ initialLimit: 500, maxLimit: 300 }), /"initialLimit".*got 500/)
  t.throws(() => new AIMDLimit({ maxLimit: 0 }), /"maxLimit".*an integer in \[1, 1000000000\], got 0/)
  t.throws(() => new AIMDLimit({ minLimit: 2.5 }), /"minLimit".*an integer/)
  t.throws(() => new VegasLimit({ initialLimit: Number.NaN }), /"initialLimit".*got NaN/)
  t.throws(() => new AIMDLimit({ maxLimt: 5 } as object), /"maxLimt".*unknown option/)
  t.throws(() => new AIMDLimit(null as unknown as object), /"options".*expected an object/)
  // unset bounds widen to fit the values that were set
  t.equal(new Gradient2Limit({ maxLimit: 10 }).limit, 10)
  t.equal(new Gradient2Limit({ minLimit: 50 }).limit, 50)
})

t.test('algorithm knobs', async t => {
  t.throws(() => new AIMDLimit({ backoffRatio: 1 }), { code, message: /"backoffRatio".*\[0\.5, 1\), got 1/ })
  t.throws(() => new VegasLimit({ backoffRatio: 0.4 }), /"backoffRatio".*\[0\.5, 1\)/)
  t.throws(() => new AIMDLimit({ timeout: 0 }), /"timeout".*\(0, Infinity\]/)
  t.throws(() => new VegasLimit({ alpha: 5, beta: 2 }), /"beta".*\[alpha=5, Infinity\], got 2/)
  t.throws(() => new VegasLimit({ smoothing: 0 }), /"smoothing".*\(0, 1\]/)
  t.throws(() => new Gradient2Limit({ rttTolerance: 0.9 }), /"rttTolerance".*\[1, Infinity\]/)
  t.throws(() => new Gradient2Limit({ longWindow: 0 }), /"longWindow"/)
  t.throws(() => new Gradient2Limit({ queueSize: -1 }), /"queueSize"/)
  t.throws(() => new Gradient2Limit({ probeRatio: 0 }), /"probeRatio".*\(0, 1\]/)
  t.throws(() => new Gradient2Limit({ probeMinInterval: -1 }), /"probeMinInterval"/)
  t.throws(() => new VegasLimit({ probeInterval: 0.5 }), /"probeInterval".*an integer/)
  t.throws(() => new AIMDLimit({ slowStart: 'yes' } as object), /"slowStart".*a boolean/)
  t.throws(() => new WindowedLimit(new FixedLimit(), { maxWindow: 10, minWindow: 100 }), /"maxWindow".*\[100, Infinity\]/)
  t.throws(() => new WindowedLimit(new FixedLimit(), { percentile: 0 }), /"percentile".*\(0, 100\]/)
  t.throws(() => new WindowedLimit(new FixedLimit(), { clock: 5 } as object), /"clock".*a function/)
})

t.test('FixedLimit takes limit (or initialLimit) and consistent bounds', async t => {
  t.equal(new FixedLimit().limit, 20)
  t.equal(new FixedLimit({ limit: 7 }).limit, 7)
  t.equal(new FixedLimit({ initialLimit: 9 }).limit, 9)
  const f = new FixedLimit({ limit: 7, initialLimit: 7, minLimit: 1, maxLimit: 100 })
  t.same([f.limit, f.minLimit, f.maxLimit], [7, 1, 100])
  t.throws(() => new FixedLimit({ limit: 7, initialLimit: 8 }), /"initialLimit".*same value as limit \(7\), got 8/)
  t.throws(() => new FixedLimit({ limit: 7, minLimit: 8 }), /"minLimit".*\[1, 7\], got 8/)
  t.throws(() => new FixedLimit({ limit: 7, maxLimit: 6 }), /"maxLimit".*\[7, 1000000000\], got 6/)
  t.throws(() => new FixedLimit({ limit: 0 }), /"limit"/)
  f.onSample({ rtt: 1000, inflight: 7, dropped: true })
  t.equal(f.limit, 7)
  t.same(f.state(), { limit: 7 })
})

t.test('createAlgorithm builds each name and prefixes option names', async t => {
  const expected: Record<AlgorithmName, string> = { gradient2: 'gradient2', vegas: 'vegas', aimd: 'aimd', fixed: 'fixed' }
  for (const name of ALGORITHM_NAMES) {
    const a = createAlgorithm(name)
    t.equal(a.name, expected[name])
    t.ok(isLimitAlgorithm(a))
  }
  t.throws(() => createAlgorithm('aimd', { backoffRatio: 2 }), /"algorithm\.options\.backoffRatio".*\[0\.5, 1\)/)
  t.throws(() => createAlgorithm('fixed', { limt: 2 }), /"algorithm\.options\.limt"/)
  t.throws(() => createAlgorithm('vegas', {}, { minSamples: 0 }), /"algorithm\.window\.minSamples"/)
  t.throws(() => createAlgorithm('nope' as AlgorithmName), /"algorithm".*'gradient2', 'vegas', 'aimd', 'fixed'.*"nope"/)
  // Gradient (v1) is not shipped: its limit climbed far past capacity on every traffic mix.
  t.throws(() => createAlgorithm('gradient' as AlgorithmName), /"algorithm".*got "gradient"/)
  const w = createAlgorithm('aimd', { initialLimit: 30 }, { minWindow: 0, minSamples: 2 })
  t.ok(w instanceof WindowedLimit)
  t.equal(w.name, 'aimd')
  t.equal(w.limit, 30)
  t.notOk(createAlgorithm('aimd', {}, false) instanceof WindowedLimit)
})

t.test('isLimitAlgorithm duck-types', async t => {
  t.notOk(isLimitAlgorithm(null))
  t.notOk(isLimitAlgorithm(3))
  t.notOk(isLimitAlgorithm({ name: 'x', limit: 1, onSample () {} }))
  t.ok(isLimitAlgorithm({ name: 'x', limit: 1, onSample () {}, state: () => ({}) }))
})
