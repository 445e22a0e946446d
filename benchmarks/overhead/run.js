'use strict'

// Hello-world throughput: bare Fastify vs the plugin at its defaults vs @fastify/under-pressure.
// All servers run at once in their own processes; autocannon (closed loop, in this process)
// measures them in rounds whose order rotates, so a drift of a shared machine hits every
// variant alike. Each round gives a ratio against bare Fastify measured in the same round;
// the result is the median ratio.
// Flags: --rounds n (>= 5), --duration s (per measurement), --connections n, --quick.

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { fork } = require('node:child_process')
const { parseArgs } = require('node:util')
const autocannon = require('autocannon')
const { loadPlugin } = require('../lib/plugin-loader')
const { median } = require('../lib/targets')

const RESULTS = path.join(__dirname, '..', 'results')

function startServer (variant) {
  const child = fork(path.join(__dirname, 'server.js'), [variant], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    child.once('message', (msg) => {
      if (msg.type === 'ready') resolve({ variant, child, url: `http://127.0.0.1:${msg.port}/` })
      else reject(new Error(`${variant} server failed: ${msg.message}`))
    })
    child.once('exit', (code) => reject(new Error(`${variant} server exited with ${code}`)))
  })
}

// Throughput counts 2xx only: a variant that sheds part of the closed-loop load with 503s
// (under-pressure does when the shared box stalls its event loop) must not look faster.
async function measure (url, durationS, connections) {
  const result = await autocannon({ url, duration: durationS, connections, pipelining: 1 })
  return { rps: result['2xx'] / result.duration, rejected: result.non2xx, errors: result.errors }
}

async function main () {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string' },
      connections: { type: 'string', default: '100' },
      quick: { type: 'boolean', default: false }
    }
  })
  const rounds = Math.max(5, Number(values.rounds))
  const durationS = Number(values.duration ?? (values.quick ? 2 : 5))
  const connections = Number(values.connections)
  const variants = ['bare', 'plugin', 'under-pressure']
  const { reason } = loadPlugin()
  if (reason) {
    console.error(`NOTE: plugin variant skipped: ${reason}`)
    variants.splice(1, 1)
  }
  const servers = await Promise.all(variants.map(startServer))
  const perRound = []
  try {
    // One short unmeasured pass: JIT warm-up for every server.
    for (const s of servers) await measure(s.url, 1, connections)
    for (let round = 0; round < rounds; round++) {
      const order = servers.map((_, i) => servers[(i + round) % servers.length])
      const rps = {}
      const failures = {}
      for (const s of order) {
        const m = await measure(s.url, durationS, connections)
        rps[s.variant] = m.rps
        failures[s.variant] = m.rejected + m.errors
      }
      perRound.push({ rps, failures })
      console.error(`round ${round + 1}/${rounds}: ${variants.map((v) => `${v} ${Math.round(rps[v])} 2xx/s (${failures[v]} non-2xx/errors)`).join(', ')}`)
    }
  } finally {
    for (const s of servers) s.child.kill()
  }
  const rows = variants.map((v) => ({
    variant: v,
    medianRps: median(perRound.map((r) => r.rps[v])),
    medianRatio: median(perRound.map((r) => r.rps[v] / r.rps.bare)),
    failures: perRound.reduce((n, r) => n + r.failures[v], 0)
  }))
  const cpus = os.cpus()
  const md = [
    '# Overhead: hello-world throughput',
    '',
    `${rounds} rounds, rotating order, ${durationS} s per measurement, autocannon ${connections} connections, pipelining 1. ` +
      `Ratio = variant / bare Fastify in the same round; median over rounds. Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC ` +
      `on ${cpus.length} x ${cpus[0]?.model.trim()}, Node ${process.version}, load average ${os.loadavg()[0].toFixed(2)} at the end.`,
    reason ? `\nThe plugin variant was skipped: ${reason}.\n` : '',
    '| variant | median 2xx/s | median ratio vs bare | non-2xx + errors (all rounds) |',
    '|---|---|---|---|',
    ...rows.map((r) => `| ${r.variant} | ${Math.round(r.medianRps).toLocaleString('en-US')} | ${(r.medianRatio * 100).toFixed(1)} % | ${r.failures} |`),
    ''
  ].join('\n')
  fs.mkdirSync(RESULTS, { recursive: true })
  fs.writeFileSync(path.join(RESULTS, 'overhead.md'), md)
  fs.writeFileSync(path.join(RESULTS, 'overhead.json'), JSON.stringify({ rounds: perRound, rows, durationS, connections }, null, 2) + '\n')
  console.log(md)
}

main().catch((err) => {
  console.error(err.stack || err.message)
  process.exitCode = 1
})
