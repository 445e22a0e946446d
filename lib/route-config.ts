// Read a request's route config without allocating. Fastify 5's `request.routeOptions` getter
// builds a fresh object on every access; on the hot path we read the route context's `config`
// directly. The context symbol is private to Fastify, so it is found once by its description
// and we fall back to the public getter if a future Fastify renames it.
import type { FastifyContextConfig, FastifyRequest } from 'fastify'

type WithContext = FastifyRequest & Record<symbol, { config?: FastifyContextConfig } | undefined>

let kRouteContext: symbol | null | undefined

export function findRouteContextSymbol (request: FastifyRequest): symbol | null {
  return Object.getOwnPropertySymbols(request).find(s => s.description === 'fastify.context') ?? null
}

export function routeConfig (request: FastifyRequest): FastifyContextConfig {
  if (kRouteContext === undefined) kRouteContext = findRouteContextSymbol(request)
  if (kRouteContext !== null) {
    const config = (request as WithContext)[kRouteContext]?.config
    if (config !== undefined) return config
  }
  return request.routeOptions.config
}

/** Tests only: forget the cached symbol (to exercise the fallback). */
export function resetRouteContextSymbol (value?: symbol | null): void {
  kRouteContext = value
}
