// Long-lived requests: the ones whose life is the client's, not the server's work.
//
// The plugin counts the server's work. A request is long-lived, and is admitted at the limit like
// any request but then holds no permit and feeds no sample, when:
// - it is a websocket handshake (an HTTP/1.1 Upgrade to a route registered as a websocket route):
//   the connection's life after the upgrade is not work the limit protects;
// - its route is declared `config: { adaptiveConcurrency: { longLived: true } }` (a long-poll, an
//   event stream), or its route's class was learned long-lived (lib/limiter/sample-classes.ts):
//   a window of its samples was long, and it had not been fast for long.
// Every other request holds its permit until its response headers are written (the pipeline
// watches writeHead), then counts here as "sending" until its response closes: a streamed body
// or a slow reader no longer holds the limit.
//
// What is open is counted per kind and per route, on a record cached on Fastify's route context
// (per registration and method), so finding it costs a few property reads per request.
import type { FastifyRequest } from 'fastify'
import type { SampleClass } from '../limiter/sample-classes'
import { routeContext, type RouteContext } from '../route-config'
import { classKey, UNMATCHED_CLASS, type RequestClasses } from '../signal/request-class'
import type { RouteConcurrencyConfig } from '../types'

/** Why a request holds no permit. 0: it does (an ordinary request). */
export const WEBSOCKET = 1
export const WAITING = 2
export const SENDING = 3
export type LongLivedKind = 0 | typeof WEBSOCKET | typeof WAITING | typeof SENDING

/** One route (and method): its declaration, its learned class, and what is open on it now. */
export class LongLivedRoute {
  readonly name: string
  /** `config.adaptiveConcurrency.longLived`: true, false (never learned), or undefined. */
  readonly declared: boolean | undefined
  /** The route's latency class, where learning happens; undefined without per-route classes. */
  readonly cls: SampleClass | null | undefined
  /** Open now: websockets, waiting requests and responses still sending. */
  open = 0
  /** A websocket route (@fastify/websocket's `websocket: true` or `wsHandler`): its upgrades are websockets. */
  websocket = false

  constructor (name: string, declared: boolean | undefined, cls: SampleClass | null | undefined) {
    this.name = name
    this.declared = declared
    this.cls = cls
  }

  get learned (): boolean {
    return this.declared === undefined && this.cls != null && this.cls.longLived
  }
}

/** What the status reports: open now, by kind and by route. */
export interface LongLivedStatus {
  /** Requests open now that hold no permit: websockets + waiting + sending. */
  open: number
  /** Upgraded websockets (their handshake was admitted) open now. */
  websockets: number
  /** Requests of long-lived routes (declared or learned) open now. */
  waiting: number
  /** Responses whose headers are written and whose body is still going out (streams, slow readers). */
  sending: number
  /** Websockets and long-lived requests admitted so far. */
  admitted: number
  /**
   * Per route ("GET /events"), for routes with something open now or long-lived: open now, and
   * whether it is long-lived by declaration, learned, or not ('no': its open requests are sending).
   */
  routes: Record<string, { open: number, longLived: 'declared' | 'learned' | 'no' }>
}

type Cached = RouteContext & Record<symbol, Record<string, LongLivedRoute> | undefined>

interface Counted {
  readonly request: FastifyRequest
  /** The record of the request's route, set by the route stage (a pipeline without one counts totals only). */
  route: LongLivedRoute | undefined
  /** What the request is counted open as; 0 while it holds a permit or before. */
  opened: LongLivedKind
}

export class LongLivedTracker {
  private readonly classes: RequestClasses | undefined
  /** Per registration: two instances of the plugin keep their own records. */
  private readonly kRoute = Symbol('adaptive-concurrency.long-lived')
  private readonly routes: LongLivedRoute[] = []
  private readonly byName = new Map<string, LongLivedRoute>()
  private websockets = 0
  private waiting = 0
  private sending = 0
  private admitted = 0

