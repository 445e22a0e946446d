'use strict'

const { fork } = require('node:child_process')
const path = require('node:path')
const { createArrivalSchedule } = require('./arrivals')
const { createRecorder } = require('./metrics')
const { runOpenLoop, trafficClasses } = require('./load-generator')

const SERVER = path.join(__dirname, '..', 'scenario-server.js')
const SAMPLE_MS = 100

function waitForMessage (child, type, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`server sent no '${type}' within ${timeoutMs} ms`)) }, timeoutMs)
    function onMessage (msg) {
      if (msg.type === type) { cleanup(); resolve(msg) }
      if (msg.type === 'failed') { cleanup(); reject(new Error(`server failed: ${msg.message}`)) }
    }
    function onExit (code) { cleanup(); reject(new Error(`server exited with code ${code} before '${type}'`)) }
    function cleanup () {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}

function waitForExit (child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve() }, timeoutMs)
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
}

/**
 * One scenario x protection x run: a fresh server process, the open-loop load, and the
 * server's own samples of limit / in-flight / RSS. Returns plain numbers (JSON-ready).
 * `server`: another server script speaking the same IPC protocol (the multi-process scenarios',
 * which start several processes and so may take longer than the default `readyTimeoutMs`).
 */
async function runTrial ({ scenario, protection, durationMs, warmupMs, sloMs, timeoutMs, connections, seed, server = SERVER, readyTimeoutMs = 15000 }) {
  const child = fork(server, [JSON.stringify({ scenario: scenario.server, protection, sampleMs: SAMPLE_MS })], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const samples = []
  // Clients of their own beside the open-loop load (scenario.sidecar: long-lived requests),
  // started with the load clock and stopped when the load has drained.
  let sidecar = null
  child.on('message', (msg) => { if (msg.type === 'sample') samples.push(msg) })
  try {
    const { port } = await waitForMessage(child, 'ready', readyTimeoutMs)
    // A mix that changes mid-run (scenario.phases): each phase offers the same multiple of
    // its own capacity as the scenario does of its first (so --load applies to every phase).
    const phases = (scenario.phases || []).map((p) => ({ ...p, rate: p.capacity * scenario.rate / scenario.capacity }))
    const schedule = createArrivalSchedule({ ...scenario.arrival, rate: scenario.rate, phases: phases.length ? phases : undefined, durationMs, seed })
    const recorder = createRecorder({ durationMs, warmupMs, sloMs, classes: trafficClasses(scenario.routes) })
    const cpuBefore = process.cpuUsage()
    const load = await runOpenLoop({
      origin: `http://127.0.0.1:${port}`,
      schedule,
      durationMs,
      routes: scenario.routes,
      phases,
      pattern: scenario.pattern,
      recorder,
      timeoutMs,
      connections,
      rotate: Boolean(scenario.rotateConnections),
      seed,
      // The load clock starts once the server has switched to Fastify and sent its own
      // pre-load requests (scenario.server.preload), so the protection sees those first.
      onStart: () => {
        const started = waitForMessage(child, 'started', 5000)
        child.send({ type: 'start' })
        if (scenario.sidecar) {
          return started.then(() => {
            sidecar = scenario.sidecar({ origin: `http://127.0.0.1:${port}`, durationMs, warmupMs, seed })
          })
        }
        return started
      }
    })
    // An overloaded unprotected server may take many seconds to get to this message; its
    // final snapshot is only a diagnostic, so do not wait long for it.
    const sidecarResult = sidecar ? sidecar.stop() : undefined
    const finalMsg = waitForMessage(child, 'final', 800).catch(() => ({ snapshot: null }))
    child.send({ type: 'stop' })
    const final = await finalMsg
    const cpu = process.cpuUsage(cpuBefore)
    const summary = recorder.summarize()
    const offeredTotal = summary.perSecond.reduce((n, s) => n + s.offered, 0)
    return {
      scenario: scenario.name,
      protection: protection.name,
      durationMs,
      warmupMs,
      total: summary.total,
      classes: summary.classes,
      perSecond: summary.perSecond,
      // Requests written to a socket before the run ended, per second: below the offered
      // rate when the generator was starved or all its connections were busy.
      achievedRate: load.writtenInRun * 1000 / durationMs,
      // The generator's own CPU per request (incl. warm-up): how much load this box can offer.
      generatorCpuUsPerRequest: (cpu.user + cpu.system) / offeredTotal,
      maxClientQueue: load.maxQueued,
      errorCodes: load.errorCodes,
      ...(sidecarResult ? { sidecar: sidecarResult } : {}),
      samples,
      memory: memoryGrowth(samples, warmupMs),
      final: { snapshot: final.snapshot }
    }
  } finally {
    // Idempotent: after a failed load too, no client is left open.
    sidecar?.stop()
    await waitForExit(child, 300)
  }
}

// RSS growth from the end of warm-up to the end of the run, in MB. The first post-warm-up
// sample is the baseline; the maximum of the last second is the end point (worst case).
function memoryGrowth (samples, warmupMs) {
  const after = samples.filter((s) => s.t >= warmupMs)
  if (after.length < 2) return null
  const lastT = after[after.length - 1].t
  const endRss = Math.max(...after.filter((s) => s.t >= lastT - 1000).map((s) => s.rss))
  const mb = (b) => b / (1024 * 1024)
  return { startMb: mb(after[0].rss), endMb: mb(endRss), growthMb: mb(endRss - after[0].rss) }
}

module.exports = { runTrial, memoryGrowth }
