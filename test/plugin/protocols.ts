// One client for both protocols the plugin serves, over real sockets: HTTP/1.1 (node:http,
// keep-alive connections) and HTTP/2 cleartext (node:http2, many streams on one session). Each
// request can be reset by the client at any point: HTTP/1.1 destroys its socket, HTTP/2 cancels
// its stream (RST_STREAM with NGHTTP2_CANCEL) and leaves the session and its other streams up.
import http from 'node:http'
import http2 from 'node:http2'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'

export type Protocol = 'http1' | 'http2'
export const PROTOCOLS: readonly Protocol[] = ['http1', 'http2']

export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

export interface Exchange {
  /** The reply, or undefined when the exchange was reset or failed before a full reply. */
  readonly reply: Promise<Reply | undefined>
  /** Reset the exchange from the client side. */
  reset: () => void
}

export interface Client {
  request: (path: string, headers?: Record<string, string>) => Exchange
  close: () => void
}

/** A Fastify app for the protocol: `{ http2: true }` serves HTTP/2 without TLS (h2c, prior knowledge). */
export interface AppOptions { bodyLimit?: number, forceCloseConnections?: boolean, return503OnClosing?: boolean }

export function appFor (protocol: Protocol, options: AppOptions = {}): FastifyInstance {
  // Fastify's overloads pick the server type from a literal `http2: true`; the tests only use
  // what both server types share.
  if (protocol === 'http1') return Fastify(options)
  return Fastify({ ...options, http2: true }) as unknown as FastifyInstance
}

export function connectClient (protocol: Protocol, port: number): Client {
  return protocol === 'http2' ? http2Client(port) : http1Client(port)
}

/** True once the server side of this exchange is gone: the same facts for both raw response types. */
export function serverSideGone (raw: unknown): boolean {
  const r = raw as { destroyed?: boolean, stream?: { destroyed: boolean, closed: boolean } }
  return r.destroyed === true || (r.stream !== undefined && (r.stream.destroyed || r.stream.closed))
}

function http1Client (port: number): Client {
  // Keep-alive, as browsers and proxies do; a reset destroys its connection, which the agent drops.
  const agent = new http.Agent({ keepAlive: true })
  return {
    request (path, headers = {}) {
      const req = http.request({ port, host: '127.0.0.1', path, headers, agent })
      const reply = new Promise<Reply | undefined>((resolve) => {
        req.on('response', (res) => {
          let body = ''
          res.setEncoding('utf8')
          res.on('data', (chunk: string) => { body += chunk })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
          res.on('error', () => resolve(undefined))
          res.on('aborted', () => resolve(undefined))
        })
        req.on('error', () => resolve(undefined))
        req.on('close', () => resolve(undefined))
      })
      req.end()
      return { reply, reset: () => { req.destroy() } }
    },
    close () { agent.destroy() }
  }
}

function http2Client (port: number): Client {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  return {
    request (path, headers = {}) {
      const stream = session.request({ ':path': path, ...headers })
      const reply = new Promise<Reply | undefined>((resolve) => {
        let status = 0
        let responseHeaders: Reply['headers'] = {}
        let body = ''
        stream.setEncoding('utf8')
        stream.on('response', (h) => {
          status = Number(h[':status'])
          responseHeaders = h
        })
        stream.on('data', (chunk: string) => { body += chunk })
        stream.on('end', () => resolve(status === 0 ? undefined : { status, headers: responseHeaders, body }))
        stream.on('error', () => resolve(undefined))
        stream.on('close', () => resolve(undefined))
      })
      return {
        reply,
        reset: () => { if (!stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL) }
      }
    },
    close () { session.close() }
  }
}
