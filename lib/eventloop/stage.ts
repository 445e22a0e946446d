// The event-loop stage: sheds when the event loop itself is the queue (gate.ts), and runs
// admitted requests through the pacer while it sheds (pacer.ts). With partitions, the first
// declared one is spared longest: priorities hold when the loop is the queue too.
import type { AdmissionStage, StageContext } from '../pipeline/stage'
import type { RequestState } from '../pipeline/request-state'
import { EventLoopGate } from './gate'

export function attachEventLoopStage (ctx: StageContext): AdmissionStage | undefined {
  const settings = ctx.options.eventLoop
  if (settings === undefined) return undefined
  const stage: AdmissionStage = {
    enter (state: RequestState): 'event-loop' | undefined {
      return gate.check(state.partition)
    },
    admitted (state: RequestState): boolean {
      // Continues the request now, or from the check phase in a short batch while shedding.
      // Either way through the pipeline (ctx.resume), whose last step after admission gives a
      // long-lived request's permit back and watches the others' headers.
      pacer.run(state)
      return false
    }
  }
  // One shared continuation for every paced request: no per-request closure.
  const gate = new EventLoopGate<RequestState>(settings.maxWait, ctx.options.internal.loop, ctx.options.partitions?.set.list[0].name, (state) => { ctx.resume(state, stage) })
  gate.pacer.watch(ctx.fastify.server)
  const pacer = gate.pacer
  return stage
}
