// Admission as one ordered list of stages (see stage.ts), and the single path out of it.
//
// onRequest allocates the request's record (request-state.ts), puts it in one slot of the raw
// response, and runs the stages' `enter` in order; then the capacity stage hands out a permit,
// queues the request, or says why not. An admitted request runs the stages' `admitted` in order,
// then its onRequest continues. ONE 'close' listener per registration, shared by every request,
// reads the record from `this`: it withdraws a request whose client left while queued, and
// releases a permit exactly once. 'close' is used because in Fastify 5 onResponse does not fire
// when the client aborts, which would leak permits.
//
// The permit counts the server's work, not the connection's life (lib/longlived/tracker.ts):
// - a long-lived request (a websocket handshake, a long-lived route's request) gives its permit
//   back with no sample as soon as it is admitted;
// - any other request gives it back, with its sample, when its response headers are written:
//   ONE shared writeHead per registration stands in for the response's own (kept on the record),
//   which Node calls for explicit headers and implicit ones alike (first write, end, flushHeaders;
//   HTTP/1.1 and the HTTP/2 compatibility API). A streamed body or a slow reader then holds no
//   permit. Whichever of headers and 'close' comes first releases; the other finds it released.
//
// A request with a body asks for its permit once the body is in (preValidation), unless the limit
// is already full when it arrives: a slow upload is the client's time, not the server's work, and
// would otherwise hold a permit while its bytes trickle in. At the limit it is admitted, queued
// or refused at once as any request, so that under overload no client uploads a body to be refused.
// Its stages' `enter` (opt-out, drain, sessions, the event-loop gate) still run at onRequest.
//
// When a request finds the limit full, permits held for `signal.longLivedAfter` by requests of
// routes that were never fast are given back first (lib/longlived/aging.ts): an undeclared
// long-poll stops crowding the limit within that time, and its route is learned from it. The
// moment a route is learned (from those ages or from its answers), every request of it still
// holding a permit gives it back, and one that gets its permit later is admitted long-lived.
//
// Every refusal, from any stage, leaves through `refuse` (lib/refusal.ts).
import type { ServerResponse } from 'node:http'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { clientGone } from '../client-gone'
import { Limiter, type LimiterOptions } from '../limiter/limiter'
import { Permit } from '../limiter/permit'
import type { ResolvedOptions } from '../options'
import { createRefusal, type RefuseFunction, type RejectReason } from '../refusal'
import type { RequestClasses } from '../signal/request-class'
import { AgingList } from '../longlived/aging'
import { SENDING, WAITING, WEBSOCKET, type LongLivedRoute, type LongLivedTracker } from '../longlived/tracker'
import { outcomeOf, type PressureProbe } from '../signal/outcome'
import { RequestState } from './request-state'
import { PASS, type AdmissionStage, type CapacityStage, type StageContext, type StageLifecycle } from './stage'

type Carrier = ServerResponse & Record<symbol, RequestState | undefined>

export interface PipelineOptions<S, C> {
  readonly fastify: FastifyInstance
  readonly options: ResolvedOptions
  /** The limiter's settings; the pipeline adds the queue's callbacks. */
  readonly limiter: Omit<LimiterOptions<RequestState>, 'onGranted' | 'onQueueReject'>
  readonly classes: RequestClasses | undefined
  readonly pressure: PressureProbe
  /** Counts what holds no permit: websockets, long-lived routes' requests, responses still sending. */
  readonly longLived: LongLivedTracker
  /**
   * Builds the admission stages. The order of the returned object's keys is the order in which
   * they run; an undefined stage (a feature turned off) is left out.
   */
  readonly stages: (ctx: StageContext) => S
  /** Builds the capacity stage that ends the pipeline. */
  readonly capacity: (ctx: StageContext) => C
}

