// Which class a finished request's latency belongs to (see lib/limiter/sample-classes.ts).
//
// Default: one class per route and method ("GET /users/:id"), and one for every request that
// matched no route. Routes are finite and known at startup, so the default can never run past
// the cap. The class is cached on Fastify's route context object, per registration and method,
// so finding it costs two property reads per request, with no string built. A custom
// `sampleClass(request)` names classes itself (a Map lookup per request); returning undefined
// falls back to the route's class.
import type { FastifyRequest } from 'fastify'
import { invalidOption } from '../errors'
import { SampleClasses, type SampleClass } from '../limiter/sample-classes'
import { routeContext, type RouteContext } from '../route-config'
import { describe } from '../validate'

export type SampleClassFunction = (request: FastifyRequest) => string | undefined

/** The class of requests that matched no route. */
export const UNMATCHED_CLASS = '(no route)'

type ClassCache = Record<string, SampleClass | null>
type Cached = RouteContext & Record<symbol, ClassCache | undefined>

export class RequestClasses {
  readonly classes: SampleClasses
  private readonly custom: SampleClassFunction | undefined
  /** Per registration: two instances of the plugin keep their own classes. */
  private readonly kCache = Symbol('adaptive-concurrency.sample-classes')
  private warned = false

  constructor (custom: SampleClassFunction | undefined, max?: number, longLivedAfter?: number) {
    this.classes = new SampleClasses(max, longLivedAfter)
    this.custom = custom
  }

  /** The class for this request: null past the cap (not sampled). */
  classOf (request: FastifyRequest): SampleClass | null {
    if (this.custom !== undefined) {
      const name = this.customName(request)
      if (name !== undefined) return this.classes.get(name)
    }
    return this.routeClass(request)
  }

  private customName (request: FastifyRequest): string | undefined {
    let name: unknown
    try {
      name = (this.custom as SampleClassFunction)(request)
    } catch (err) {
      this.warnOnce(request, err, 'sampleClass threw; the request counts in its route\'s class')
      return undefined
    }
    if (name === undefined || typeof name === 'string') return name
    this.warnOnce(request, undefined, `sampleClass returned ${describe(name)}, expected a string or undefined; the request counts in its route's class`)
    return undefined
  }

  private routeClass (request: FastifyRequest): SampleClass | null {
    const context = routeContext(request) as Cached | undefined
    if (context === undefined) return this.classes.get(classKey(request.method, request.routeOptions.url))
    let cache = context[this.kCache]
    if (cache === undefined) {
      cache = Object.create(null) as ClassCache
      context[this.kCache] = cache
    }
    const method = request.method
    let cls = cache[method]
    if (cls === undefined) {
      cls = this.classes.get(classKey(method, context.config?.url))
      cache[method] = cls
    }
    return cls
  }

  private warnOnce (request: FastifyRequest, err: unknown, message: string): void {
    if (this.warned) return
    this.warned = true
    request.log.error({ err }, `adaptive-concurrency: ${message} (logged once)`)
  }
}

/** A route's class name: "GET /users/:id", or UNMATCHED_CLASS. */
export function classKey (method: string, url: string | undefined): string {
  return url === undefined ? UNMATCHED_CLASS : `${method} ${url}`
}

/**
 * The `sampleClass` option: undefined for per-route classes (the default), `false` for one class
 * (raw latency, as the reference algorithms see it), or a function naming each request's class.
 */
export function resolveSampleClass (value: unknown): { enabled: boolean, custom: SampleClassFunction | undefined } {
  if (value === undefined || value === true) return { enabled: true, custom: undefined }
  if (value === false) return { enabled: false, custom: undefined }
  if (typeof value !== 'function') {
    invalidOption('signal.sampleClass', `expected false, or a function (request) => string | undefined, got ${describe(value)}`)
  }
  return { enabled: true, custom: value as SampleClassFunction }
}
