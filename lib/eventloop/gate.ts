// The admission gate that sheds when the event loop itself is the queue.
//
// The concurrency limit cannot see a CPU-bound overload: a synchronous handler keeps in-flight at
// 1, so the limit is never reached while requests pile up in socket buffers. LoopTurnTracker
// measures how long the request now in onRequest has been queued behind the current loop turn;
// past `maxWait` ms we reject it, which costs a few µs instead of a whole handler. The loop turn
// then ends sooner, so the queue of waiting requests stays about `maxWait` deep in time.
//
// Only a *sustained* queue is shed, as CoDel does: the previous busy turn must also have run
// longer than `maxWait`, with no idle time between the two. One slow turn alone (a cold start
// compiling serializers, a GC pause, one slow request) is not overload: the loop drains it by
// itself, and shedding then would turn a blip into errors.
//
// With partitions, the most important one (`spared`) is shed only past twice `maxWait`: when the
// loop is the bottleneck, less important traffic goes first, and the loop turns get shorter for
// everyone. If shedding the others is not enough, the wait keeps growing and the important
// traffic is shed too, so the loop stays protected.
//
// Once shedding starts, the admitted requests are paced (lib/eventloop/pacer.ts): they run from
// the check phase in short batches, so loop iterations stay short and libuv, which accepts one
// new connection per iteration, keeps accepting. The wait a request would have is then the
// pacer's queue ahead of it plus its own poll phase so far, and that is what is held to
// `maxWait`. When the queue drains or the loop goes idle, pacing stops and the turn-length rule
// above applies again.
import { invalidOption } from '../errors'
import { knownKeys, numberOption, objectOption, describe } from '../validate'
import { LoopTurnTracker } from './loop-turn'
import type { LoopTurnOptions } from './loop-turn'
import { LoopPacer } from './pacer'

export interface EventLoopOptions {
  /**
   * Longest time (ms) a request may have waited behind the current event-loop turn before it is
   * shed with reason 'event-loop'. Default 40.
   */
  maxWait?: number
}

export const DEFAULT_EVENT_LOOP_MAX_WAIT = 40

export class EventLoopGate<T = () => void> {
  readonly maxWait: number
  readonly tracker: LoopTurnTracker
  /** Runs admitted requests in short batches while shedding (the plugin routes them through it). */
  readonly pacer: LoopPacer<T>
  /** Requests shed by this gate. */
  shed = 0
  /** The most important partition's name, when partitions are declared. */
  readonly spared: string | undefined
  private blipTurn = -1

  /** `proceed` runs what the pacer queued (default: calls it). */
  constructor (maxWait: number = DEFAULT_EVENT_LOOP_MAX_WAIT, loop?: LoopTurnOptions, spared?: string, proceed?: (item: T) => void) {
    this.maxWait = maxWait
    this.spared = spared
    this.tracker = new LoopTurnTracker(loop)
    this.pacer = new LoopPacer<T>(loop, proceed)
  }

  /** 'event-loop' when a request of `partition` must be shed now. */
  check (partition?: string): 'event-loop' | undefined {
    const tracker = this.tracker
    const age = tracker.age()
    const pacer = this.pacer
    // Paced batches run outside the tracker's turns: the pacer knows whether the loop was idle.
    if (pacer.active && tracker.gap > this.maxWait) pacer.stopIfIdle(this.maxWait)
    if (pacer.active) {
      // The rest of a slow turn that started pacing as a blip is served, as the blip would be.
      if (tracker.currentTurn === this.blipTurn) return undefined
      const wait = age + pacer.expectedWait()
      if (wait <= this.maxWait) return undefined
      if (partition !== undefined && partition === this.spared && wait <= 2 * this.maxWait) return undefined
      this.shed++
      return 'event-loop'
    }
    if (age <= this.maxWait) return undefined
    if (tracker.previousTurn <= this.maxWait || tracker.gap > this.maxWait) {
      // One slow turn: nothing is shed, but the rest of it is paced instead of run inline, so
      // that a flood of requests read at once (a burst of clients that connected first and
      // sent later) cannot hold the loop for the whole flood.
      this.blipTurn = tracker.currentTurn
      pacer.start()
      return undefined
    }
    if (partition !== undefined && partition === this.spared && age <= 2 * this.maxWait) return undefined
    this.shed++
    pacer.start()
    return 'event-loop'
  }
}

/** `eventLoop` option: `false` turns the gate off; `true`, undefined or an object turns it on. */
export function resolveEventLoopOptions (value: unknown): { maxWait: number } | undefined {
  if (value === false) return undefined
  if (value === undefined || value === true) return { maxWait: DEFAULT_EVENT_LOOP_MAX_WAIT }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    invalidOption('eventLoop', `expected false, true or { maxWait }, got ${describe(value)}`)
  }
  const obj = objectOption('eventLoop', value) as Record<string, unknown>
  knownKeys('eventLoop', obj, ['maxWait'])
  return { maxWait: numberOption('eventLoop.maxWait', obj.maxWait, DEFAULT_EVENT_LOOP_MAX_WAIT, 0, 60000, { minExclusive: true }) }
}
