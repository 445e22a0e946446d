// The Redis member format of session keys: lossless for every JS string, readable for the rest.
import t from 'tap'
import fc from 'fast-check'
import { decodeMember, encodeMember } from '../../lib/sessions/redis-scripts'

t.test('a well-formed key is stored as it is', async t => {
  t.equal(encodeMember('user-42'), 'user-42')
  t.equal(encodeMember('üser 😀'), 'üser 😀')
})

t.test('a key with a lone surrogate, or starting with NUL, is NUL + hex of its UTF-16LE code units', async t => {
  t.equal(encodeMember('a\uD800'), '\u0000' + '610000d8')
  t.equal(encodeMember('\u0000a'), '\u0000' + '00006100')
  t.equal(decodeMember('\u0000' + '610000d8'), 'a\uD800')
})

t.test('distinct keys get distinct members that survive UTF-8 and decode back', async t => {
  // Any UTF-16 string, lone surrogates included.
  const key = fc.string({ unit: 'binary' })
  t.doesNotThrow(() => fc.assert(fc.property(key, key, (a, b) => {
    const ma = encodeMember(a)
    // What Redis keeps is the UTF-8 bytes: a member must survive the round trip unchanged.
    return Buffer.from(ma, 'utf8').toString('utf8') === ma && decodeMember(ma) === a &&
      (a === b) === (ma === encodeMember(b))
  }), { numRuns: 2000 }))
})
