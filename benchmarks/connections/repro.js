'use strict'

// Pure-Node reproduction: how fast does a busy event loop accept new connections?
//
//   node benchmarks/connections/repro.js [--burn 30] [--every 1] [--connections 200]
//
// The server is a bare http.createServer. A setImmediate chain keeps the loop busy: every
// `--every`-th loop iteration burns `--burn` ms synchronously in the check phase, the others
// do nothing (an "empty" iteration, which costs microseconds). A child process then opens
// `--connections` TCP connections at once, each sending one GET, and reports the time to the
// first byte of each. The server reports how many 'connection' events each loop iteration saw.
//
// With libuv >= 1.45 (Node >= 20) the answer is one accept() per iteration, whatever the
// iteration's length: `--every 1` (every iteration busy) takes burn x connections; `--every 2`
// (one empty iteration after each busy one) takes half as long for the same CPU burnt per
// busy iteration. See docs/new-connections.md.

const http = require('node:http')
const net = require('node:net')
const { fork } = require('node:child_process')
const { parseArgs } = require('node:util')
const { performance } = require('node:perf_hooks')

const { values } = parseArgs({
  options: {
    burn: { type: 'string', default: '30' },
    every: { type: 'string', default: '1' },
    connections: { type: 'string', default: '200' },
    client: { type: 'string' }
  }
})

if (values.client) client(Number(values.client), Number(values.connections))
else server(Number(values.burn), Number(values.every), Number(values.connections))

function server (burnMs, every, total) {
  const srv = http.createServer((req, res) => res.end('ok'))
  let iteration = 0
  let connections = 0
  let running = true
  // Iteration at which each connection was accepted.
  const acceptedAt = []
  srv.on('connection', () => {
    connections++
    acceptedAt.push(iteration)
  })
  function turn () {
    iteration++
    if (iteration % every === 0) {
      const until = performance.now() + burnMs
      while (performance.now() < until) { /* busy loop turn */ }
    }
    if (running) setImmediate(turn)
  }
  srv.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => {
    const child = fork(__filename, ['--client', String(srv.address().port), '--connections', String(total)])
    let startIteration = 0
    child.on('message', (msg) => {
      if (msg.type === 'connecting') {
        startIteration = iteration
        setImmediate(turn)
        return
      }
      running = false
      srv.close()
      srv.closeAllConnections()
      const perIteration = new Map()
      for (const i of acceptedAt) perIteration.set(i, (perIteration.get(i) || 0) + 1)
      const counts = [...perIteration.values()]
      const iterations = iteration - startIteration
      console.log(JSON.stringify({
        node: process.version,
        libuv: process.versions.uv,
        burnMs,
        busyEvery: every,
        connections: total,
        accepted: connections,
        loopIterations: iterations,
        busyIterations: Math.floor(iteration / every) - Math.floor(startIteration / every),
        maxAcceptsInOneIteration: Math.max(...counts),
        iterationsWithAnAccept: counts.length,
        ttfbMs: msg.ttfb
      }, null, 2))
    })
  })
}

function client (port, total) {
  const ttfb = []
  let done = 0
  process.send({ type: 'connecting' })
  // Give the server's loop a moment to start its busy chain before the burst.
  setTimeout(() => {
    const t0 = performance.now()
    for (let i = 0; i < total; i++) {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
      socket.once('data', () => {
        ttfb.push(performance.now() - t0)
        socket.destroy()
        if (++done === total) report()
      })
      socket.on('error', () => { if (++done === total) report() })
    }
  }, 200)
  function report () {
    ttfb.sort((a, b) => a - b)
    const q = (p) => Math.round(ttfb[Math.min(ttfb.length - 1, Math.floor(p * ttfb.length))])
    process.send({ type: 'done', ttfb: { p50: q(0.5), p99: q(0.99), max: Math.round(ttfb[ttfb.length - 1]), answered: ttfb.length } }, () => process.exit(0))
  }
}
