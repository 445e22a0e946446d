'use strict'

// Hello-world server for the overhead benchmark, one variant per process:
// argv[2] = 'bare' | 'plugin' | 'under-pressure'. Sends { port } over IPC once listening.

const Fastify = require('fastify')
const { loadPlugin } = require('../lib/plugin-loader')
const { UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS } = require('../lib/scenarios')

async function main (variant) {
  const app = Fastify({ logger: false })
  if (variant === 'plugin') {
    const { plugin, reason } = loadPlugin()
    if (!plugin) throw new Error(reason)
    // Defaults only: the overhead target is about the plugin as users get it.
    await app.register(plugin)
  } else if (variant === 'under-pressure') {
    await app.register(require('@fastify/under-pressure'), { maxEventLoopDelay: UNDER_PRESSURE_MAX_EVENT_LOOP_DELAY_MS })
  } else if (variant !== 'bare') {
    throw new Error(`unknown variant "${variant}"`)
  }
  app.get('/', async () => ({ hello: 'world' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ type: 'ready', port: app.server.address().port })
  process.on('message', (msg) => { if (msg.type === 'stop') app.close().then(() => process.exit(0)) })
}

main(process.argv[2]).catch((err) => {
  process.send({ type: 'failed', message: err.message })
  process.exit(1)
})
