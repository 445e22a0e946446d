// Everything the plugin knows about one limited request, in one record, in one slot of the raw
// response. It is allocated once, when the request enters the pipeline, and is the limiter's
// context for the request, so the permit, the wait queue and the shared 'close' listener all
// find it without a closure.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Permit } from '../limiter/permit'
import type { LongLivedKind, LongLivedRoute } from '../longlived/tracker'
import type { Waiter } from '../limiter/wait-queue'

export class RequestState {
  readonly request: FastifyRequest
  readonly reply: FastifyReply
  /**
   * The continuation of the hook admission runs in (onRequest, or preValidation for a request
   * whose body was still to come): called once, when the request may run or has been answered.
   */
  done: HookHandlerDoneFunction
  /** Set while the request waits for its body before it asks for a permit (see pipeline.ts). */
  awaitingBody = false
  /** In its slot of the raw response, with the shared 'close' listener attached. */
  watched = false
  /** The request's partition as named by its route or the chooser (with `partitions` only). */
  partition: string | undefined = undefined
  /** Held from admission until the response headers are written (or it closes first). */
  permit: Permit<RequestState> | undefined = undefined
  /** The route's long-lived record (lib/longlived/tracker.ts), set by the route stage. */
  route: LongLivedRoute | undefined = undefined
  /** Set by the route stage: a websocket or a long-lived route's request gives its permit back once admitted. */
  longLived: LongLivedKind = 0
  /** What the request is counted open as while it holds no permit; 0 otherwise. */
  opened: LongLivedKind = 0
  /** The response's own writeHead, called through by the pipeline's shared one. */
  writeHead: ((...args: never[]) => unknown) | undefined = undefined
  /** Set while the request waits in the queue. */
  waiter: Waiter<RequestState> | undefined = undefined
  /** Sessions: the request belongs to an active session (the overload rule counts these in flight). */
  activeSession = false
  /** Requests holding a permit past admission, oldest first (lib/longlived/aging.ts). */
  older: RequestState | undefined = undefined
  newer: RequestState | undefined = undefined
  aging = false
  /** Sessions: the key of a new session, seated once the request holds a permit. */
  newSessionKey: string | undefined = undefined

  constructor (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) {
    this.request = request
    this.reply = reply
    this.done = done
  }
}
