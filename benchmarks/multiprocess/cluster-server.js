'use strict'

// The server under test of the multi-process scenarios: a node:cluster primary with N workers,
// each the same Fastify app with its own protection (the plugin, or a static limit), all
// calling one shared backend process (backend.js) over loopback HTTP.
// Speaks the scenario server's IPC protocol (see ../scenario-server.js), so lib/trial.js runs it:
// -> { type: 'ready', port }; <- 'start' -> 'started'; -> 'sample' every sampleMs; <- 'stop' -> 'final'.
// argv[2]: JSON { scenario: { slots, serviceMs, jitter, replaceEveryMs? }, protection: { ..., processes }, sampleMs }.
// A sample carries the sums over workers (limit, in flight) for the charts, each worker's own
// limit / in flight / admitted / refused (`workers`), the backend's mean queue and busy slots since the last sample, and its running count of requests served.

const cluster = require('node:cluster')
const { fork } = require('node:child_process')
const path = require('node:path')

if (cluster.isPrimary) primary()
else worker()

function primary () {
  const config = JSON.parse(process.argv[2])
  const { scenario, protection, sampleMs } = config
  const processes = protection.processes || 1
  const backend = fork(path.join(__dirname, 'backend.js'), [JSON.stringify(scenario)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  // Every worker incarnation, in start order: { id, worker, status, startedAt, stoppedAt }.
  const incarnations = []
  let backendStats = { queued: 0, busy: 0, served: 0 }
  let started = null
  let port = null
  let stopping = false
  let nextId = 0

  backend.on('message', (msg) => { if (msg.type === 'stats') backendStats = msg })

  function startWorker (backendPort) {
    const id = nextId++
    const worker = cluster.fork({ MP_WORKER: JSON.stringify({ id, backendPort, protection, sampleMs, warmingUp: started === null, redisUrl }) })
    const entry = { id, worker, status: null, startedAt: started === null ? 0 : performance.now() - started, stoppedAt: null }
    incarnations.push(entry)
    worker.on('message', (msg) => {
      if (msg.type === 'status') entry.status = msg
      if (msg.type === 'failed') fail(msg.message)
    })
    worker.on('exit', () => {
      if (entry.stoppedAt === null) entry.stoppedAt = started === null ? 0 : performance.now() - started
      if (!stopping && !entry.replaced) fail(`worker ${id} exited`)
    })
    return new Promise((resolve) => worker.once('listening', (address) => { port = address.port; resolve(entry) }))
  }

  function fail (message) {
    if (stopping) return
    process.send({ type: 'failed', message })
    shutdown(1)
  }

  function shutdown (code) {
    stopping = true
    for (const e of incarnations) if (!e.worker.isDead()) e.worker.process.kill('SIGKILL')
    backend.kill('SIGKILL')
    if (redis) redis.child.kill('SIGKILL')
    process.exit(code)
  }

  const alive = () => incarnations.filter((e) => e.stoppedAt === null && !e.replaced)

  // A rolling deploy: start the new process, and once it listens, stop the oldest one gracefully
  // (it stops accepting, closes idle keep-alive connections, finishes what it admitted).
  async function replaceOldest (backendPort) {
    const oldest = alive()[0]
    await startWorker(backendPort)
    if (stopping) return
    oldest.replaced = true
    oldest.stoppedAt = performance.now() - started
    oldest.worker.send({ type: 'shutdown' })
  }

  function sample () {
    backend.send({ type: 'stats' })
    const live = alive().filter((e) => e.status !== null)
    const sum = (f) => live.reduce((n, e) => n + f(e.status), 0)
    process.send({
      type: 'sample',
      t: performance.now() - started,
      limit: sum((s) => s.limit),
      protectionInflight: sum((s) => s.inflight),
      handlerInflight: sum((s) => s.handlerInflight),
      eventLoopDelayP99: Math.max(0, ...live.map((e) => e.status.eventLoopDelayP99)),
      backendQueued: backendStats.queued,
      backendBusy: backendStats.busy,
      backendServed: backendStats.served,
      workers: live.map((e) => ({
        id: e.id,
        limit: e.status.limit,
        estimate: e.status.estimate,
        minRtt: e.status.minRtt,
        probing: e.status.probing,
        peers: e.status.peers,
        inflight: e.status.inflight,
        queued: e.status.queued,
        standing: e.status.standing,
        standingEpisodes: e.status.standingEpisodes,
        admitted: e.status.admitted,
        rejected: e.status.rejected
      })),
      rss: process.memoryUsage.rss()
    })
  }

  // The `+redis` variants: one Redis for this run, gone with the cluster.
  const redis = protection.coordination ? startRedis() : null
  const redisUrl = redis ? redis.url : null

  backend.once('message', async (msg) => {
    const backendPort = msg.port
    if (redis) await redis.ready
    await Promise.all(Array.from({ length: processes }, () => startWorker(backendPort)))
    let sampler = null
    let roller = null
    process.on('message', (m) => {
      if (m.type === 'start') {
        started = performance.now()
        for (const e of incarnations) e.worker.send({ type: 'start' })
        sampler = setInterval(sample, sampleMs)
        if (scenario.replaceEveryMs) roller = setInterval(() => replaceOldest(backendPort), scenario.replaceEveryMs)
        process.send({ type: 'started' })
      } else if (m.type === 'stop') {
        clearInterval(sampler)
        clearInterval(roller)
        stopping = true
        const workers = incarnations.map((e) => ({
          id: e.id, startedAt: e.startedAt, stoppedAt: e.stoppedAt, final: e.status
        }))
        process.send({ type: 'final', snapshot: { processes, backend: backendStats, workers } }, () => shutdown(0))
      }
    })
    process.send({ type: 'ready', port })
  })
  backend.on('exit', () => fail('backend exited'))
  process.on('disconnect', () => shutdown(0))
}

function startRedis () {
  const { spawn } = require('node:child_process')
  // A port the OS just handed out (and took back): a random one may be taken.
  const port = require('node:child_process').execFileSync(process.execPath,
    ['-e', "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"]).toString().trim()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const ready = new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
      if (out.includes('Ready to accept connections')) resolve()
    })
    child.on('exit', () => reject(new Error(`redis-server on port ${port} exited: ${out.slice(-500)}`)))
  })
  return { child, ready, url: `redis://127.0.0.1:${port}` }
}

