'use strict'

// One hello-world server of the overhead benchmark per process; argv[2] is the variant (see
// VARIANTS). It counts the requests it receives and, asked over IPC ('stats'), reports its own
// CPU time (process.cpuUsage: user + system) with that count at the same instant, so the parent
// can compute CPU time per request over any window. Sends { type: 'ready', port } once listening.

const http = require('node:http')
const Fastify = require('fastify')
const { loadPlugin, optionsForBuild } = require('../lib/plugin-loader')
const { UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS } = require('../lib/scenarios')

// A limit no hello world at the offered rate comes near: the admitted-path variants never reject.
const NEVER_REACHED = 1_000_000

let received = 0
// The count is the only per-request work added, identical in every variant.
function serverFactory (handler) {
  return http.createServer((req, res) => {
    received++
    handler(req, res)
  })
}

function requirePlugin () {
  const { plugin, reason } = loadPlugin()
  if (!plugin) throw new Error(reason)
  return plugin
}

const VARIANTS = {
  bare: async () => {},
  // The simplest static limiter: two hooks and a counter.
  naive: async (app) => {
    let inflight = 0
    app.addHook('onRequest', (request, reply, done) => {
      if (inflight >= NEVER_REACHED) {
        reply.code(503).send()
        return
      }
      inflight++
      done()
    })
    app.addHook('onResponse', (request, reply, done) => {
      inflight--
      done()
    })
  },
  // Defaults only: the admitted-path cost as users get it (gradient2, per-route classes,
  // event-loop gate, history, logging).
  plugin: async (app) => {
    const plugin = requirePlugin()
    await app.register(plugin, await optionsForBuild(plugin, extraOptions() ?? {}))
  },
  // The cheapest possible refusal: an empty 503 from the first hook.
  'bare-503': async (app) => {
    app.addHook('onRequest', (request, reply) => {
      reply.code(503).send()
    })
  },
  // The plugin refusing every request through its default answer (the FST_ error handed to
  // Fastify's error handler, Retry-After header): a fixed limit of 1, taken for the whole run
  // by one request to /hold that never ends (see holdThePermit). Every other option is at
  // its default, so the refusal takes the same path as under a real overload (reason 'limit').
  'plugin-reject': async (app) => {
    const plugin = requirePlugin()
    await app.register(plugin, await optionsForBuild(plugin, { algorithm: { name: 'fixed', options: { limit: 1 } } }))
    app.get('/hold', () => new Promise(() => {}))
  },
  // Opt-in: Fastify's own error path for a 503 without the plugin, as the plugin's default
  // answer uses it (one shared Error with statusCode 503 handed to done, a Retry-After header).
  // plugin-reject / error-503 is then the plugin's own share of a refusal.
  'error-503': async (app) => {
    const refused = Object.assign(new Error('Concurrency limit exceeded'), { statusCode: 503, code: 'FST_CONCURRENCY_LIMIT_EXCEEDED' })
    app.addHook('onRequest', (request, reply, done) => {
      reply.header('retry-after', '1')
      reply.code(503)
      done(refused)
    })
  },
  'under-pressure': async (app) => {
    await app.register(require('@fastify/under-pressure'), { maxEventLoopDelay: UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS })
  }
}

// Opens one request to /hold on its own connection and waits until the plugin counts it in
// flight; the socket stays open (and the permit taken) until the process exits.
async function holdThePermit (app, port) {
  http.get({ host: '127.0.0.1', port, path: '/hold', agent: false }).on('error', () => {})
  for (let i = 0; i < 200 && app.concurrency.inflight < 1; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  if (app.concurrency.inflight !== 1 || app.concurrency.limit !== 1) {
    throw new Error(`plugin-reject: expected limit 1 with 1 in flight, got limit ${app.concurrency.limit}, in flight ${app.concurrency.inflight}`)
  }
}

// The plugin's own counters, where it is registered: proof of what it admitted and refused.
function pluginCounters (app) {
  const c = app.concurrency
  if (!c) return null
  return { limit: c.limit, inflight: c.inflight, admitted: c.admitted, rejected: c.rejected }
}

// OVERHEAD_PLUGIN_OPTIONS (JSON) adds options to the plugin variant: what one default costs.
function extraOptions () {
  const json = process.env.OVERHEAD_PLUGIN_OPTIONS
  return json === undefined || json === '' ? undefined : JSON.parse(json)
}

async function main (variant) {
  const install = VARIANTS[variant]
  if (!install) throw new Error(`unknown variant "${variant}"; known: ${Object.keys(VARIANTS).join(', ')}`)
  const app = Fastify({ logger: false, serverFactory })
  await install(app)
  app.get('/', async () => ({ hello: 'world' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address()
  if (variant === 'plugin-reject') await holdThePermit(app, port)
  process.on('message', (msg) => {
    if (msg.type === 'stats') {
      const cpu = process.cpuUsage()
      process.send({ type: 'stats', id: msg.id, received, userUs: cpu.user, systemUs: cpu.system, plugin: pluginCounters(app) })
    } else if (msg.type === 'stop') {
      process.exit(0)
    }
  })
  process.send({ type: 'ready', port })
}

main(process.argv[2]).catch((err) => {
  process.send({ type: 'failed', message: err.message })
  process.exit(1)
})
