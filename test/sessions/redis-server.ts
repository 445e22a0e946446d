// Starts a throw-away redis-server child on a free loopback port, for tests that must stop
// Redis mid-run. Returns undefined when no redis-server binary is installed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createServer } from 'node:net'
import { once } from 'node:events'

export interface RedisChild {
  port: number
  url: string
  stop (): Promise<void>
  /** Start again on the same port after stop(). */
  restart (): Promise<void>
}

export function hasRedisServer (): boolean {
  return spawnSync('redis-server', ['--version']).status === 0
}

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as { port: number }).port
  server.close()
  await once(server, 'close')
  return port
}

async function launch (port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      if (out.includes('Ready to accept connections')) resolve()
    })
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)))
  })
  child.stdout?.resume()
  return child
}

/**
 * startRedis() for a tap test: when redis-server is not installed the test is planned empty
 * (skipped, with a comment naming `what`); otherwise the server stops when the test ends.
 */
export async function redisFor (t: { comment: (msg: string) => void, plan: (n: number, why: string) => void, teardown: (fn: () => unknown) => void }, what: string): Promise<RedisChild | undefined> {
  const server = await startRedis()
  if (server === undefined) {
    t.comment(`redis-server is not installed: ${what} SKIPPED (.ci/run installs it)`)
    t.plan(0, 'redis-server is not installed')
    return undefined
  }
  t.teardown(() => server.stop())
  return server
}

export async function startRedis (): Promise<RedisChild | undefined> {
  if (!hasRedisServer()) return undefined
  const port = await freePort()
  let child: ChildProcess | undefined = await launch(port)
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async stop () {
      if (child === undefined || child.exitCode !== null) return
      const exited = once(child, 'exit')
      child.kill('SIGKILL')
      await exited
      child = undefined
    },
    async restart () {
      child = await launch(port)
    }
  }
}

/** Redis's clock (TIME) in epoch ms: seats expire by it. */
export async function redisTime (client: { time: () => Promise<Array<string | number>> }): Promise<number> {
  const [seconds, micros] = await client.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}

const AGE_SCRIPT = `
local seats = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, member in ipairs(seats) do redis.call('ZINCRBY', KEYS[1], -tonumber(ARGV[1]), member) end
return #seats
`

/**
 * Redis's clock cannot be set: moving every seat's expiry in `pool` back by `ms` is the same,
 * for the seat scripts, as `ms` passing in Redis.
 */
export async function ageSeats (client: { eval: (script: string, keys: number, ...args: Array<string | number>) => Promise<unknown> }, pool: string, ms: number): Promise<void> {
  await client.eval(AGE_SCRIPT, 1, pool, ms)
}