function worker () {
  const http = require('node:http')
  const Fastify = require('fastify')
  const { Pool } = require('undici')
  const { monitorEventLoopDelay } = require('node:perf_hooks')
  const { installStaticLimit } = require('../lib/static-limit')
  const { loadPlugin, optionsForBuild } = require('../lib/plugin-loader')

  const { id, backendPort, protection, sampleMs, warmingUp: initiallyWarming, redisUrl } = JSON.parse(process.env.MP_WORKER)
  // The primary went away (the trial ended, possibly while this worker was still starting).
  cluster.worker.on('error', () => process.exit(0))
  process.on('disconnect', () => process.exit(0))
  let warmingUp = initiallyWarming
  const app = Fastify({
    logger: false,
    serverFactory (handler) {
      const server = http.createServer((req, res) => {
        if (warmingUp) res.end('warm')
        else handler(req, res)
      })
      server.keepAliveTimeout = 10 * 60 * 1000
      return server
    }
  })
  // One keep-alive pool per process, larger than any limit: the backend, not this pool, queues.
  const backend = new Pool(`http://127.0.0.1:${backendPort}`, { connections: 512, pipelining: 1 })
  let staticState = null
  let handlerInflight = 0
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()

  async function main () {
    if (protection.kind === 'static') {
      staticState = installStaticLimit(app, protection.limit)
    } else if (protection.kind === 'plugin') {
      const { plugin, reason } = loadPlugin()
      if (!plugin) throw new Error(reason)
      const options = await optionsForBuild(plugin, protection.options)
      if (protection.coordination) {
        const Redis = require('ioredis')
        const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 })
        app.addHook('onClose', async () => { client.disconnect() })
        options.coordination = { ...protection.coordination, client }
      }
      await app.register(plugin, options)
    }
    app.get('/work', async () => {
      handlerInflight++
      try {
        const res = await backend.request({ path: '/work', method: 'GET' })
        await res.body.dump()
      } finally {
        handlerInflight--
      }
      return 'ok'
    })
    await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
    setInterval(report, sampleMs).unref()
  }

  function view () {
    if (staticState) return staticState
    const c = app.concurrency
    return c ? { limit: c.limit, inflight: c.inflight, admitted: c.admitted, rejected: c.rejected } : { limit: null, inflight: null, admitted: 0, rejected: 0 }
  }

  function report () {
    const v = view()
    const state = app.concurrency ? app.concurrency.state : null
    const snap = app.concurrency ? app.concurrency.snapshot() : null
    const queue = snap && snap.queue ? snap.queue : null
    process.send({
      type: 'status',
      id,
      limit: v.limit,
      inflight: v.inflight,
      admitted: v.admitted,
      rejected: v.rejected,
      handlerInflight,
      estimate: state && typeof state.estimate === 'number' ? state.estimate : v.limit,
      minRtt: state && typeof state.minRtt === 'number' ? state.minRtt : null,
      probing: state ? state.probing === 'on' : null,
      peers: state && typeof state.peers === 'number' ? state.peers : null,
      // The wait queue, to tell where a request's wait went (queue or backend).
      queued: queue ? queue.length : null,
      standing: queue ? queue.standing : null,
      standingEpisodes: queue ? queue.standingEpisodes : null,
      eventLoopDelayP99: delay.percentile(99) / 1e6
    })
    delay.reset()
  }

  process.on('message', (msg) => {
    if (msg.type === 'start') warmingUp = false
    if (msg.type === 'shutdown') {
      report()
      app.close().finally(() => process.exit(0))
    }
  })
  main().catch((err) => { process.send({ type: 'failed', message: err.message }); process.exit(1) })
}
