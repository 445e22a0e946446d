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

module.exports = { loadPlugin }
