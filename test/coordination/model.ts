// A perfect coordination channel for the many-senders model (test/limiter/multi-sender-model.ts):
// every `ms`, each live process gets the view the Redis script would give it (the same report
// strings, through the coordinator's own viewOf).
import type { Gradient2Limit } from '../../lib/algorithms'
import { encodeReport, viewOf } from '../../lib/coordination/coordinator'

export interface ModelSender { joinAt?: number, leaveAt?: number, algorithm: Gradient2Limit }

export function coordinatedEvery (senders: ModelSender[], ms = 500): { ms: number, run: (t: number, offered: number[]) => void } {
  const alive = (s: ModelSender, t: number): boolean => (s.joinAt ?? 0) <= t && t < (s.leaveAt ?? Infinity)
  return {
    ms,
    run (t, offered) {
      const reply: string[] = []
      senders.forEach((s, i) => {
        if (!alive(s, t)) return
        reply.push(`p${String(i).padStart(4, '0')}`, encodeReport(s.algorithm.report(), offered[i]))
      })
      senders.forEach((s, i) => {
        if (alive(s, t)) s.algorithm.coordinate(viewOf(reply, `p${String(i).padStart(4, '0')}`))
      })
    }
  }
}
