// Read a request's route config without allocating. Fastify 5's `request.routeOptions` getter
// builds a fresh object on every access; on the hot path we read the route context's `config`
// directly. The context symbol is private to Fastify, so it is found once by its description
// and we fall back to the public getter if a future Fastify renames it.
import type { FastifyContextConfig, FastifyRequest } from 'fastify'

/** The parts of Fastify's per-route context we read; the object itself is shared by all requests of the route. */
export interface RouteContext {
  config?: FastifyContextConfig & { url?: string, method?: string | string[] }
}

type WithContext = FastifyRequest & Record<symbol, RouteContext | undefined>

let kRouteContext: symbol | null | undefined

export function findRouteContextSymbol (request: FastifyRequest): symbol | null {
  return Object.getOwnPropertySymbols(request).find(s => s.description === 'fastify.context') ?? null
}

/** The request's route context, or undefined if this Fastify hides it (then use the public getters). */
export function routeContext (request: FastifyRequest): RouteContext | undefined {
  if (kRouteContext === undefined) kRouteContext = findRouteContextSymbol(request)
  return kRouteContext === null ? undefined : (request as WithContext)[kRouteContext]
}

export function routeConfig (request: FastifyRequest): FastifyContextConfig {
  const config = routeContext(request)?.config
  return config !== undefined ? config : request.routeOptions.config
}

/** Tests only: forget the cached symbol (to exercise the fallback). */
export function resetRouteContextSymbol (value?: symbol | null): void {
  kRouteContext = value
}
