// The optional status route. It is registered with `adaptiveConcurrency: false`, so it is never
// limited and never counted (not even as bypassed): watching the limiter must not change it.
// `?history=true` adds the one-second history; a browser (Accept: text/html) gets the live page,
// which polls the same URL for JSON with history.
import type { FastifyInstance, RouteOptions } from 'fastify'
import { renderStatusPage } from './observability/status-page'
import { invalidOption } from './errors'
import { describe, knownKeys, objectOption } from './validate'
import type { ConcurrencyStatus, StatusRouteOptions } from './types'

export const DEFAULT_STATUS_URL = '/status'

export interface ResolvedStatusRoute {
  url: string
  routeOpts: Record<string, unknown>
  routeSchemaOpts: Record<string, unknown>
  /** The HTML page for `Accept: text/html`, or undefined when `page: false`. */
  page: { title: string } | undefined
}

const counter = { type: 'integer', minimum: 0 } as const
const msOrNull = { type: ['number', 'null'] } as const

export const snapshotSchema = {
  type: 'object',
  required: [
    'algorithm', 'limit', 'inflight', 'admitted', 'rejected', 'succeeded', 'dropped',
    'ignored', 'bypassed', 'overloaded', 'shedding', 'state', 'longLived'
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
    shedding: { type: 'boolean' },
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
        standingTimeout: { type: ['number', 'boolean'] },
        interval: { type: 'number' },
        standing: { type: 'boolean' },
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
        evicted: counter,
        standingEpisodes: counter
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
    longLived: {
      type: 'object',
      required: ['open', 'websockets', 'waiting', 'sending', 'admitted', 'routes'],
      properties: {
        open: counter,
        websockets: counter,
        waiting: counter,
        sending: counter,
        admitted: counter,
        routes: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            required: ['open', 'longLived'],
            properties: { open: counter, longLived: { type: 'string', enum: ['declared', 'learned', 'no'] } }
          }
        }
      }
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

export function resolveStatusRoute (value: unknown): ResolvedStatusRoute | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return { url: DEFAULT_STATUS_URL, routeOpts: {}, routeSchemaOpts: {}, page: DEFAULT_PAGE }
  if (typeof value === 'string') return { url: urlOption('statusRoute', value), routeOpts: {}, routeSchemaOpts: {}, page: DEFAULT_PAGE }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption('statusRoute', `expected a boolean, a URL string or { url, routeOpts, routeSchemaOpts }, got ${describe(value)}`)
  }
  const obj = value as Record<string, unknown>
  knownKeys('statusRoute', obj, ['url', 'routeOpts', 'routeSchemaOpts', 'page'] satisfies Array<keyof StatusRouteOptions>)
  const url = obj.url === undefined ? DEFAULT_STATUS_URL : urlOption('statusRoute.url', obj.url)
  const routeOpts = objectOption('statusRoute.routeOpts', obj.routeOpts) ?? {}
  const routeSchemaOpts = objectOption('statusRoute.routeSchemaOpts', obj.routeSchemaOpts) ?? {}
  for (const key of ['url', 'method', 'handler', 'schema']) {
    if (key in routeOpts) invalidOption(`statusRoute.routeOpts.${key}`, 'is set by the plugin; use url / routeSchemaOpts instead')
  }
  if ('response' in routeSchemaOpts) invalidOption('statusRoute.routeSchemaOpts.response', 'the response schema is set by the plugin')
  return { url, routeOpts, routeSchemaOpts, page: resolvePage(obj.page) }
}

const DEFAULT_PAGE = { title: 'fastify-adaptive-concurrency' }

function resolvePage (value: unknown): ResolvedStatusRoute['page'] {
  if (value === undefined || value === true) return DEFAULT_PAGE
  if (value === false) return undefined
  const obj = objectOption('statusRoute.page', value) as Record<string, unknown>
  knownKeys('statusRoute.page', obj, ['title'])
  const title = obj.title ?? DEFAULT_PAGE.title
  if (typeof title !== 'string') invalidOption('statusRoute.page.title', `expected a string, got ${describe(title)}`)
  return { title }
}

function urlOption (name: string, value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/')) {
    invalidOption(name, `expected a URL path starting with '/', got ${describe(value)}`)
  }
  return value
}
