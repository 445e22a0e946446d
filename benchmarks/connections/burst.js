'use strict'

const net = require('node:net')
const { performance } = require('node:perf_hooks')

/**
 * Opens `count` TCP connections at once, each sending one GET as soon as it is connected, and
 * resolves with each connection's time to the first response byte in ms, measured from the
 * moment the burst started (before connect: the handshake and the wait in the server's
 * accept queue count, as a real client experiences them). A connection that got no byte
 * within `timeoutMs` (or failed) is reported as null. `statuses` counts the status codes.
 */
function connectionBurst ({ port, path, count, timeoutMs }) {
  return new Promise((resolve) => {
    const ttfb = new Array(count).fill(null)
    const statuses = {}
    let settled = 0
    const t0 = performance.now()
    const sockets = []
    const timer = setTimeout(finish, timeoutMs)
    function settle () {
      if (++settled === count) finish()
    }
    function finish () {
      clearTimeout(timer)
      for (const s of sockets) s.destroy()
      resolve({ ttfb, statuses })
    }
    for (let i = 0; i < count; i++) {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)
      })
      sockets.push(socket)
      socket.once('data', (chunk) => {
        ttfb[i] = performance.now() - t0
        const status = chunk.toString('latin1', 9, 12)
        statuses[status] = (statuses[status] || 0) + 1
        socket.destroy()
        settle()
      })
      socket.once('error', settle)
    }
  })
}

module.exports = { connectionBurst }
