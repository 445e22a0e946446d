// The rolling queue-wait p99 of the backlog status: windows roll lazily at reads, no timer.
import t from 'tap'
import { BacklogStatus, WAIT_WINDOW_MS } from '../../lib/backlog/status'
import { Limiter } from '../../lib/limiter/limiter'
import { Permit } from '../../lib/limiter/permit'
import { PartitionSet } from '../../lib/limiter/partitions'
import { FakeTimers } from '../limiter/fake-timers'
import { StepAlgorithm } from '../limiter/helpers'

function setup (): { limiter: Limiter<string>, timers: FakeTimers, status: BacklogStatus, granted: Array<Permit<string>> } {
  const timers = new FakeTimers()
  const granted: Array<Permit<string>> = []
  const limiter = new Limiter<string>({
    algorithm: new StepAlgorithm(1, 0),
    timers,
    queue: { size: 10, timeout: 60_000 },
    onGranted: (_c, p) => { granted.push(p) },
    onQueueReject: () => {}
  })
  return { limiter, timers, status: new BacklogStatus(limiter as Limiter<unknown>, () => timers.now()), granted }
}

/** One request waits `ms` in the queue behind a running one, then runs. */
function oneWait (s: ReturnType<typeof setup>, ms: number): void {
  const running = s.limiter.acquire('running')
  if (!(running instanceof Permit)) throw new Error('expected a permit')
  s.limiter.acquire('waiter')
  s.timers.advance(ms)
  s.limiter.release(running, 'success')
  s.limiter.release(s.granted[s.granted.length - 1], 'success')
}

const near = (a: number | undefined, b: number): boolean => a !== undefined && Math.abs(a - b) <= b * 0.01

t.test('before the first window completes, the waits so far; then the last completed window', async t => {
  const s = setup()
  t.same(s.status.snapshot().queue?.waitP99, 0, 'nobody waited yet')
  oneWait(s, 200)
  let q = s.status.snapshot().queue
  t.ok(near(q?.waitP99, 200))
  t.equal(q?.waitCount, 1)
  t.equal(q?.waitWindow, 200, 'the window so far')
  s.timers.advance(WAIT_WINDOW_MS) // the first window ends at the next read
  q = s.status.snapshot().queue
  t.ok(near(q?.waitP99, 200))
  t.equal(q?.waitWindow, WAIT_WINDOW_MS + 200)
  oneWait(s, 50)
  q = s.status.snapshot().queue
  t.ok(near(q?.waitP99, 200), 'reads inside the next window keep reporting the completed one')
  s.timers.advance(WAIT_WINDOW_MS)
  q = s.status.snapshot().queue
  t.ok(near(q?.waitP99, 50), 'the 200 ms wait has rolled out')
  t.equal(q?.waitCount, 1)
  s.timers.advance(WAIT_WINDOW_MS)
  t.same(s.status.snapshot().queue?.waitP99, 0, 'a window without waits reports 0')
})

t.test('no queue and no partitions: an empty object; partitions alone: their status', async t => {
  const plain = new Limiter({ algorithm: new StepAlgorithm(3) })
  t.same(new BacklogStatus(plain, () => 0).snapshot(), {})
  const partitions = new PartitionSet({ a: 0.5 })
  const limiter = new Limiter({ algorithm: new StepAlgorithm(3), partitions })
  limiter.acquire(null, 'zzz')
  t.same(new BacklogStatus(limiter, () => 0).snapshot(), {
    partitions: {
      a: { share: 0.5, limit: 2, inflight: 0, admitted: 0, rejected: 0 },
      default: { share: 0.5, limit: 2, inflight: 1, admitted: 1, rejected: 0 }
    },
    unknownPartitions: 1
  })
})
