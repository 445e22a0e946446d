'use strict'

// The long-lived routes of the scenario server (benchmarks/lib/longlived-scenarios.js): one
// kind per scenario, next to the ordinary downstream route. Each route's lifetime is chosen
// by the client (`?ms=` / `?bytes=`), so the client driver can spread the first lifetimes and
// keep ~40 open at every moment. None of them touches the downstream: their length is the
// client's or an event's, not the server's work.
//
//   sse       GET /events?ms=   reply.hijack(), headers at once, one event a second, ends after ms
//   poll      GET /poll?ms=     the handler awaits an event (a timer here) and answers after ms
//   download  GET /download?bytes=  reply.send(stream) of `bytes`; the client reads slowly
//   upload    POST /upload      a text body the client sends slowly; answered once parsed
//   ws        GET /ws           @fastify/websocket, echoes every message; the client closes

const { Readable } = require('node:stream')
const { setTimeout: sleep } = require('node:timers/promises')

const PATHS = { sse: '/events', poll: '/poll', download: '/download', upload: '/upload', ws: '/ws' }
const CHUNK = Buffer.alloc(64 * 1024, 'x')

// Bytes of `total`, in CHUNK-sized pieces, produced on demand (so backpressure holds the
// server's side of the stream until the slow reader takes it).
function byteStream (total) {
  let left = total
  return new Readable({
    read () {
      if (left <= 0) { this.push(null); return }
      const n = Math.min(left, CHUNK.length)
      left -= n
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    }
  })
}

const positive = (value, fallback) => {
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? n : fallback
}

/**
 * Plugins a kind needs, registered before any protection: @fastify/websocket marks an upgrade
 * in its own onRequest hook and destroys the socket in onResponse only if marked, so with a
 * protection's onRequest first, a refused handshake would leave the server's socket half-open.
 */
async function prepareLongLived (app, longLived) {
  if (longLived.kind === 'ws') await app.register(require('@fastify/websocket'))
}

/**
 * Registers the long-lived route of `longLived.kind` on `app`. routeOptions: extra route
 * options (the plugin's per-route declaration, when the protection asks for it). status:
 * { longLivedOpen } is kept up to date (requests of that route between the handler's start
 * and the connection's or response's close).
 */
async function installLongLivedRoute (app, longLived, routeOptions, status) {
  const { kind } = longLived
  const url = PATHS[kind]
  if (!url) throw new Error(`unknown long-lived kind "${kind}"`)
  status.longLivedOpen = 0
  const opened = (raw) => {
    status.longLivedOpen++
    raw.once('close', () => { status.longLivedOpen-- })
  }
  if (kind === 'ws') {
    app.get(url, { ...routeOptions, websocket: true }, (socket) => {
      status.longLivedOpen++
      socket.on('message', (data) => socket.send(data))
      socket.once('close', () => { status.longLivedOpen-- })
    })
    return url
  }
  if (kind === 'sse') {
    app.get(url, routeOptions, (request, reply) => {
      const ms = positive(request.query.ms, 8000)
      reply.hijack()
      const res = reply.raw
      opened(res)
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
      let n = 0
      const started = Date.now()
      const timer = setInterval(() => {
        res.write(`id: ${++n}\ndata: tick ${n}\n\n`)
        if (Date.now() - started >= ms - 500) { clearInterval(timer); res.end() }
      }, Math.min(1000, ms))
      res.once('close', () => clearInterval(timer))
    })
    return url
  }
  if (kind === 'poll') {
    app.get(url, routeOptions, async (request, reply) => {
      opened(reply.raw)
      await sleep(positive(request.query.ms, 8000))
      return 'event'
    })
    return url
  }
  if (kind === 'download') {
    app.get(url, routeOptions, (request, reply) => {
      opened(reply.raw)
      reply.type('application/octet-stream').send(byteStream(positive(request.query.bytes, 1 << 20)))
    })
    return url
  }
  // upload: Fastify parses text/plain bodies itself; the handler runs once the body is in.
  // Counted open from the route's own onRequest (after any protection's), body included.
  app.post(url, {
    ...routeOptions,
    bodyLimit: 1 << 20,
    onRequest: (request, reply, done) => { opened(reply.raw); done() }
  }, async (request) => String(request.body.length))
  return url
}

module.exports = { prepareLongLived, installLongLivedRoute, LONG_LIVED_PATHS: PATHS }
