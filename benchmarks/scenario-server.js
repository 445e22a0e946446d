'use strict'

// The server under test, run in its own process (forked by run.js with an IPC channel) so
// the load generator never competes with it for the same event loop.
// argv[2] is a JSON config: { scenario, protection, sampleMs }.
// Messages: child -> parent { type: 'ready', port }, { type: 'started' } once 'start' is
// handled (pre-load requests included), { type: 'sample', ... } every sampleMs after 'start',
// { type: 'final', ... } after 'stop'.

const http = require('node:http')
const Fastify = require('fastify')
const { setTimeout: sleep } = require('node:timers/promises')
const { monitorEventLoopDelay, performance } = require('node:perf_hooks')
const { createDownstreamPool } = require('./lib/downstream-pool')
const { installStaticLimit } = require('./lib/static-limit')
const { loadPlugin, optionsForBuild } = require('./lib/plugin-loader')
const { seededRandom } = require('./lib/arrivals')
const { prepareLongLived, installLongLivedRoute, LONG_LIVED_PATHS } = require('./lib/longlived-server')

const config = JSON.parse(process.argv[2])
const { scenario, protection, sampleMs } = config

// Until 'start', requests are answered by the bare http server, before Fastify and any
// protection see them: the load generator uses them only to open its connections.
let warmingUp = true
function serverFactory (handler) {
  const server = http.createServer((req, res) => {
    if (warmingUp) res.end('warm')
    else handler(req, res)
  })
  // Keep the warmed connections open for the whole run.
  server.keepAliveTimeout = 10 * 60 * 1000
  return server
}

const app = Fastify({ logger: false, serverFactory })
const status = { handlerInflight: 0 }
const random = seededRandom(42)
let downstream = null
let protectionState = null
// performance.now() at 'start': the clock of the capacity and cold-start schedules.
let startedAt = null
// A capacity schedule's `serviceMs` (a hung downstream): every route's service time from then on.
let serviceOverrideMs = null

async function installProtection () {
  if (protection.kind === 'under-pressure') {
    await app.register(require('@fastify/under-pressure'), protection.options)
  } else if (protection.kind === 'static') {
    // The reference leaves a scenario's long-lived route out, as a careful operator would.
    const longLivedPath = scenario.longLived && LONG_LIVED_PATHS[scenario.longLived.kind]
    protectionState = installStaticLimit(app, protection.limit, longLivedPath ? { skip: (request) => request.routeOptions.url === longLivedPath } : {})
  } else if (protection.kind === 'plugin') {
    const { plugin, reason } = loadPlugin()
    if (!plugin) throw new Error(reason)
    await app.register(plugin, await optionsForBuild(plugin, withFunctions(protection)))
  }
}

// Options cross the process boundary as JSON, so functions are described by data and made
// here. sessionKeyHeader: the session key is read from that request header, which is fine
// for a benchmark client but NOT for a real app (clients could invent keys; use a verified
// identity, see the README's sessions section).
function withFunctions ({ options, sessionKeyHeader }) {
  if (!sessionKeyHeader) return options
  return { ...options, sessions: { ...options.sessions, key: (request) => request.headers[sessionKeyHeader] } }
}

// A route's partition applies only when the protection declares partitions (an undeclared
// name in route config is refused at registration).
function routeOptions (route) {
  const declared = protection.kind === 'plugin' && protection.options.partitions?.shares
  if (!route.partition || !declared || !(route.partition in declared)) return {}
  return { config: { adaptiveConcurrency: { partition: route.partition } } }
}

// Service time with uniform +-jitter around the mean, as a real dependency varies.
function jittered (ms, jitter) {
  return ms * (1 - jitter + 2 * jitter * random())
}

// Cold start (JIT, empty caches): service times `factor` x at 'start', decaying
// exponentially to 1x with time constant tauMs (1 + (factor - 1) e^(-t / tau)).
function serviceFactor () {
  const cold = scenario.coldStart
  if (!cold || startedAt === null) return 1
  return 1 + (cold.factor - 1) * Math.exp(-(performance.now() - startedAt) / cold.tauMs)
}

async function callDownstream (serviceMs) {
  await downstream.acquire()
  try {
    await sleep(jittered((serviceOverrideMs ?? serviceMs) * serviceFactor(), scenario.jitter))
  } finally {
    downstream.release()
  }
}

function burnCpu (ms) {
  const until = performance.now() + ms
  while (performance.now() < until) { /* spin: the handler is CPU-bound on purpose */ }
}

// The long-lived route's per-route declaration, for a protection that asks for it.
function longLivedOptions () {
  return protection.declareLongLived ? { config: { adaptiveConcurrency: { longLived: true } } } : {}
}

