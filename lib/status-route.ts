// The optional status route. It is registered with `adaptiveConcurrency: false`, so it is never
// limited and never counted (not even as bypassed): watching the limiter must not change it.
import type { FastifyInstance, RouteOptions } from 'fastify'
import type { ResolvedStatusRoute } from './options'
import type { ConcurrencyStatus } from './types'

const counter = { type: 'integer', minimum: 0 }

export const snapshotSchema = {
  type: 'object',
  required: [
    'algorithm', 'limit', 'inflight', 'admitted', 'rejected', 'succeeded', 'dropped',
    'ignored', 'bypassed', 'overloaded', 'state'
  ],
  properties: {
    algorithm: { type: 'string' },
    limit: { type: 'number' },
    inflight: counter,
    admitted: counter,
    rejected: counter,
    succeeded: counter,
    dropped: counter,
    ignored: counter,
    bypassed: counter,
    overloaded: { type: 'boolean' },
    state: { type: 'object', additionalProperties: { type: ['number', 'string'] } },
    underPressure: {
      type: 'object',
      properties: {
        eventLoopDelay: { type: 'number' },
        rssBytes: { type: 'number' },
        heapUsed: { type: 'number' },
        eventLoopUtilized: { type: 'number' },
        underPressure: { type: 'boolean' }
      }
    }
  }
} as const

export function registerStatusRoute (fastify: FastifyInstance, route: ResolvedStatusRoute, status: ConcurrencyStatus): void {
  const routeOpts = route.routeOpts as Partial<RouteOptions>
  fastify.route({
    ...routeOpts,
    method: 'GET',
    url: route.url,
    config: { ...(routeOpts.config as object | undefined), adaptiveConcurrency: false },
    schema: { ...route.routeSchemaOpts, response: { 200: snapshotSchema } },
    handler: function concurrencyStatus (_request, reply) {
      reply.send(status.snapshot())
    }
  })
}
