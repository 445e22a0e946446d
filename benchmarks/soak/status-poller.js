'use strict'

// Worker thread of the soak: polls the status route on its own connection and event loop, so
// the load generator's busy loop in the main thread does not inflate the latencies it measures.
// workerData: { url, everyMs }. Messages: { type: 'poll', t, ms, status, inflight } per poll;
// it stops when told { type: 'stop' } and answers { type: 'stopped' }.
const { parentPort, workerData } = require('node:worker_threads')
const { performance } = require('node:perf_hooks')
const { Client } = require('undici')

const { url, everyMs } = workerData
const origin = new URL(url).origin
const client = new Client(origin, { keepAliveTimeout: 60_000 })
const state = { running: true }

parentPort.on('message', (msg) => { if (msg.type === 'stop') state.running = false })

async function poll () {
  // One unrecorded request first: undici compiles its HTTP parser (WebAssembly) and opens the
  // connection on first use, which took ~330 ms of this thread's time, not the server's.
  try {
    const res = await client.request({ path: new URL(url).pathname, method: 'GET' })
    await res.body.dump()
  } catch { /* the recorded polls will show it */ }
  const start = performance.now()
  while (state.running) {
    const t0 = performance.now()
    let status = 0
    let inflight = null
    try {
      const res = await client.request({ path: new URL(url).pathname, method: 'GET', headersTimeout: 10_000, bodyTimeout: 10_000 })
      status = res.statusCode
      inflight = (await res.body.json()).inflight
    } catch {
      status = -1
    }
    const t1 = performance.now()
    parentPort.postMessage({ type: 'poll', t: t0 - start, ms: t1 - t0, status, inflight })
    const wait = everyMs - (t1 - t0)
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
  await client.close()
  parentPort.postMessage({ type: 'stopped' })
}

poll()
