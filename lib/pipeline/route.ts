// The first stage: what the route and the request say before anything is counted.
// - `config: { adaptiveConcurrency: false }`: neither limited nor counted;
// - `bypass(request)` true: skips the limiter, counted as bypassed;
// - with `partitions`, the request's partition: the route's `config.adaptiveConcurrency.partition`
//   first, then `partitions.choose(request)`. Later stages (the event-loop gate, the limiter)
//   and every refusal's count use it;
// - whether the request is long-lived (a websocket handshake, a declared or learned long-lived
//   route: lib/longlived/tracker.ts): once admitted, it gives its permit back.
import { invalidOption } from '../errors'
import type { LongLivedTracker } from '../longlived/tracker'
import { routeConfig } from '../route-config'
import type { RouteConcurrencyConfig } from '../types'
import { callUser } from '../user-callback'
import { describe } from '../validate'
import type { RequestState } from './request-state'
import { PASS, type AdmissionStage, type Pass, type StageContext } from './stage'

export function attachRouteStage (ctx: StageContext, longLived: LongLivedTracker): AdmissionStage {
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
      const route = longLived.routeOf(state.request)
      state.route = route
      state.longLived = longLived.kindOf(state.request, route)
      return undefined
    },
    onRoute (route): void {
      const cfg = (route.config as { adaptiveConcurrency?: unknown } | undefined)?.adaptiveConcurrency
      const ws = route as { websocket?: unknown, wsHandler?: unknown }
      if (cfg !== false && (ws.websocket === true || typeof ws.wsHandler === 'function')) longLived.websocketRoute(route.url, route.config)
      if (cfg === null || typeof cfg !== 'object') return
      const { partition: name, longLived: declared } = cfg as RouteConcurrencyConfig
      if (declared !== undefined && typeof declared !== 'boolean') {
        invalidOption(`config.adaptiveConcurrency.longLived (${String(route.method)} ${route.url})`, `expected a boolean, got ${describe(declared)}`)
      }
      if (name === undefined) return
      const where = `config.adaptiveConcurrency.partition (${String(route.method)} ${route.url})`
      if (partitions === undefined) invalidOption(where, 'needs the `partitions` option declaring the partition names and shares')
      partitions.set.resolveStatic(name, where)
    }
  }
}
