// An app with a fixed limit, no queue, and a route whose handlers stay open until the test
// releases them, on one manual clock shared by the sessions and the limiter: every admission
// decision and every duration is the test's. Sessions are keyed by the `x-user` header.
import Fastify from 'fastify'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { fastifyAdaptiveConcurrency } from '../../lib/plugin'
import type { FastifyAdaptiveConcurrencyOptions } from '../../lib/types'
import type { SessionsOptions } from '../../lib/sessions/options'
import { kInternal } from '../../lib/internal'
import { recordingAlgorithm, settle } from '../plugin/helpers'
import { ManualClock } from './helpers'

export interface HeldAppOptions {
  limit: number
  /** How long the clock moves when held requests complete (default 10 ms). */
  serviceMs?: number
  /** Sessions options besides the key (default idleTimeout 60 s). */
  sessions?: Partial<Omit<SessionsOptions, 'key'>>
  clock?: ManualClock
}

export interface HeldApp {
  app: FastifyInstance
  clock: ManualClock
  /** Send a held request; resolves 'admitted' once it is in the handler, or its refusal status. */
  hold: (user?: string) => Promise<'admitted' | number>
  /** One service time passes, then every held request completes. */
  releaseAll: () => Promise<number[]>
  /** A request that completes after one service time. */
  serve: (user?: string) => Promise<number>
}

export async function heldApp (t: { teardown: (fn: () => unknown) => void }, options: HeldAppOptions): Promise<HeldApp> {
  const clock = options.clock ?? new ManualClock()
  const serviceMs = options.serviceMs ?? 10
  const app = Fastify()
  await app.register(fastifyAdaptiveConcurrency, {
    algorithm: recordingAlgorithm(options.limit),
    eventLoop: false,
    queue: false,
    sessions: { idleTimeout: 60_000, ...options.sessions, key: (request) => request.headers['x-user'] as string | undefined },
    [kInternal]: {
      sessionClock: clock.now,
      drainTimers: clock,
      timers: { now: clock.now, setTimer: (fn: () => void, ms: number) => clock.setTimeout(fn, ms), clearTimer: (h: unknown) => clock.clearTimeout(h) }
    }
  } as FastifyAdaptiveConcurrencyOptions)
  let release!: () => void
  let gate = new Promise<void>((resolve) => { release = resolve })
  let inside = 0
  app.get('/fast', async () => ({ ok: true }))
  app.get('/slow', async () => { inside++; await gate; return { ok: true } })
  await app.ready()
  t.teardown(() => app.close())
  const held: Array<Promise<LightMyRequestResponse>> = []

  async function hold (user?: string): Promise<'admitted' | number> {
    const before = inside
    const res = app.inject({ url: '/slow', headers: user === undefined ? {} : { 'x-user': user } })
    const state: { done: LightMyRequestResponse | undefined } = { done: undefined }
    res.then((r) => { state.done = r }, () => {})
    for (;;) {
      if (state.done !== undefined) return state.done.statusCode
      if (inside !== before) break
      await settle()
    }
    held.push(res)
    return 'admitted'
  }
  async function releaseAll (): Promise<number[]> {
    clock.advance(serviceMs)
    release()
    const codes = (await Promise.all(held.splice(0))).map((r) => r.statusCode)
    await settle()
    gate = new Promise<void>((resolve) => { release = resolve })
    return codes
  }
  async function serve (user?: string): Promise<number> {
    const status = await hold(user)
    if (status !== 'admitted') return status
    return (await releaseAll())[0]
  }
  return { app, clock, hold, releaseAll, serve }
}
