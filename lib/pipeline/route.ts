// The first stage: what the route and the request say before anything is counted.
// - `config: { adaptiveConcurrency: false }`: neither limited nor counted;
// - `bypass(request)` true: skips the limiter, counted as bypassed;
// - with `partitions`, the request's partition: the route's `config.adaptiveConcurrency.partition`
//   first, then `partitions.choose(request)`. Later stages (the event-loop gate, the limiter)
//   and every refusal's count use it.
import { invalidOption } from '../errors'
import { routeConfig } from '../route-config'
import type { RouteConcurrencyConfig } from '../types'
import { callUser } from '../user-callback'
import type { RequestState } from './request-state'
import { PASS, type AdmissionStage, type Pass, type StageContext } from './stage'

export function attachRouteStage (ctx: StageContext): AdmissionStage {
  const { bypass, partitions } = ctx.options
  const limiter = ctx.limiter
  const choose = partitions?.choose
  return {
    enter (state: RequestState): Pass | undefined {
      const cfg = routeConfig(state.request).adaptiveConcurrency
      if (cfg === false) return PASS
      // On a throwing bypass the request is limited as usual: bypassing on error would let a bug open the gate.
      if (bypass !== undefined && callUser(bypass, state.request, false, 'bypass threw; the request is limited as usual')) {
        limiter.recordBypass()
        return PASS
      }
      if (partitions !== undefined) {
        const named = cfg !== null && typeof cfg === 'object' ? (cfg as RouteConcurrencyConfig).partition : undefined
        state.partition = named !== undefined || choose === undefined
          ? named
          : callUser(choose, state.request, undefined, 'partitions.choose threw; the request goes to the default partition')
      }
      return undefined
    },
    onRoute (route): void {
      const cfg = (route.config as { adaptiveConcurrency?: unknown } | undefined)?.adaptiveConcurrency
      if (cfg === null || typeof cfg !== 'object') return
      const name = (cfg as RouteConcurrencyConfig).partition
      if (name === undefined) return
      const where = `config.adaptiveConcurrency.partition (${String(route.method)} ${route.url})`
      if (partitions === undefined) invalidOption(where, 'needs the `partitions` option declaring the partition names and shares')
      partitions.set.resolveStatic(name, where)
    }
  }
}
