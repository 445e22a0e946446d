import t from 'tap'
import { numberOption, booleanOption, enumOption, functionOption, objectOption, knownKeys, describe } from '../lib/validate'

t.test('numberOption returns the default when undefined and the value when valid', async t => {
  t.equal(numberOption('x', undefined, 5, 0, 10), 5)
  t.equal(numberOption('x', 7, 5, 0, 10), 7)
})

t.test('numberOption names the option and the range', async t => {
  t.throws(() => numberOption('backoffRatio', 1, 0.9, 0.5, 1, { maxExclusive: true }), {
    code: 'FST_CONCURRENCY_INVALID_OPTION',
    message: /"backoffRatio".*\[0\.5, 1\)/
  })
  t.throws(() => numberOption('x', 0, 1, 0, 10, { minExclusive: true }), /\(0, 10\]/)
  t.throws(() => numberOption('x', Number.NaN, 1), /got NaN/)
  t.throws(() => numberOption('x', '3', 1), /got "3"/)
  t.throws(() => numberOption('x', 1.5, 1, 0, 10, { integer: true }), /an integer/)
  t.throws(() => numberOption('x', 11, 1, 0, 10), /got 11/)
})

t.test('other checkers', async t => {
  t.equal(booleanOption('b', undefined, true), true)
  t.throws(() => booleanOption('b', 1, true), /expected a boolean, got 1/)
  t.equal(enumOption('e', 'a', ['a', 'b'] as const, 'b'), 'a')
  t.equal(enumOption('e', undefined, ['a', 'b'] as const, 'b'), 'b')
  t.throws(() => enumOption('e', 'c', ['a', 'b'] as const, 'b'), /one of 'a', 'b'/)
  const f = (): number => 1
  t.equal(functionOption('f', f), f)
  t.equal(functionOption('f', undefined), undefined)
  t.throws(() => functionOption('f', 1), /expected a function/)
  t.same(objectOption('o', { a: 1 }), { a: 1 })
  t.equal(objectOption('o', undefined), undefined)
  t.throws(() => objectOption('o', null), /got null/)
  t.throws(() => objectOption('o', []), /got an array/)
  t.doesNotThrow(() => knownKeys('o', { a: 1 }, ['a']))
  t.throws(() => knownKeys('o', { maxLimt: 1 }, ['maxLimit']), /"o.maxLimt".*accepted: maxLimit/)
  t.throws(() => knownKeys('', { maxLimt: 1 }, ['maxLimit']), /"maxLimt"/)
  t.equal(describe('x'.repeat(50)).length, 43)
  t.equal(describe(undefined), 'undefined')
})
