// Every example starts with its documented command, serves, and exits cleanly (code 0) on SIGINT.
// They run as child processes, all at once, on free ports (PORT=0).
import { test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'

const ROOT = join(__dirname, '..')

interface Example {
  file: string
  /** Paths to request, with the status expected. */
  checks: Array<[path: string, status: number, body: RegExp, headers?: Record<string, string>]>
}

const EXAMPLES: Example[] = [
  { file: 'basic.ts', checks: [['/', 200, /"hello":"world"/], ['/status', 200, /"algorithm":"gradient2"/], ['/status', 200, /<canvas/, { accept: 'text/html' }]] },
  { file: 'under-pressure.ts', checks: [['/', 200, /"ok":true/], ['/concurrency', 200, /"underPressure":\{/], ['/health', 200, /ok/]] },
  { file: 'custom-algorithm.ts', checks: [['/', 200, /"ok":true/], ['/status', 200, /"algorithm":"latency-target"/]] },
  { file: 'metrics.ts', checks: [['/', 200, /"ok":true/], ['/metrics', 200, /fastify_adaptive_concurrency_admitted_total\{instance="api"\} 1/]] },
  { file: 'sessions-drain.ts', checks: [['/', 200, /"ok":true/, { 'x-session-id': 'alice' }], ['/status', 200, /"sessions":\{[^}]*"active":1/]] }
]

// All at once: each is mostly waiting for its child to start.
test('examples', { jobs: EXAMPLES.length }, async t => {
  for (const example of EXAMPLES) {
    t.test(`examples/${example.file}`, { timeout: 30_000 }, async t => {
      const child = spawn(process.execPath, ['--import', 'tsx', join('examples', example.file)], {
        cwd: ROOT,
        env: { ...process.env, PORT: '0', NODE_OPTIONS: '' },
        stdio: ['ignore', 'pipe', 'pipe']
      })
      let output = ''
      child.stderr.on('data', chunk => { output += String(chunk) })
      const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
      t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

      const base = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', chunk => {
          output += String(chunk)
          const m = /listening on (http:\/\/\S+)/.exec(output)
          if (m !== null) resolve(m[1])
        })
        exited.then(code => reject(new Error(`exited with ${code} before listening:\n${output}`)), reject)
      })
      for (const [path, status, body, headers] of example.checks) {
        const res = await fetch(base + path, { headers })
        t.equal(res.status, status, `${path} answers ${status}`)
        t.match(await res.text(), body, `${path} body`)
      }
      child.kill('SIGINT')
      t.equal(await exited, 0, `exits cleanly on SIGINT\n${output}`)
    })
  }
})
