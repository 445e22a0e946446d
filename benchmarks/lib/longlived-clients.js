'use strict'

// The long-lived clients of a scenario (benchmarks/lib/longlived-scenarios.js), run in the
// load generator's process next to the open-loop ordinary traffic. `clients` clients each
// keep one long-lived exchange going: when one ends they open the next at once; after a
// refusal or an error they wait `retryMs` (as a client honouring Retry-After would).
//
// Outcome of an exchange, counted by its start time (only exchanges started in the measured
// window [warmupMs, durationMs) are totalled):
//   ok       admitted and ended as the kind ends (stream read to its end, poll answered 2xx,
//            upload answered 2xx, websocket opened and closed by the client)
//   open     admitted and still going when the run ended (aborted then, not a failure)
//   refused  503 (at the handshake for a websocket)
//   failed   any other status, a socket error, an early close
// The first exchanges' lifetimes are spread ((i + 1) / clients of the full one) so that, from
// the first second on, about `clients` are open and ends are spread evenly; `cold: true`
// starts every client within the first second at the full lifetime instead.

const http = require('node:http')
const { performance } = require('node:perf_hooks')

// The `ws` client is the one @fastify/websocket itself is built on (its dependency), so the
// handshake's HTTP status is visible ('unexpected-response'); no second websocket library.
const WebSocket = require(require.resolve('ws', { paths: [require.resolve('@fastify/websocket')] }))

const CHUNK = Buffer.alloc(1024, 'u')

function summarize (outcomes) {
  const c = { attempts: 0, ok: 0, open: 0, refused: 0, failed: 0 }
  for (const o of outcomes) { c.attempts++; c[o]++ }
  return { ...c, refusedFraction: c.attempts ? c.refused / c.attempts : null, failedFraction: c.attempts ? c.failed / c.attempts : null }
}

// One exchange of each kind. done(outcome) is called exactly once; returns abort().
const EXCHANGES = {
  sse: (origin, life, done) => streamGet(`${origin}/events?ms=${life.ms}`, null, done),
  poll: (origin, life, done) => streamGet(`${origin}/poll?ms=${life.ms}`, null, done),
  download: (origin, life, done) => streamGet(`${origin}/download?bytes=${Math.round(life.ms / 1000 * life.readBytesPerS)}`, life.readBytesPerS, done),
  upload: (origin, life, done) => slowUpload(`${origin}/upload`, life, done),
  ws: (origin, life, done) => websocket(origin.replace('http', 'ws') + '/ws', life, done)
}

// GET whose body is read to its end; readBytesPerS: read at that pace (pause after each chunk).
function streamGet (url, readBytesPerS, done) {
  let settled = false
  const finish = (o) => { if (!settled) { settled = true; done(o) } }
  const req = http.get(url, { agent: false }, (res) => {
    if (res.statusCode === 503) { finish('refused'); res.resume(); return }
    if (res.statusCode !== 200) { finish('failed'); res.resume(); return }
    if (readBytesPerS) {
      res.on('data', (chunk) => {
        res.pause()
        setTimeout(() => res.resume(), chunk.length / readBytesPerS * 1000)
      })
    } else {
      res.resume()
    }
    res.once('end', () => finish('ok'))
    res.once('error', () => finish('failed'))
    res.once('close', () => finish(res.complete ? 'ok' : 'failed'))
  })
  req.once('error', () => finish('failed'))
  return () => { finish('open'); req.destroy() }
}

// A text body of life.bytes sent in 1 KB pieces spread over life.ms, then the answer.
function slowUpload (url, life, done) {
  let settled = false
  let timer = null
  const finish = (o) => { if (!settled) { settled = true; clearTimeout(timer); done(o) } }
  const pieces = Math.max(1, Math.round(life.bytes / CHUNK.length))
  const req = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'text/plain', 'content-length': pieces * CHUNK.length } }, (res) => {
    // A refusal may come while the body is still being sent: stop sending.
    const outcome = res.statusCode === 503 ? 'refused' : res.statusCode === 200 ? 'ok' : 'failed'
    res.resume()
    res.once('end', () => { finish(outcome); req.destroy() })
    res.once('error', () => finish(outcome))
  })
  req.once('error', () => finish('failed'))
  let sent = 0
  const step = life.ms / pieces
  function sendPiece () {
    if (settled) return
    sent++
    if (sent < pieces) { req.write(CHUNK); timer = setTimeout(sendPiece, step) } else req.end(CHUNK)
  }
  timer = setTimeout(sendPiece, 0)
  return () => { finish('open'); req.destroy() }
}

// A websocket open for life.ms, sending a message a second (echoed by the server).
function websocket (url, life, done) {
  let settled = false
  let opened = false
  let ticker = null
  let closer = null
  const finish = (o) => {
    if (settled) return
    settled = true
    clearInterval(ticker)
    clearTimeout(closer)
    done(o)
  }
  const ws = new WebSocket(url, { perMessageDeflate: false })
  ws.once('unexpected-response', (req, res) => {
    finish(res.statusCode === 503 ? 'refused' : 'failed')
    res.resume()
    req.destroy()
  })
  ws.once('open', () => {
    opened = true
    ticker = setInterval(() => ws.send('ping'), 1000)
    closer = setTimeout(() => ws.close(1000), life.ms)
  })
  ws.once('close', (code) => finish(opened && code === 1000 ? 'ok' : 'failed'))
  ws.on('error', () => finish('failed'))
  return () => { finish('open'); ws.terminate() }
}

/**
 * Starts the clients now (t = 0 of the run's clock). spec: { kind, clients, holdMs, retryMs,
 * cold?, readBytesPerS?, bytes? }. Returns { stop() -> summary } (stop aborts what is open).
 */
function startLongLivedClients ({ origin, spec, durationMs, warmupMs }) {
  const started = performance.now()
  const now = () => performance.now() - started
  const outcomes = []
  const aborts = new Set()
  const timers = new Set()
  let stopped = false
  const exchange = EXCHANGES[spec.kind]
  if (!exchange) throw new Error(`unknown long-lived kind "${spec.kind}"`)

  function later (fn, ms) {
    const t = setTimeout(() => { timers.delete(t); fn() }, ms)
    timers.add(t)
  }

  function open (ms) {
    if (stopped || now() >= durationMs) return
    const at = now()
    let abort = null
    abort = exchange(origin, { ...spec, ms }, (outcome) => {
      aborts.delete(abort)
      if (at >= warmupMs && at < durationMs) outcomes.push(outcome)
      if (outcome === 'open') return
      if (outcome === 'ok') open(spec.holdMs)
      else later(() => open(spec.holdMs), spec.retryMs)
    })
    aborts.add(abort)
  }

  const spreadMs = Math.min(1000, spec.holdMs)
  for (let i = 0; i < spec.clients; i++) {
    const first = spec.cold ? spec.holdMs : Math.max(50, Math.round(spec.holdMs * (i + 1) / spec.clients))
    later(() => open(first), Math.round(i * spreadMs / spec.clients))
  }

  return {
    stop () {
      stopped = true
      for (const t of timers) clearTimeout(t)
      for (const abort of [...aborts]) abort()
      return summarize(outcomes)
    }
  }
}

module.exports = { startLongLivedClients, summarize }
