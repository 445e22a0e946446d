import t from 'tap'
import Fastify from 'fastify'
import { findRouteContextSymbol, resetRouteContextSymbol, routeConfig } from '../../lib/route-config'

t.test('reads the route config through the context symbol, and falls back to routeOptions', async t => {
  const app = Fastify()
  const seen: unknown[] = []
  app.get('/', { config: { adaptiveConcurrency: false } }, async (request) => {
    t.type(findRouteContextSymbol(request), 'symbol', 'Fastify still names its route context symbol "fastify.context"')
    seen.push(routeConfig(request).adaptiveConcurrency)
    resetRouteContextSymbol(null) // as if a future Fastify renamed the symbol
    seen.push(routeConfig(request).adaptiveConcurrency)
    resetRouteContextSymbol(Symbol('no such context'))
    seen.push(routeConfig(request).adaptiveConcurrency)
    resetRouteContextSymbol()
    return 'ok'
  })
  t.teardown(() => app.close())
  await app.inject('/')
  t.same(seen, [false, false, false])
  t.equal(findRouteContextSymbol({} as never), null)
})
