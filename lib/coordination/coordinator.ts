// Processes that share a backend share one limit budget through Redis (the `coordination`
// option). Once per interval each process sends one Lua script: it stores this process's report
// (limit, settled, requests offered since the last report, warming up, permits left unused)
// under its own field of one hash, stamped with Redis's clock, drops the fields not refreshed
// within three intervals, and returns the rest. From them the algorithm gets a view of the group
// (lib/algorithms/types.ts PeerView).
// One round trip per interval, none per request; one timer.
//
// Redis slow or gone: a call that has not answered within `timeout` is ignored (and no second
// call is sent while one is outstanding), and after STALE_INTERVALS intervals without a view the
// algorithm is told to run on local control, until Redis answers again.
import { randomUUID } from 'node:crypto'
import { KEPT_SPARE, type CoordinatedLimit, type PeerReport, type PeerView } from '../algorithms/types'
import type { TimerApi } from '../limiter/wait-queue'

/**
 * What coordination needs of an ioredis client (`Redis` or `Cluster`), typed by its shape so
 * that apps without ioredis still type-check.
 */
export interface CoordinationClient {
  defineCommand (name: string, definition: { lua: string, numberOfKeys?: number }): void
  hdel (key: string, ...fields: string[]): Promise<number>
}

interface CoordinateCommand {
  fastifyConcurrencyCoordinate (key: string, field: string, report: string, ttl: number): Promise<string[]>
}

/** After this many intervals without an answer the algorithm runs on local control. */
export const STALE_INTERVALS = 3

