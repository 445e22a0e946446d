// A deterministic model of N processes sharing one backend, for the many-senders tests: each
// process has its own algorithm and latency classes (as each Limiter does), requests arrive at a
// fixed rate spread over the processes alive by weight (smooth weighted round robin: equal
// weights take turns), each process admits while its in-flight
// is below its limit, and every admitted request waits in one FIFO backend of `slots` slots.
// Samples carry their completion time on a clock shared by the processes (`epochMs` + model time),
// as the plugin's do.
import type { LimitAlgorithm, Sample } from '../../lib/algorithms'
import { SampleClasses } from '../../lib/limiter/sample-classes'

export interface Sender {
  /** Model time (ms) the process starts taking traffic, and stops (default: never). */
  joinAt?: number
  leaveAt?: number
  /** Its part of the traffic, relative to the others' (default 1): arrivals are spread by weight. */
  weight?: number
  algorithm: LimitAlgorithm
}

export interface MultiSenderOptions {
  senders: Sender[]
  slots: number
  serviceMs: number
  /** Uniform jitter of the service time, as a fraction. */
  jitter: number
  /** Offered requests per ms, over all processes. */
  rate: number
  durationMs: number
  /** Statistics cover [warmupMs, durationMs). */
  warmupMs: number
  rand: () => number
  /** Shared clock origin of the samples' `at` (default: an epoch-like 1.7e12). */
  epochMs?: number
  /** Called every `ms` of model time with the requests each process was offered since the last call. */
  every?: { ms: number, run: (t: number, offered: number[]) => void }
}

export interface MultiSenderResult {
  /** Backend queue (requests waiting for a slot), time-averaged over the window. */
  queue: number
  p50: number
  p99: number
  /** Served per ms over the window. */
  throughput: number
  /** Refused / offered over the window. */
  refused: number
  /** Per process: its limit averaged over the arrivals of the window it was alive for. */
  limits: number[]
}

interface Job { sender: number, start: number, inflight: number, end: number }

/** Min-heap of jobs by end time. */
class Heap {
  private readonly a: Job[] = []
  get size (): number { return this.a.length }
  peek (): Job { return this.a[0] }
  push (j: Job): void {
    const a = this.a
    a.push(j)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (a[p].end <= a[i].end) break;
      [a[p], a[i]] = [a[i], a[p]]
      i = p
    }
  }

  pop (): Job {
    const a = this.a
    const top = a[0]
    const last = a.pop() as Job
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && a[l].end < a[m].end) m = l
        if (r < a.length && a[r].end < a[m].end) m = r
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]]
        i = m
      }
    }
    return top
  }
}

export function runMultiSender (o: MultiSenderOptions): MultiSenderResult {
  const n = o.senders.length
  const epoch = o.epochMs ?? 1_700_000_000_000
  const classes = o.senders.map(() => new SampleClasses())
  const inflight = new Array<number>(n).fill(0)
  const limitSum = new Array<number>(n).fill(0)
  const limitCount = new Array<number>(n).fill(0)
  const running = new Heap()
  const waiting: Job[] = []
  let head = 0
  let busy = 0
  let queueArea = 0
  let lastT = 0
  const latencies: number[] = []
  let offered = 0
  let refused = 0
  let served = 0
  const credit = new Array<number>(n).fill(0)
  /** Each process refused a request since its last completion (Sample.limited, as the Limiter sets it). */
  const turnedAway = new Array<boolean>(n).fill(false)
  const sample: Sample = { rtt: 0, inflight: 0, dropped: false, at: 0 }
  const alive = (s: Sender, t: number): boolean => (s.joinAt ?? 0) <= t && t < (s.leaveAt ?? Infinity)

  const advance = (t: number): void => {
    if (t > o.warmupMs) queueArea += (waiting.length - head) * (t - Math.max(lastT, o.warmupMs))
    lastT = t
  }
  const startService = (job: Job, t: number): void => {
    busy++
    job.end = t + o.serviceMs * (1 - o.jitter + 2 * o.jitter * o.rand())
    running.push(job)
  }

  const offeredBy = new Array<number>(n).fill(0)
  let nextEvery = o.every?.ms ?? Infinity
  const step = 1 / o.rate
  let nextArrival = 0
  while (nextArrival < o.durationMs || running.size > 0) {
    if (running.size > 0 && (running.peek().end <= nextArrival || nextArrival >= o.durationMs)) {
      const job = running.pop()
      const t = job.end
      advance(t)
      busy--
      if (head < waiting.length) startService(waiting[head++], t)
      inflight[job.sender]--
      const rtt = t - job.start
      if (job.start >= o.warmupMs && job.start < o.durationMs) { latencies.push(rtt); served++ }
      const s = job.sender
      const cls = classes[s]
      const alg = o.senders[s].algorithm
      sample.rtt = rtt
      sample.inflight = job.inflight
      sample.at = epoch + t
      sample.limited = turnedAway[s]
      turnedAway[s] = false
      const normalized = cls.normalize(sample, cls.fallback, alg.limit)
      if (normalized !== undefined) alg.onSample(normalized)
      continue
    }
    const t = nextArrival
    nextArrival += step
    advance(t)
    while (o.every !== undefined && t >= nextEvery) {
      o.every.run(nextEvery, offeredBy)
      offeredBy.fill(0)
      nextEvery += o.every.ms
    }
    // Smooth weighted round robin: each live process earns its weight, the richest is served and
    // pays the total. Equal weights take turns.
    const live: number[] = []
    let total = 0
    let s = -1
    for (let i = 0; i < n; i++) {
      if (!alive(o.senders[i], t)) continue
      live.push(i)
      const w = o.senders[i].weight ?? 1
      total += w
      credit[i] += w
      if (s < 0 || credit[i] > credit[s]) s = i
    }
    if (s < 0) continue
    credit[s] -= total
    offeredBy[s]++
    const alg = o.senders[s].algorithm
    const counted = t >= o.warmupMs
    if (counted) {
      offered++
      for (const i of live) { limitSum[i] += o.senders[i].algorithm.limit; limitCount[i]++ }
    }
    if (inflight[s] >= alg.limit) {
      if (counted) refused++
      turnedAway[s] = true
      continue
    }
    const job: Job = { sender: s, start: t, inflight: ++inflight[s], end: 0 }
    if (busy < o.slots) startService(job, t)
    else waiting.push(job)
  }
  latencies.sort((a, b) => a - b)
  const window = o.durationMs - o.warmupMs
  return {
    queue: queueArea / window,
    p50: latencies[Math.floor(latencies.length * 0.5)],
    p99: latencies[Math.floor(latencies.length * 0.99)],
    throughput: served / window,
    refused: offered === 0 ? 0 : refused / offered,
    limits: limitSum.map((x, i) => x / Math.max(1, limitCount[i]))
  }
}

/** A seeded PRNG (mulberry32): the same sequence on every run. */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
