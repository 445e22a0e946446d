'use strict'

const path = require('node:path')

const DIST = path.join(__dirname, '..', '..', 'dist')

// The plugin is loaded from the build output, lazily, so that the baselines (none,
// under-pressure, static limits) still run while dist/ is missing or does not yet export it.
// Returns { plugin } or { reason } explaining why the plugin protections are skipped.
function loadPlugin () {
  let exported
  try {
    exported = require(DIST)
  } catch (err) {
    return { reason: `cannot load ${DIST} (${err.code || err.message}); run \`npm run build\`` }
  }
  const plugin = exported.fastifyAdaptiveConcurrency || exported.default ||
    (typeof exported === 'function' ? exported : null)
  if (typeof plugin !== 'function') {
    return { reason: `${DIST} does not export the plugin yet (no fastifyAdaptiveConcurrency / default)` }
  }
  return { plugin }
}

// The benchmarks write plugin options in the grouped shape (`algorithm: { name, options,
// window }`, `signal`, `rejection`, `queue: { ..., maxEstimatedWait }`, `partitions: { shares,
// choose }`, `observability`, `statusRoute`). A build from before that regrouping refuses those
// keys (FST_CONCURRENCY_INVALID_OPTION at ready()); against such a build they are translated to
// its flat names, so one checkout of the benchmarks measures either build.
let grouped
async function acceptsGroupedOptions (plugin) {
  if (grouped !== undefined) return grouped
  const app = require('fastify')({ logger: false })
  app.register(plugin, { signal: {} })
  try {
    await app.ready()
    grouped = true
  } catch (err) {
    if (err.code !== 'FST_CONCURRENCY_INVALID_OPTION') throw err
    grouped = false
  } finally {
    await app.close().catch(() => {})
  }
  return grouped
}

const isInstance = (algorithm) => typeof algorithm?.onSample === 'function'

// Grouped options -> the flat names of the earlier builds (algorithmOptions, top-level
// sampleClass / classify / timeout / statusCode / retryAfter / onLimitExceeded /
// maxEstimatedWait / deadlineHeader / instance / metrics / logging / history,
// partitions as a plain record plus `partition`, exposeStatusRoute).
function toFlatOptions (options) {
  const { algorithm, signal, rejection, queue, partitions, observability, statusRoute, ...rest } = options
  const flat = { ...rest, ...signal, ...rejection, ...observability }
  if (algorithm !== null && typeof algorithm === 'object' && !isInstance(algorithm)) {
    flat.algorithm = algorithm.name
    if (algorithm.options !== undefined) flat.algorithmOptions = algorithm.options
    if (algorithm.window !== undefined) flat.window = algorithm.window
  } else if (algorithm !== undefined) {
    flat.algorithm = algorithm
  }
  if (queue) {
    const { maxEstimatedWait, deadlineHeader, ...waitQueue } = queue
    if (waitQueue.size !== 0) flat.queue = waitQueue
    if (maxEstimatedWait !== undefined) flat.maxEstimatedWait = maxEstimatedWait
    if (deadlineHeader !== undefined) flat.deadlineHeader = deadlineHeader
  }
  if (partitions) {
    flat.partitions = partitions.shares
    if (partitions.choose !== undefined) flat.partition = partitions.choose
  }
  if (statusRoute !== undefined) flat.exposeStatusRoute = statusRoute
  return flat
}

// The options to register `plugin` (the build in dist/) with: as written, or translated.
async function optionsForBuild (plugin, options = {}) {
  return (await acceptsGroupedOptions(plugin)) ? options : toFlatOptions(options)
}

module.exports = { loadPlugin, optionsForBuild, toFlatOptions }
