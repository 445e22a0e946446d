'use strict'

const { Client } = require('undici')

// A fixed set of undici Clients (one socket each, pipelining 1) with an O(1) idle stack and
// a FIFO of requests waiting for a socket. undici's own Pool scans its clients linearly for
// a free one, which at 1,000 connections cost the generator more CPU than the requests
// themselves; this pool keeps the generator able to offer more load on a 2-core box.

const QUEUED = 0
const IN_FLIGHT = 1
const DONE = 2

// One request/response exchange; it is also the undici dispatch handler (legacy handler
// interface, which undici 7 runs without a wrapper). Recording the outcome (`recorded`) and
// handing the socket back (`state` DONE) are separate: a timed-out request is recorded at
// its deadline, but its socket is busy until undici has finished aborting it.
class Exchange {
  // spec: { path, headers, classIndex } from the route picker (shared, never mutated).
  constructor (pool, spec, scheduled, onDone) {
    this.pool = pool
    this.spec = spec
    this.scheduled = scheduled
    this.onDone = onDone
    this.state = QUEUED
    this.client = null
    this.abortFn = null
    this.statusCode = 0
    this.timedOut = false
    this.recorded = false
  }

  // undici calls this as it writes the request to the socket.
  onConnect (abort) {
    this.abortFn = abort
    // Timed out before undici even wrote it (it was waiting for the socket to connect).
    if (this.timedOut) abort(new Error('client timeout'))
    else this.pool.onWritten(this)
  }

  onHeaders (statusCode) { this.statusCode = statusCode; return true }
  onData () { return true }
  onComplete () { this.pool.finish(this, null) }
  onError (err) { this.pool.finish(this, err) }

  record (err) {
    if (this.recorded) return
    this.recorded = true
    this.onDone(this, err)
  }

  // Client-side timeout: a queued exchange is never sent; an in-flight one is aborted
  // (undici then closes its socket and reconnects for the next request, as a real client).
  timeout () {
    if (this.recorded) return
    this.timedOut = true
    this.record(new Error('client timeout'))
    if (this.state === QUEUED) this.state = DONE
    else if (this.abortFn) this.abortFn(new Error('client timeout'))
  }
}

// onWritten(exchange) runs when a request is actually written to a socket.
// rotate: hand out idle sockets in turn (FIFO) instead of the most recently freed one (LIFO).
// Behind node:cluster each socket belongs to one process; LIFO keeps sending on the few sockets
// that answer fastest, so a process that refuses more is offered more. In turn, every socket, and
// so every process, is offered the same traffic, as behind a round-robin load balancer.
function createConnectionPool (origin, { connections, connectTimeoutMs, rotate = false, onWritten = () => {} }) {
  const idleMs = 10 * 60 * 1000
  const clients = Array.from({ length: connections }, () => new Client(origin, {
    pipelining: 1,
    headersTimeout: 0,
    bodyTimeout: 0,
    connectTimeout: connectTimeoutMs,
    keepAliveTimeout: idleMs,
    keepAliveMaxTimeout: idleMs
  }))
  let idle = clients.slice()
  let idleHead = 0
  const takeIdle = rotate
    ? () => {
        if (idleHead === idle.length) return undefined
        const client = idle[idleHead++]
        if (idleHead > 1024 && idleHead * 2 > idle.length) { idle = idle.slice(idleHead); idleHead = 0 }
        return client
      }
    : () => idle.pop()
  let waiting = []
  let waitingHead = 0

  function start (exchange, client) {
    exchange.state = IN_FLIGHT
    exchange.client = client
    client.dispatch({ path: exchange.spec.path, method: 'GET', headers: exchange.spec.headers }, exchange)
  }

  function nextWaiting () {
    while (waitingHead < waiting.length) {
      const exchange = waiting[waitingHead]
      waiting[waitingHead++] = undefined
      if (exchange.state === QUEUED) return exchange
    }
    if (waitingHead > 0) { waiting = []; waitingHead = 0 }
    return null
  }

  function handOff (client) {
    const next = nextWaiting()
    if (next) start(next, client)
    else idle.push(client)
  }

  const pool = {
    onWritten,
    // Returns the exchange so the caller can time it out; onDone(exchange, err) runs once.
    request (spec, scheduled, onDone) {
      const exchange = new Exchange(pool, spec, scheduled, onDone)
      const client = takeIdle()
      if (client) start(exchange, client)
      else waiting.push(exchange)
      return exchange
    },
    // undici is done with the exchange: hand its socket to the next waiting request. Not
    // synchronously: undici calls onError while it is still failing or aborting the client's
    // queue, and a request dispatched from inside that callback trips its invariants (an
    // assertion on connect errors) or waits on a socket being torn down.
    finish (exchange, err) {
      if (exchange.state === DONE) return
      const client = exchange.client
      exchange.state = DONE
      exchange.client = null
      process.nextTick(handOff, client)
      exchange.record(err)
    },
    // One request per client at once, so every socket is opened before measuring.
    // With rotate, one socket at a time: node:cluster hands a new connection to the worker free
    // the longest, so sockets opened in sequence are spread evenly over the workers, and opened
    // all at once go to whichever workers take their handles fastest.
    async warmUp (path) {
      const open = (client) => client.request({ path, method: 'GET' }).then((res) => res.body.dump())
      const results = []
      if (rotate) {
        for (const client of clients) results.push(...await Promise.allSettled([open(client)]))
      } else {
        results.push(...await Promise.allSettled(clients.map(open)))
      }
      const failed = results.filter((r) => r.status === 'rejected')
      if (failed.length > 0) {
        throw new Error(`${failed.length} of ${clients.length} warm-up connections failed: ${failed[0].reason.message}`)
      }
    },
    get queued () { return waiting.length - waitingHead },
    destroy () {
      return Promise.all(clients.map((c) => c.destroy().catch(() => {})))
    }
  }
  return pool
}

module.exports = { createConnectionPool }
