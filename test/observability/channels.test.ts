import { test } from 'tap'
import diagnosticsChannel from 'node:diagnostics_channel'
import {
  createChannelsObserver, LIMIT_CHANNEL, REJECT_CHANNEL, SAMPLE_CHANNEL
} from '../../lib/observability/channels'

test('channel names are the documented ones', async t => {
  t.equal(LIMIT_CHANNEL, 'fastify-adaptive-concurrency:limit')
  t.equal(REJECT_CHANNEL, 'fastify-adaptive-concurrency:reject')
  t.equal(SAMPLE_CHANNEL, 'fastify-adaptive-concurrency:sample')
})

test('subscribers receive limit, reject and sample messages', async t => {
  const got: Array<[string, unknown]> = []
  const subs = [LIMIT_CHANNEL, REJECT_CHANNEL, SAMPLE_CHANNEL].map(name => {
    const fn = (message: unknown, channelName: string | symbol): void => { got.push([String(channelName), message]) }
    diagnosticsChannel.subscribe(name, fn)
    return () => diagnosticsChannel.unsubscribe(name, fn)
  })
  t.teardown(() => { for (const off of subs) off() })

  const o = createChannelsObserver({ instance: 'api' })
  const sample = { rtt: 12.5, inflight: 3, dropped: false, at: 100 }
  o.onLimitChange!(10, 12, 'sample')
  o.onReject!('limit', undefined)
  o.onReject!('partition', 'batch')
  o.onSample!(sample, 'live')
  sample.rtt = 999 // the message is a copy, not the limiter's object

  t.same(got, [
    [LIMIT_CHANNEL, { instance: 'api', oldLimit: 10, newLimit: 12, reason: 'sample' }],
    [REJECT_CHANNEL, { instance: 'api', reason: 'limit', partition: undefined }],
    [REJECT_CHANNEL, { instance: 'api', reason: 'partition', partition: 'batch' }],
    [SAMPLE_CHANNEL, { instance: 'api', rtt: 12.5, inflight: 3, dropped: false, partition: 'live' }]
  ])
})

test('nothing is published (or built) without subscribers', async t => {
  // A subscriber on one channel must not cause publishing on the others.
  const limits: unknown[] = []
  const onLimit = (m: unknown): void => { limits.push(m) }
  diagnosticsChannel.subscribe(LIMIT_CHANNEL, onLimit)
  t.teardown(() => diagnosticsChannel.unsubscribe(LIMIT_CHANNEL, onLimit))

  t.notOk(diagnosticsChannel.channel(REJECT_CHANNEL).hasSubscribers)
  t.notOk(diagnosticsChannel.channel(SAMPLE_CHANNEL).hasSubscribers)
  const o = createChannelsObserver()
  // A sample whose fields throw when read proves the message is never built when unsubscribed.
  const trap = {
    get rtt (): number { throw new Error('read without subscribers') },
    inflight: 1,
    dropped: false
  }
  t.doesNotThrow(() => o.onSample!(trap, undefined))
  o.onReject!('limit', undefined)
  o.onLimitChange!(1, 2, 'probe')
  t.same(limits, [{ instance: 'default', oldLimit: 1, newLimit: 2, reason: 'probe' }])

  diagnosticsChannel.unsubscribe(LIMIT_CHANNEL, onLimit)
  o.onLimitChange!(2, 3, 'probe')
  t.equal(limits.length, 1, 'after unsubscribe nothing arrives')
})