function installRoutes () {
  if (scenario.kind === 'cpu') {
    app.get('/work', () => {
      status.handlerInflight++
      burnCpu(scenario.burnMs)
      status.handlerInflight--
      return 'ok'
    })
    return
  }
  downstream = createDownstreamPool(scenario.slots)
  // downstream: one route; mixed: several routes with different service times sharing
  // the same pool (one database behind fast and slow endpoints).
  for (const route of scenario.routes) {
    if (route.kind === 'health') {
      // A liveness check: answered at once, never touches the downstream.
      app.get(route.path, routeOptions(route), async () => 'ok')
      continue
    }
    if (route.kind === 'client-error') {
      app.get(route.path, routeOptions(route), async (request, reply) => reply.code(400).send('bad request'))
      continue
    }
    app.get(route.path, withRequiredQuery(route), async () => {
      status.handlerInflight++
      try {
        await callDownstream(route.serviceMs)
      } finally {
        status.handlerInflight--
      }
      return 'ok'
    })
  }
}

// requiredQuery: Fastify's schema validation answers 400 at once, before the handler, to a
// request without that querystring parameter (a client error on the same route as the
// requests that do reach the downstream).
function withRequiredQuery (route) {
  const options = routeOptions(route)
  if (!route.requiredQuery) return options
  const schema = { querystring: { type: 'object', required: [route.requiredQuery], properties: { [route.requiredQuery]: { type: 'string' } } } }
  return { ...options, schema }
}

// Requests sent through Fastify (and the protection) before the load clock starts, one at a
// time, over their own connection: e.g. one health check, as a load balancer sends before
// any user traffic arrives.
async function sendPreload (port) {
  for (const path of scenario.preload || []) {
    await new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        res.resume()
        res.on('end', resolve)
      }).on('error', reject)
    })
  }
}

// limit / in-flight as the protection itself sees them, when it has such a notion.
function protectionView () {
  if (protectionState) return { limit: protectionState.limit, inflight: protectionState.inflight }
  const c = app.concurrency
  if (c && typeof c.limit === 'number') return { limit: c.limit, inflight: c.inflight }
  return { limit: null, inflight: null }
}

function startSampling (t0) {
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  return setInterval(() => {
    const view = protectionView()
    process.send({
      type: 'sample',
      t: performance.now() - t0,
      limit: view.limit,
      protectionInflight: view.inflight,
      handlerInflight: status.handlerInflight,
      downstreamSlots: downstream ? downstream.slots : null,
      downstreamQueued: downstream ? downstream.queued : null,
      eventLoopDelayP99: delay.percentile(99) / 1e6,
      longLivedOpen: status.longLivedOpen ?? null,
      rss: process.memoryUsage.rss()
    })
    delay.reset()
  }, sampleMs)
}

function startCapacitySchedule () {
  return (scenario.capacitySchedule || []).map(({ atMs, slots, serviceMs }) =>
    setTimeout(() => {
      if (serviceMs !== undefined) serviceOverrideMs = serviceMs
      if (slots !== undefined) downstream.setSlots(slots)
    }, atMs))
}

function finalReport () {
  const c = app.concurrency
  let snapshot = null
  if (c && typeof c.snapshot === 'function') {
    try { snapshot = c.snapshot() } catch (err) { snapshot = { error: err.message } }
  }
  return { type: 'final', snapshot, staticLimit: protectionState, rss: process.memoryUsage.rss() }
}

async function main () {
  if (scenario.longLived) await prepareLongLived(app, scenario.longLived)
  await installProtection()
  installRoutes()
  if (scenario.longLived) await installLongLivedRoute(app, scenario.longLived, longLivedOptions(), status)
  await app.listen({ host: '127.0.0.1', port: 0, backlog: 4096 })
  let sampler = null
  let capacityTimers = []
  process.on('message', (msg) => {
    if (msg.type === 'start') {
      warmingUp = false
      startedAt = performance.now()
      sampler = startSampling(startedAt)
      capacityTimers = startCapacitySchedule()
      sendPreload(app.server.address().port).then(
        () => process.send({ type: 'started' }),
        (err) => process.send({ type: 'failed', message: `pre-load request: ${err.message}` }))
    } else if (msg.type === 'stop') {
      clearInterval(sampler)
      capacityTimers.forEach(clearTimeout)
      process.send(finalReport(), () => process.exit(0))
    }
  })
  process.send({ type: 'ready', port: app.server.address().port })
}

main().catch((err) => {
  process.send({ type: 'failed', message: err.message })
  process.exit(1)
})
