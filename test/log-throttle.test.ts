import t from 'tap'
import { LogThrottle } from '../lib/log-throttle'

t.test('lets one occurrence through per interval and counts the ones it held back', async t => {
  let now = 0
  const throttle = new LogThrottle(10_000, () => now)
  t.equal(throttle.pass(), 0, 'the first one goes through, nothing suppressed yet')
  now = 5_000
  t.equal(throttle.pass(), -1)
  now = 9_999
  t.equal(throttle.pass(), -1, 'still within the interval')
  now = 10_000
  t.equal(throttle.pass(), 2, 'one interval later: through, reporting the two held back')
  t.equal(throttle.pass(), -1)
  now = 30_000
  t.equal(throttle.pass(), 1, 'the count restarts after each pass')
})

t.test('interval 0 lets everything through', async t => {
  const throttle = new LogThrottle(0, () => 0)
  t.equal(throttle.pass(), 0)
  t.equal(throttle.pass(), 0)
})
