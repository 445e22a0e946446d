// The first stage: what the route and the request say before anything is counted.
// - `config: { adaptiveConcurrency: false }`: neither limited nor counted;
// - `bypass(request)` true: skips the limiter, counted as bypassed;
// - with `partitions`, the request's partition: the route's `config.adaptiveConcurrency.partition`
//   first, then `partitions.choose(request)`. Later stages (the event-loop gate, the limiter)
//   and every refusal's count use it.
import type { FastifyRequest } from 'fastify'
import type { PartitionChooser } from '../backlog/options'
import { invalidOption } from '../errors'
import { routeConfig } from '../route-config'
import type { BypassFunction, RouteConcurrencyConfig } from '../types'
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
      if (bypass !== undefined && isBypassed(bypass, state.request)) {
        limiter.recordBypass()
        return PASS
      }
      if (partitions !== undefined) {
        const named = cfg !== null && typeof cfg === 'object' ? (cfg as RouteConcurrencyConfig).partition : undefined
        state.partition = named !== undefined || choose === undefined ? named : chosen(choose, state.request)
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

/**
 * A throwing `bypass` must not turn into 500s for every request: the request is limited as usual
 * (the safe side: bypassing on error would let a bug open the gate) and the bug is logged.
 */
function isBypassed (bypass: BypassFunction, request: FastifyRequest): boolean {
  try {
    return bypass(request)
  } catch (err) {
    request.log.error({ err }, 'adaptive-concurrency: bypass threw; the request is limited as usual')
    return false
  }
}

/** A broken chooser must not fail the request: it goes to the catch-all partition. */
function chosen (choose: PartitionChooser, request: FastifyRequest): string | undefined {
  try {
    return choose(request)
  } catch (err) {
    request.log.error({ err }, 'adaptive-concurrency: partitions.choose threw; the request goes to the default partition')
    return undefined
  }
}
