// The optional status route. It is registered with `adaptiveConcurrency: false`, so it is never
// limited and never counted (not even as bypassed): watching the limiter must not change it.
// `?history=true` adds the one-second history; a browser (Accept: text/html) gets the live page,
// which polls the same URL for JSON with history.
import type { FastifyInstance, RouteOptions } from 'fastify'
import { renderStatusPage } from './observability/status-page'
import type { ResolvedStatusRoute } from './options'
import type { ConcurrencyStatus } from './types'

const counter = { type: 'integer', minimum: 0 } as const
const msOrNull = { type: ['number', 'null'] } as const

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
    sessions: {
      type: 'object',
      properties: {
        active: counter,
        seats: counter,
        refused: counter,
        refusedByReason: { type: 'object', additionalProperties: counter },
        draining: { type: 'boolean' },
        evicted: counter
      }
    },
    underPressure: {
      type: 'object',
      properties: {
        eventLoopDelay: { type: 'number' },
        rssBytes: { type: 'number' },
        heapUsed: { type: 'number' },
        eventLoopUtilized: { type: 'number' },
        underPressure: { type: 'boolean' }
      }
    },
    queue: {
      type: 'object',
      properties: {
        length: counter,
        size: counter,
        timeout: { type: 'number' },
        order: { type: 'string' },
        waitP99: { type: 'number' },
        waitCount: counter,
        waitWindow: { type: 'number' },
        estimatedWait: { type: 'number' },
        enqueued: counter,
        granted: counter,
        timedOut: counter,
        deadlineExpired: counter,
        cancelled: counter,
        rejectedFull: counter,
        evicted: counter
      }
    },
    partitions: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { share: { type: 'number' }, limit: counter, inflight: counter, admitted: counter, rejected: counter }
      }
    },
    unknownPartitions: counter,
    serviceTime: { type: 'number' },
    sampleClasses: {
      type: 'object',
      properties: { classes: counter, learned: counter, unsampled: counter },
      required: ['classes', 'learned', 'unsampled']
    },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          t: { type: 'number' },
          limit: { type: 'number' },
          inflight: { type: 'number' },
          admitted: { type: 'number' },
          rejected: { type: 'number' },
          rttP50: msOrNull,
          rttP99: msOrNull
        }
      }
    }
  }
} as const

/** `?history=true`, `?history=1` or a bare `?history`. */
function wantsHistory (query: unknown): boolean {
  const v = (query as Record<string, unknown> | undefined)?.history
  return v === 'true' || v === '1' || v === ''
}

export function registerStatusRoute (fastify: FastifyInstance, route: ResolvedStatusRoute, status: ConcurrencyStatus): void {
  const routeOpts = route.routeOpts as Partial<RouteOptions>
  // Rendered once: the page is static, its data comes from polling.
  const page = route.page === undefined ? undefined : renderStatusPage({ title: route.page.title })
  fastify.route({
    ...routeOpts,
    method: 'GET',
    url: route.url,
    config: { ...(routeOpts.config as object | undefined), adaptiveConcurrency: false },
    schema: { ...route.routeSchemaOpts, response: { 200: snapshotSchema } },
    handler: function concurrencyStatus (request, reply) {
      // Both representations live at one URL, so caches must key on Accept.
      reply.header('vary', 'Accept')
      if (page !== undefined && (request.headers.accept ?? '').includes('text/html')) {
        reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page)
        return
      }
      reply.send(status.snapshot({ history: wantsHistory(request.query) }))
    }
  })
}