  /** `classes`: the per-route classes learning happens in; undefined when classes are off or custom. */
  constructor (classes: RequestClasses | undefined) {
    this.classes = classes
  }

  /** Routes are learned long-lived from their classes (per-route classes are on and not custom). */
  get learns (): boolean {
    return this.classes !== undefined
  }

  /** The request's route record (created on first use). */
  routeOf (request: FastifyRequest): LongLivedRoute {
    const context = routeContext(request) as Cached | undefined
    /* c8 ignore next -- a Fastify that hides the route context: by name, a Map lookup */
    if (context === undefined) return this.named(classKey(request.method, request.routeOptions.url), request.routeOptions.config)
    let cache = context[this.kRoute]
    if (cache === undefined) {
      cache = Object.create(null) as Record<string, LongLivedRoute>
      context[this.kRoute] = cache
    }
    const method = request.method
    let route = cache[method]
    if (route === undefined) {
      route = this.named(classKey(method, context.config?.url), context.config)
      cache[method] = route
    }
    return route
  }

  private named (name: string, config: unknown): LongLivedRoute {
    let route = this.byName.get(name)
    if (route === undefined) {
      const cfg = (config as { adaptiveConcurrency?: unknown } | undefined)?.adaptiveConcurrency
      const declared = cfg !== null && typeof cfg === 'object' ? (cfg as RouteConcurrencyConfig).longLived : undefined
      // Requests that matched no route are never long-lived by learning (a 404 is never sampled).
      const cls = name === UNMATCHED_CLASS ? undefined : this.classes?.classes.get(name)
      route = new LongLivedRoute(name, declared, cls)
      this.byName.set(name, route)
      this.routes.push(route)
    }
    return route
  }

  /**
   * A route that answers upgrades with a websocket, seen at registration. Only its upgrades give
   * their permit back: an `Upgrade` header sent to any other route must not skip the limit.
   */
  websocketRoute (url: string, config: unknown): void {
    this.named(classKey('GET', url), config).websocket = true
  }

  /** How a request about to be admitted will be counted: a websocket, a waiting request, or ordinary (0). */
  kindOf (request: FastifyRequest, route: LongLivedRoute): LongLivedKind {
    const raw = request.raw as { upgrade?: boolean, headers: Record<string, unknown> }
    // Node's parser sets `upgrade` on every HTTP/1.1 request; other request objects (HTTP/2, a
    // test's fake) are asked for the header.
    if (route.websocket && (raw.upgrade === true || (raw.upgrade === undefined && raw.headers.upgrade !== undefined))) return WEBSOCKET
    const declared = route.declared
    if (declared === true) return WAITING
    if (declared === false) return 0
    const cls = route.cls
    return cls != null && cls.longLived ? WAITING : 0
  }

  /** The request gave its permit back and stays open as `kind`. */
  open (state: Counted, kind: LongLivedKind): void {
    state.opened = kind
    if (kind === WEBSOCKET) {
      this.websockets++
      this.admitted++
    } else if (kind === WAITING) {
      this.waiting++
      this.admitted++
    } else {
      this.sending++
    }
    const route = state.route
    if (route !== undefined) route.open++
  }

  /** Its response closed. */
  close (state: Counted): void {
    const kind = state.opened
    state.opened = 0
    if (kind === WEBSOCKET) this.websockets--
    else if (kind === WAITING) this.waiting--
    else this.sending--
    const route = state.route
    if (route !== undefined) route.open--
  }

  status (): LongLivedStatus {
    const routes: LongLivedStatus['routes'] = {}
    for (const route of this.routes) {
      const longLived = route.declared === true ? 'declared' : route.learned ? 'learned' : 'no'
      if (route.open > 0 || longLived !== 'no') routes[route.name] = { open: route.open, longLived }
    }
    return {
      open: this.websockets + this.waiting + this.sending,
      websockets: this.websockets,
      waiting: this.waiting,
      sending: this.sending,
      admitted: this.admitted,
      routes
    }
  }
}
