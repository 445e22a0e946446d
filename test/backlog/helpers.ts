// An app whose /work route holds requests until released one by one, so queueing is deterministic,
// with the queue's clock and timers driven by hand (FakeTimers).
import Fastify from 'fastify'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse as Response } from 'fastify'
import { kInternal } from '../../lib/internal'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import { FakeTimers } from '../limiter/fake-timers'
import { recordingAlgorithm, settle } from '../plugin/helpers'

export interface HeldApp {
  app: FastifyInstance
  timers: FakeTimers
  /** Request ids in the order their handler started. */
  started: string[]
  /** Requests inside the handler now, by id. */
  held: Map<string, () => void>
  /** Send GET /work?id=..., with optional headers. */
  send: (id: string, headers?: Record<string, string>) => Promise<Response>
  /** Let one held request finish (after `ms` of fake time) and wait for its permit to be released. */
  finish: (id: string, ms?: number) => Promise<void>
}

export async function heldApp (limit: number, opts: FastifyAdaptiveConcurrencyOptions = {}, setup?: (app: FastifyInstance) => void): Promise<HeldApp> {
  const timers = new FakeTimers(1000)
  const queue = opts.queue === undefined ? { size: 10, timeout: 1000 } : opts.queue
  const app = Fastify()
  const options = {
    algorithm: recordingAlgorithm(limit),
    eventLoop: false,
    ...opts,
    queue,
    // The queue's timers are also the limiter's clock, as in production.
    ...(queue === false ? {} : { [kInternal]: { timers } })
  }
  await app.register(fastifyAdaptiveConcurrency, options as FastifyAdaptiveConcurrencyOptions)
  const started: string[] = []
  const held = new Map<string, () => void>()
  setup?.(app)
  app.get('/work', async (request: FastifyRequest<{ Querystring: { id: string } }>) => {
    const id = request.query.id
    started.push(id)
    await new Promise<void>(resolve => held.set(id, resolve))
    return { id }
  })
  await app.ready()
  const send = (id: string, headers: Record<string, string> = {}): Promise<Response> => app.inject({ url: `/work?id=${id}`, headers })
  const finish = async (id: string, ms = 0): Promise<void> => {
    const release = held.get(id)
    if (release === undefined) throw new Error(`${id} is not in the handler`)
    held.delete(id)
    timers.advance(ms)
    release()
    await settle()
    await settle()
  }
  return { app, timers, started, held, send, finish }
}

/** Poll (one macrotask at a time) until `cond` holds; fail after 5 s of wall time. */
async function poll (cond: () => boolean, what: () => string): Promise<void> {
  const deadline = Date.now() + 5000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(what())
    await settle()
  }
}

/** Wait until `n` requests are in the handler (hooks run asynchronously). */
export function inHandler (h: HeldApp, n: number): Promise<void> {
  return poll(() => h.held.size >= n, () => `expected ${n} requests in the handler, got ${h.held.size}`)
}

/** Wait until the queue holds `n` waiters. */
export function queued (h: HeldApp, n: number): Promise<void> {
  const length = (): number => h.app.concurrency.limiter.queue?.length ?? 0
  return poll(() => length() >= n, () => `expected ${n} queued, got ${length()}`)
}
