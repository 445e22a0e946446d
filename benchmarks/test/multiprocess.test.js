'use strict'

// Arithmetic of the multi-process scenarios (no processes started).
const { test } = require('node:test')
const assert = require('node:assert/strict')
const { processesOf, spread, multiprocessScenarios } = require('../lib/multiprocess-scenarios')

test('per-process limits are averaged after warm-up; fairness is max / min of processes alive throughout', () => {
  const sample = (t, workers, backendQueued = 2) => ({ t, workers, backendQueued })
  const trial = {
    warmupMs: 1000,
    durationMs: 3000,
    samples: [
      sample(500, [{ id: 0, limit: 100 }, { id: 1, limit: 100 }], 50), // warm-up: ignored
      sample(1000, [{ id: 0, limit: 4 }, { id: 1, limit: 2 }]),
      sample(2000, [{ id: 0, limit: 6 }, { id: 1, limit: 4 }, { id: 2, limit: 9 }]), // 2 joined late
      sample(3000, [{ id: 0, limit: 5 }, { id: 1, limit: 3 }], 5)
    ],
    final: { snapshot: { workers: [{ id: 0, startedAt: 0, stoppedAt: null, final: { admitted: 10, rejected: 5 } }] } }
  }
  const p = processesOf(trial)
  assert.deepEqual(p.limits, [{ id: 0, mean: 5 }, { id: 1, mean: 3 }, { id: 2, mean: 9 }])
  assert.equal(p.fairness, 5 / 3, 'the late joiner (one sample of three) is left out')
  assert.equal(p.backendQueue, 3)
  assert.deepEqual(p.workers, [{ id: 0, startedAtMs: 0, stoppedAtMs: null, admitted: 10, rejected: 5 }])
  assert.equal(spread([4]), null)
  assert.equal(spread([0, 1]), Infinity)
})

test('the procs scenarios: the reference, N = 1, 2, 4, 8 and coordinated N = 2, 4, 8 at each load, and the rolling deploy', () => {
  const byName = Object.fromEntries(multiprocessScenarios().map((s) => [s.name, s]))
  assert.deepEqual(Object.keys(byName), ['procs-50', 'procs-80', 'procs-2x', 'procs-5x', 'procs-rolling'])
  assert.deepEqual(byName['procs-2x'].protections, ['oracle', 'gradient2@1', 'gradient2@2', 'gradient2@4', 'gradient2@8',
    'gradient2+redis@2', 'gradient2+redis@4', 'gradient2+redis@8', 'oracle/2', 'oracle/4', 'oracle/8'])
  // The static split: C / N slots in each of N processes.
  assert.deepEqual(byName['procs-2x'].variantOf('oracle/4'), { name: 'oracle/4', kind: 'static', limit: 4, processes: 4 })
  assert.equal(byName['procs-2x'].variantOf('oracle/32').limit, 1)
  // Equal traffic per process, and the start-up left out of the steady cases.
  assert.equal(byName['procs-2x'].rotateConnections, true)
  assert.equal(byName['procs-2x'].warmupMs, 8000)
  assert.equal(byName['procs-rolling'].warmupMs, 3000)
  assert.deepEqual(byName['procs-rolling'].protections, ['oracle', 'gradient2@4', 'gradient2+redis@4'])
  assert.equal(byName['procs-2x'].rate, 1280)
  assert.equal(byName['procs-50'].arrival.mode, 'poisson')
  assert.equal(byName['procs-rolling'].server.replaceEveryMs, 5000)
  assert.equal(byName['procs-rolling'].variants['gradient2@4'].processes, 4)
})

test('<protection>@N and <protection>+redis@N: any common protection on N processes, with or without coordination', () => {
  const { protectionConfig } = require('../lib/scenarios')
  const procs = multiprocessScenarios().find((s) => s.name === 'procs-2x')
  assert.deepEqual(protectionConfig('gradient2+redis@8', procs),
    { name: 'gradient2+redis@8', kind: 'plugin', options: { algorithm: 'gradient2' }, processes: 8, coordination: { interval: 500, timeout: 250 } })
  assert.deepEqual(protectionConfig('gradient2:queueSize=1@2', procs),
    { name: 'gradient2:queueSize=1@2', kind: 'plugin', options: { algorithm: { name: 'gradient2', options: { queueSize: 1 } } }, processes: 2 })
  assert.equal(protectionConfig('oracle@4', procs).kind, 'static')
  assert.equal(procs.variantOf('oracle+redis@4'), null, 'coordination is the plugin\'s')
  assert.equal(procs.variantOf('nonsense@4'), null)
})
