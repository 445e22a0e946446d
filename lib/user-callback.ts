// A user's per-request callback (bypass, partitions.choose, sessions.key) that throws must not
// turn into 500s for every request: the throw is logged and the request gets `fallback`.
import type { FastifyRequest } from 'fastify'

export function callUser<R, F> (fn: (request: FastifyRequest) => R, request: FastifyRequest, fallback: F, message: string): R | F {
  try {
    return fn(request)
  } catch (err) {
    request.log.error({ err }, `adaptive-concurrency: ${message}`)
    return fallback
  }
}
