'use strict'

module.exports = require('neostandard')({
  ts: true,
  ignores: ['dist/**', 'coverage/**', '.tap/**', 'benchmarks/results/**', 'node_modules/**', 'test-artifacts/**', '.scratch/**']
})
