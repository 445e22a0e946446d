// The queue over real sockets, where clients can leave while they wait.
import t from 'tap'
import http from 'node:http'
import { until } from '../plugin/helpers'
import { heldApp, inHandler, queued } from './helpers'
import type { HeldApp } from './helpers'

interface Res { status: number, body: string }

function get (port: number, id: string): { done: Promise<Res>, abort: () => void } {
  let req!: http.ClientRequest
  const done = new Promise<Res>((resolve, reject) => {
    req = http.get({ port, path: `/work?id=${id}`, agent: false }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
  })
  return { done, abort: () => req.destroy() }
}

async function listen (t: tap.Test, h: HeldApp): Promise<number> {
  t.teardown(() => h.app.close())
  await h.app.listen({ port: 0, host: '127.0.0.1' })
  const address = h.app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

function books (h: HeldApp): { inflight: number, balanced: boolean } {
  const c = h.app.concurrency
  return { inflight: c.inflight, balanced: c.admitted === c.succeeded + c.dropped + c.ignored + c.inflight }
}

t.test('a client that leaves while queued is removed at once; its handler never runs', async t => {
  const h = await heldApp(1, { queue: { size: 5, timeout: 60_000 } })
  const port = await listen(t, h)
  const first = get(port, 'first')
  await inHandler(h, 1)
  const leaver = get(port, 'leaver')
  leaver.done.catch(() => {})
  const stayer = get(port, 'stayer')
  await queued(h, 2)
  leaver.abort()
  await until(() => h.app.concurrency.limiter.queue?.length === 1)
  t.equal(h.app.concurrency.limiter.queue?.cancelled, 1, 'withdrawn at its close, not at its timeout')
  await h.finish('first')
  await inHandler(h, 1)
  await h.finish('stayer')
  t.equal((await first.done).status, 200)
  t.equal((await stayer.done).status, 200)
  t.same(h.started, ['first', 'stayer'], 'the leaver never reached the handler')
  t.same(books(h), { inflight: 0, balanced: true })
  t.same([h.app.concurrency.admitted, h.app.concurrency.rejected], [2, 0], 'a withdrawn waiter is neither admitted nor rejected')
})

t.test('a waiter whose timeout is overdue when a permit frees up is rejected, and in-flight stays exact', async t => {
  const h = await heldApp(1, { queue: { size: 5, timeout: 100 } })
  const port = await listen(t, h)
  const first = get(port, 'first')
  await inHandler(h, 1)
  const racer = get(port, 'racer')
  await queued(h, 1)
  h.timers.jump(150) // the queue's timer is due but has not fired: the release gets there first
  await h.finish('first')
  const res = await racer.done
  t.equal(res.status, 503)
  t.match(res.body, /\(queue-timeout\)/)
  t.equal((await first.done).status, 200)
  t.same(books(h), { inflight: 0, balanced: true })
  t.same(h.started, ['first'])
  h.timers.advance(0) // the late timer fires now and finds nothing
  t.equal(h.app.concurrency.rejected, 1, 'rejected exactly once')
})

t.test('mixed run: queueing, timeouts, aborts while queued and while running; the books balance', async t => {
  const h = await heldApp(3, { queue: { size: 6, timeout: 500, order: 'lifo' } })
  const port = await listen(t, h)
  // A fixed pseudo-random sequence (LCG), so the run is the same every time.
  let seed = 42
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return Math.floor(seed / 65536) % n // the low bits of an LCG cycle quickly
  }
  const clients = new Map<string, ReturnType<typeof get>>()
  const answers: Res[] = []
  let aborted = 0
  let n = 0
  for (let step = 0; step < 150; step++) {
    const action = rand(8)
    if (action <= 2) {
      const id = `r${n++}`
      const c = get(port, id)
      clients.set(id, c)
      c.done.then(res => { answers.push(res); clients.delete(id) }, () => { clients.delete(id) })
    } else if (action === 3 && h.held.size > 0) {
      const ids = [...h.held.keys()]
      await h.finish(ids[rand(ids.length)], rand(50))
    } else if (action <= 5 && clients.size > 0) {
      const ids = [...clients.keys()]
      const id = ids[rand(ids.length)]
      clients.get(id)?.abort() // queued, running, or not yet arrived
      clients.delete(id)
      aborted++
    } else if (action === 6) {
      h.timers.advance(rand(300))
    } else {
      await until(() => true)
    }
    // Let sockets connect and hooks run before the next step.
    await new Promise(resolve => setTimeout(resolve, 1))
    if (!books(h).balanced) t.fail(`books off at step ${step}`)
  }
  // Wind down: let every running request finish and every queued one time out or be granted.
  await until(() => {
    for (const id of [...h.held.keys()]) h.held.get(id)?.()
    h.held.clear()
    h.timers.advance(600)
    return clients.size === 0 && h.app.concurrency.inflight === 0
  }, 10_000)
  const c = h.app.concurrency
  const q = c.limiter.queue
  t.same(books(h), { inflight: 0, balanced: true })
  t.equal(q?.length, 0)
  t.ok(c.admitted > 0 && c.ignored > 0 && (q?.granted ?? 0) > 0 && (q?.timedOut ?? 0) > 0 && (q?.rejectedFull ?? 0) > 0 && (q?.cancelled ?? 0) > 0,
    `the run exercised the paths: ${JSON.stringify({ admitted: c.admitted, rejected: c.rejected, ignored: c.ignored, granted: q?.granted, timedOut: q?.timedOut, full: q?.rejectedFull, cancelled: q?.cancelled, aborted })}`)
  t.equal(h.started.length, c.admitted, 'every admitted request, and only those, ran its handler')
  t.equal(answers.filter(a => a.status === 503).length <= c.rejected, true)
})