export class Pipeline<S extends Record<string, AdmissionStage | undefined>, C extends CapacityStage> {
  readonly limiter: Limiter<RequestState>
  /** The admission stages by name. */
  readonly stage: S
  /** The same, in order. */
  readonly stages: readonly AdmissionStage[]
  readonly capacity: C
  /** Every stage with its lifecycle hooks, in pipeline order, the capacity stage last. */
  readonly lifecycle: readonly StageLifecycle[]
  private readonly answer: RefuseFunction
  private readonly classes: RequestClasses | undefined
  private readonly pressure: PressureProbe
  private readonly longLived: LongLivedTracker
  private readonly signal: ResolvedOptions['signal']
  private readonly aging: AgingList<RequestState>
  /** Requests that waited for their body and never asked for a permit (ConcurrencyStatus.abandoned). */
  abandoned = 0
  /** Per registration, so two instances of the plugin (say, per prefix) never share a slot. */
  private readonly kState = Symbol('adaptive-concurrency.request')
  // Bound once: shared by every request, so no per-request closure.
  readonly onRequest: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
  /** preValidation: a request that waited for its body asks for its permit. */
  readonly onBody: (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void
  private readonly convertAged: (state: RequestState, age: number) => void
  private readonly convertLearned: (state: RequestState) => void
  /** A route that ageing just taught long-lived, to release the rest of once the walk is done. */
  private learnedNow: LongLivedRoute | undefined = undefined
  private readonly onClose: (this: ServerResponse) => void
  private readonly onWriteHead: (this: Carrier) => unknown

  constructor (opts: PipelineOptions<S, C>) {
    const options = opts.options
    this.limiter = new Limiter<RequestState>({
      ...opts.limiter,
      onGranted: (state, permit) => { this.granted(state, permit) },
      onQueueReject: (state, reason) => { this.expired(state, reason as RejectReason) }
    })
    this.classes = opts.classes
    this.pressure = opts.pressure
    this.longLived = opts.longLived
    this.signal = options.signal
    // Ageing teaches routes' classes: without them (or with a custom classifier) nothing is learned.
    this.aging = new AgingList(opts.longLived.learns ? options.signal.longLivedAfter : Infinity)
    this.answer = createRefusal({ rejection: options.rejection, onRefused: options.sessions?.onRefused, limiter: this.limiter })
    const ctx: StageContext = {
      fastify: opts.fastify,
      options,
      limiter: this.limiter,
      resume: (state, stage) => { this.runAdmitted(state, this.stages.indexOf(stage) + 1) },
      refuse: (state, reason) => { this.refuse(state, reason) },
      withdraw: (state, reason) => { this.withdraw(state, reason) }
    }
    this.stage = opts.stages(ctx)
    this.stages = Object.values(this.stage).filter((stage): stage is AdmissionStage => stage !== undefined)
    this.capacity = opts.capacity(ctx)
    this.lifecycle = [...this.stages, this.capacity]
    const pipeline = this
    this.onRequest = function onRequest (request, reply, done) { pipeline.enter(request, reply, done) }
    this.onBody = function onBody (_request, reply, done) { pipeline.bodyIn(reply, done) }
    this.convertAged = (state, age) => { this.aged(state, age) }
    this.convertLearned = (state) => { this.becameLongLived(state) }
    this.onClose = function onResponseClose (this: ServerResponse) { pipeline.closed(this) }
    const kState = this.kState
    this.onWriteHead = function writeHead (this: Carrier) {
      const state = this[kState] as RequestState
      const result = (state.writeHead as (...args: unknown[]) => unknown).apply(this, arguments as unknown as unknown[])
      // After the response's own writeHead: `classify` sees headersSent and the final statusCode.
      pipeline.headers(state, this)
      return result
    }
  }

  /** A queued request got its permit (the limiter's onGranted). */
  private granted (state: RequestState, permit: Permit<RequestState>): void {
    state.waiter = undefined
    this.admit(state, permit)
  }

  /** A queued request left the queue without a permit: timeout, deadline, eviction, server closing. */
  private expired (state: RequestState, reason: RejectReason): void {
    state.waiter = undefined
    this.refuse(state, reason)
  }

  private enter (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const raw = reply.raw
    // The client left while earlier hooks ran: 'close' has fired already and would never
    // release a permit taken now. Such a request is not counted at all.
    if (clientGone(raw)) return done()
    const state = new RequestState(request, reply, done)
    const stages = this.stages
    for (let i = 0; i < stages.length; i++) {
      const verdict = stages[i].enter(state)
      if (verdict === undefined) continue
      if (verdict === PASS) return done()
      this.limiter.reject(verdict, state.partition)
      if (verdict === 'event-loop') this.limiter.shedUpstream()
      return this.refuse(state, verdict)
    }
    if (hasBody(request) && !this.limiter.isAtLimit()) {
      state.awaitingBody = true
      this.watch(state)
      return done()
    }
    this.acquire(state)
  }

  /** preValidation: the body is in (parsed); a request that waited for it asks for its permit. */
  private bodyIn (reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const state = (reply.raw as Carrier)[this.kState]
    if (state === undefined || !state.awaitingBody) return done()
    state.awaitingBody = false
    state.done = done
    if (clientGone(reply.raw)) return done()
    this.acquire(state)
  }

  private acquire (state: RequestState): void {
    const limiter = this.limiter
    if (this.aging.active && limiter.isAtLimit()) {
      this.aging.reclaim(limiter.now(), this.convertAged)
      const learned = this.learnedNow
      if (learned !== undefined) {
        this.learnedNow = undefined
        this.aging.releaseRoute(learned, this.convertLearned)
      }
    }
    const result = this.capacity.acquire(state)
    if (typeof result === 'string') return this.refuse(state, result)
    this.watch(state)
    if (result instanceof Permit) return this.admit(state, result)
    // Queued: the limiter calls granted() or expired() later.
    state.waiter = result
  }

  /** The record in its slot of the raw response and the shared 'close' listener, once per request. */
  private watch (state: RequestState): void {
    if (state.watched) return
    state.watched = true
    const raw = state.reply.raw
    ;(raw as Carrier)[this.kState] = state
    raw.on('close', this.onClose)
  }

  private admit (state: RequestState, permit: Permit<RequestState>): void {
    state.permit = permit
    this.runAdmitted(state, 0)
  }

  private runAdmitted (state: RequestState, from: number): void {
    const stages = this.stages
    for (let i = from; i < stages.length; i++) {
      const stage = stages[i]
      if (stage.admitted !== undefined && !stage.admitted(state)) return
    }
    const permit = state.permit as Permit<RequestState>
    // Released already: the client left while a stage held the request.
    if (!permit.released) {
      let kind = state.longLived
      // Its route was learned long-lived while it waited in the queue (a herd of polls at start).
      if (kind === 0 && state.route !== undefined && state.route.learned) kind = state.longLived = WAITING
      if (kind !== 0) {
        this.release(state, permit, 'ignore')
        this.longLived.open(state, kind)
      } else {
        const raw = state.reply.raw
        state.writeHead = raw.writeHead
        raw.writeHead = this.onWriteHead as ServerResponse['writeHead']
        this.aging.link(state)
      }
    }
    state.done()
  }

  private refuse (state: RequestState, reason: RejectReason): void {
    // A refused websocket handshake's socket belongs to no HTTP server any more (Node handed it
    // to the 'upgrade' listener): once the 503 is out, nothing else would close it when the
    // plugin's onRequest ran before @fastify/websocket's.
    if (state.longLived === WEBSOCKET) state.reply.raw.once('finish', endUpgradeSocket)
    this.answer(state.request, state.reply, reason, state.done)
  }

  private withdraw (state: RequestState, reason: RejectReason): void {
    const permit = state.permit as Permit<RequestState>
    // Already released when the client left first: then only the refusal is left to count.
    if (!permit.released) this.release(state, permit, 'ignore')
    this.limiter.reject(reason, state.partition)
    this.refuse(state, reason)
  }

  private closed (raw: ServerResponse): void {
    const state = (raw as Carrier)[this.kState]
    /* c8 ignore next -- defensive: the listener is only attached together with a record */
    if (state === undefined) return
    if (state.awaitingBody) {
      // Its body never came in whole: refused by Fastify (too large, malformed) or its client left.
      state.awaitingBody = false
      this.abandoned++
      return
    }
    const waiter = state.waiter
    if (waiter !== undefined) {
      // The client left while queued: withdraw it; its request never runs, nothing is answered.
      state.waiter = undefined
      this.limiter.cancel(waiter)
      return
    }
    if (state.opened !== 0) this.longLived.close(state)
    const permit = state.permit
    if (permit === undefined || permit.released) return
    // Closed before its headers: the work counts only if the response ended.
    this.finish(state, permit, raw.writableEnded, state.reply.statusCode)
  }

  /** The response's headers were written: the server's work is done. */
  private headers (state: RequestState, raw: ServerResponse): void {
    const permit = state.permit
    if (permit === undefined || permit.released) return
    // A client that left is seen here before its 'close' fires (on the next tick).
    this.finish(state, permit, !clientGone(raw), raw.statusCode)
    this.longLived.open(state, SENDING)
  }

  /** Classify the request's sample (`done`: the server did its work for a client still there) and release. */
  private finish (state: RequestState, permit: Permit<RequestState>, done: boolean, statusCode: number): void {
    const reply = state.reply
    const rtt = this.limiter.elapsed(permit)
    const classes = this.classes
    let outcome = outcomeOf(this.signal, reply, done, statusCode, rtt, classes)
    // Under-pressure sees event-loop and memory saturation that latency alone may hide.
    if (outcome === 'success' && this.pressure.isUnderPressure !== undefined && this.pressure.isUnderPressure()) outcome = 'drop'
    if (classes !== undefined && outcome !== 'ignore') permit.sampleClass = classes.classOf(reply.request)
    const route = state.route
    const undecided = route !== undefined && !route.learned
    this.release(state, permit, outcome)
    // Its sample taught its route long-lived: the route's other requests give their permits back now.
    if (undecided && (route as LongLivedRoute).learned) this.aging.releaseRoute(route as LongLivedRoute, this.convertLearned)
  }

  /** A request of a route never fast held its permit past `signal.longLivedAfter`: it is long-lived. */
  private aged (state: RequestState, age: number): void {
    const route = state.route
    const undecided = route !== undefined && !route.learned
    route?.cls?.observe(age, false, false)
    if (undecided && (route as LongLivedRoute).learned) this.learnedNow = route
    this.becameLongLived(state)
  }

  /** A request of a route learned long-lived gives its permit back and stays open as waiting. */
  private becameLongLived (state: RequestState): void {
    this.release(state, state.permit as Permit<RequestState>, 'ignore')
    this.longLived.open(state, WAITING)
  }

  private release (state: RequestState, permit: Permit<RequestState>, outcome: 'success' | 'drop' | 'ignore'): void {
    this.aging.unlink(state)
    const stages = this.stages
    for (let i = 0; i < stages.length; i++) stages[i].released?.(state)
    try {
      this.limiter.release(permit, outcome)
    } catch (err) {
      // A custom algorithm threw in onSample; the permit is already accounted for.
      state.reply.log.error({ err }, 'adaptive-concurrency: the limit algorithm threw')
    }
  }
}

/**
 * Fastify reads a body for this request: a method that may carry one, with a length, chunks, or
 * (HTTP/2, where the length is optional) a content type.
 */
function hasBody (request: FastifyRequest): boolean {
  const method = request.method
  if (method === 'GET' || method === 'HEAD') return false
  const headers = request.headers
  const length = headers['content-length']
  if (length !== undefined) return length !== '0'
  return headers['transfer-encoding'] !== undefined || headers['content-type'] !== undefined
}

/** Shared 'finish' listener of a refused websocket handshake's response. */
function endUpgradeSocket (this: ServerResponse): void {
  this.socket?.end()
}