// KEYS[1]: the group's hash. ARGV: this process's field, its report, the ms after which a field
// that was not refreshed is gone. Returns field, report pairs of the live fields (reports
// without Redis's stamp).
export const COORDINATE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], now .. ' ' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
local all = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #all, 2 do
  local stamp, report = string.match(all[i + 1], '^(%d+) (.*)$')
  if stamp == nil or now - tonumber(stamp) > ttl then
    redis.call('HDEL', KEYS[1], all[i])
  else
    out[#out + 1] = all[i]
    out[#out + 1] = report
  end
end
return out
`

export interface CoordinatorOptions {
  client: CoordinationClient
  key: string
  interval: number
  timeout: number
  algorithm: CoordinatedLimit
  /** Requests offered to this process so far (admitted + refused), a running count. */
  offered: () => number
  timers: TimerApi
  /** A failed or late round trip (logged by the caller, throttled). */
  onError: (err: Error) => void
}

export class CoordinationTimeoutError extends Error {
  constructor (timeout: number) {
    super(`coordination: Redis did not answer within ${timeout} ms`)
    this.name = 'CoordinationTimeoutError'
  }
}

export class Coordinator {
  /** This process's field in the group's hash. */
  readonly id = randomUUID()
  /** Round trips that answered in time, and those that did not (for tests and diagnostics). */
  answered = 0
  failed = 0
  private readonly o: CoordinatorOptions
  private readonly client: CoordinationClient & CoordinateCommand
  private timer: unknown
  private outstanding = false
  private missed = 0
  private lastOffered = 0
  private stopped = false

  constructor (options: CoordinatorOptions) {
    this.o = options
    options.client.defineCommand('fastifyConcurrencyCoordinate', { numberOfKeys: 1, lua: COORDINATE_SCRIPT })
    this.client = options.client as CoordinationClient & CoordinateCommand
  }

  /** Whether the algorithm currently runs on a view of its peers. */
  get active (): boolean {
    return this.answered > 0 && this.missed < STALE_INTERVALS
  }

  /** One round trip now, then one per interval. Resolves once the first one answered or failed. */
  async start (): Promise<void> {
    const first = this.exchange()
    this.schedule()
    await first
  }

  /** No more round trips; removes this process from the group (best effort, bounded by timeout). */
  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) this.o.timers.clearTimer(this.timer)
    this.timer = undefined
    try {
      await this.bounded(this.client.hdel(this.o.key, this.id))
    } catch {
      // The field expires on its own after three intervals.
    }
  }

  /** One round trip: report, and hand the algorithm the group's view (or, long without one, none). */
  async exchange (): Promise<void> {
    if (this.stopped) return
    if (this.outstanding) {
      // The previous call is still out: Redis is slow. Never queue a second one behind it.
      this.miss()
      return
    }
    const offered = this.o.offered()
    const delta = Math.max(0, offered - this.lastOffered)
    this.lastOffered = offered
    const report = this.o.algorithm.report()
    this.outstanding = true
    const call = this.client.fastifyConcurrencyCoordinate(this.o.key, this.id,
      encodeReport(report, delta), STALE_INTERVALS * this.o.interval)
    // Whatever happens to it, the call is no longer outstanding once it settles.
    call.then(() => { this.outstanding = false }, () => { this.outstanding = false })
    try {
      const reply = await this.bounded(call)
      if (this.stopped) return
      this.o.algorithm.coordinate(viewOf(reply, this.id))
      this.answered++
      this.missed = 0
    } catch (err) {
      if (!this.stopped) {
        this.o.onError(err as Error)
        this.miss()
      }
    }
  }

  private miss (): void {
    this.failed++
    if (++this.missed === STALE_INTERVALS) this.o.algorithm.coordinate(undefined)
  }

  private schedule (): void {
    this.timer = this.o.timers.setTimer(() => {
      if (this.stopped) return
      this.schedule()
      this.exchange().catch(() => {})
    }, this.o.interval)
  }

  private async bounded<T> (work: Promise<T>): Promise<T> {
    let timer: unknown
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = this.o.timers.setTimer(() => { reject(new CoordinationTimeoutError(this.o.timeout)) }, this.o.timeout)
    })
    try {
      return await Promise.race([work, timeout])
    } finally {
      this.o.timers.clearTimer(timer)
    }
  }
}

/** One field's report: limit, settled, requests offered since the last report, warming, spare ('-': unknown). */
export function encodeReport (report: PeerReport, offered: number): string {
  const spare = report.spare !== undefined && Number.isFinite(report.spare) ? String(report.spare) : '-'
  return `${report.limit} ${report.settled ? 1 : 0} ${offered} ${report.warming ? 1 : 0} ${spare}`
}

/**
 * The group as this process sees it, from the script's field, report pairs. Reports that do not
 * parse are skipped (another version of the plugin, or a key shared by mistake).
 */
export function viewOf (reply: unknown, self: string): PeerView {
  let processes = 0
  let totalLimit = 0
  let settledSum = 0
  let settled = 0
  let offered = 0
  let own = NaN
  let rank = 0
  let lent = 0
  let borrowers = 0
  const reports: Array<{ limit: number, count: number }> = []
  let warming = false
  const pairs = Array.isArray(reply) ? reply : []
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const parts = String(pairs[i + 1]).split(' ')
    const limit = Number(parts[0])
    const isSettled = parts[1] === '1'
    const count = Number(parts[2])
    const spare = parts[4] === '-' ? NaN : Number(parts[4])
    if (parts.length !== 5 || !Number.isFinite(limit) || limit < 0 || !Number.isFinite(count) || count < 0 ||
      !(parts[4] === '-' || Number.isFinite(spare))) continue
    processes++
    if (String(pairs[i]) < self) rank++
    totalLimit += limit
    offered += count
    reports.push({ limit, count })
    if (spare > KEPT_SPARE) lent += spare - KEPT_SPARE
    else if (spare <= KEPT_SPARE) borrowers++
    if (pairs[i] === self) {
      own = count
      continue
    }
    if (parts[3] === '1') warming = true
    if (isSettled) {
      settledSum += limit
      settled++
    }
  }
  if (Number.isNaN(own)) processes++ // our own write is in the reply; without it, count us anyway
  return {
    processes,
    totalLimit,
    medianLimit: median(reports.map((r) => r.limit)),
    settledLimit: settled === 0 ? NaN : settledSum / settled,
    share: offered > 0 && !Number.isNaN(own) ? own / offered : NaN,
    rank,
    warming,
    lent,
    borrowers
  }
}

function median (values: number[]): number {
  if (values.length === 0) return NaN
  values.sort((a, b) => a - b)
  const mid = values.length >> 1
  return values.length % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2
}
