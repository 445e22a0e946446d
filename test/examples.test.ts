// Every example starts with its documented command, serves, and exits cleanly (code 0) on SIGINT.
// They run as child processes, all at once, on free ports (PORT=0).
import { test } from 'tap'
import { spawn } from 'node:child_process'
import { createHmac, randomUUID } from 'node:crypto'
import { join } from 'node:path'

const ROOT = join(__dirname, '..')

interface Example {
  file: string
  /** Paths to request, in order, with the status and body expected. */
  checks: Array<[path: string, status: number, body: RegExp, headers?: Record<string, string>, method?: string]>
  env?: Record<string, string>
  /** Why this example is skipped here, if it is. */
  skip?: string
  /**
   * Answers 503 while its event loop is still slow from starting up (under-pressure's
   * maxEventLoopDelay; tsx compiles while other suites run): retry the first check until it
   * passes, for up to 10 s.
   */
  warmsUp?: true
}

// examples/redis.ts: tokens are signed here independently of the example, with the secret it is given.
const REDIS_URL = process.env.REDIS_URL ?? ''
const TOKEN_SECRET = 'examples-test-secret'
const bearer = (user: string) => ({ authorization: `Bearer ${user}.${createHmac('sha256', TOKEN_SECRET).update(user).digest('base64url')}` })

const EXAMPLES: Example[] = [
  { file: 'basic.ts', checks: [['/', 200, /"hello":"world"/], ['/status', 200, /"algorithm":"gradient2"/], ['/status', 200, /<canvas/, { accept: 'text/html' }]] },
  { file: 'under-pressure.ts', warmsUp: true, checks: [['/', 200, /"ok":true/], ['/concurrency', 200, /"underPressure":\{/], ['/health', 200, /ok/]] },
  { file: 'custom-algorithm.ts', checks: [['/', 200, /"ok":true/], ['/status', 200, /"algorithm":"latency-target"/]] },
  { file: 'metrics.ts', checks: [['/', 200, /"ok":true/], ['/metrics', 200, /fastify_adaptive_concurrency_admitted_total\{instance="api"\} 1/]] },
  { file: 'sessions-drain.ts', checks: [['/', 200, /"ok":true/, { 'x-session-id': 'alice' }], ['/status', 200, /"sessions":\{[^}]*"active":1/]] },
  {
    file: 'partitions.ts',
    checks: [
      ['/checkout', 200, /"ordered":true/, {}, 'POST'],
      ['/reports', 200, /"report":"ready"/],
      ['/', 200, /"page":"home"/, { 'user-agent': 'ExampleBot/1.0' }],
      ['/', 200, /"page":"home"/, { 'user-agent': 'curl/8' }],
      // Route config put /checkout in checkout; /reports (route config) and the bot (partition()) in batch.
      ['/status', 200, /"partitions":\{"checkout":\{[^}]*"admitted":1,[^}]*\},"browse":\{[^}]*"admitted":1,[^}]*\},"batch":\{[^}]*"admitted":2,/],
      ['/status', 200, /"queue":\{[^}]*"size":20,"timeout":300,"order":"lifo"/]
    ]
  },
  {
    file: 'redis.ts',
    skip: REDIS_URL === '' ? 'REDIS_URL is unset (.ci/run starts redis-server and sets it)' : undefined,
    env: { REDIS_URL, TOKEN_SECRET, MAX_SESSIONS: '1', SESSIONS_KEY: `test:examples:${randomUUID()}` },
    checks: [
      ['/login/alice', 200, /^\{"token":"alice\.[\w-]{43}"\}$/],
      ['/', 200, /"user":"alice"/, bearer('alice')],
      ['/', 503, /session-cap/, bearer('bob')],
      ['/', 200, /"user":"anonymous"/, { authorization: 'Bearer bob.forged' }],
      ['/', 200, /"user":"alice"/, bearer('alice')],
      ['/status', 200, /"sessions":\{"active":1,"seats":1,"refused":1,/]
    ]
  }
]

// All at once: each is mostly waiting for its child to start. Under a full `npm test` on 2 cores a
// child takes ~20 s to answer (tsx compiling while other suites run): the timeout only catches hangs.
test('examples', { jobs: EXAMPLES.length }, async t => {
  for (const example of EXAMPLES) {
    t.test(`examples/${example.file}`, { timeout: 60_000, skip: example.skip }, async t => {
      const child = spawn(process.execPath, ['--import', 'tsx', join('examples', example.file)], {
        cwd: ROOT,
        env: { ...process.env, ...example.env, PORT: '0', NODE_OPTIONS: '' },
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
      if (example.warmsUp === true) {
        const [path] = example.checks[0]
        const until = Date.now() + 10_000
        for (;;) {
          const res = await fetch(base + path)
          await res.arrayBuffer()
          if (res.status !== 503 || Date.now() > until) break
          await new Promise(resolve => setTimeout(resolve, 100))
        }
      }
      for (const [path, status, body, headers, method] of example.checks) {
        const res = await fetch(base + path, { headers, method })
        t.equal(res.status, status, `${method ?? 'GET'} ${path} answers ${status}`)
        t.match(await res.text(), body, `${path} body`)
      }
      child.kill('SIGINT')
      t.equal(await exited, 0, `exits cleanly on SIGINT\n${output}`)
    })
  }
})

// Without Redis the example must not look healthy: it exits non-zero and says what is wrong.
test('examples/redis.ts exits 1 with a clear message when Redis is unreachable', { timeout: 30_000 }, async t => {
  const child = spawn(process.execPath, ['--import', 'tsx', join('examples', 'redis.ts')], {
    cwd: ROOT,
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', PORT: '0', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  t.equal(code, 1, 'exit code 1')
  t.match(stderr, /cannot reach Redis at redis:\/\/127\.0\.0\.1:1: connect ECONNREFUSED/, 'says which Redis and why')
  t.notMatch(stdout, /listening on/, 'never started serving')
})
