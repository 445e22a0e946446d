'use strict'

// The "oracle": a static in-flight limit, written here independently of the plugin so the
// yardstick does not share the plugin's bugs. At most `limit` requests are past onRequest;
// the rest get an immediate 503. A permit is released when the response's socket-level
// 'close' fires, which happens both after a normal finish and when the client aborts.
// skip(request) true: the request is neither limited nor counted (a route left out).
function installStaticLimit (app, limit, { skip } = {}) {
  const state = { limit, inflight: 0, admitted: 0, rejected: 0 }

  // One shared listener, no per-request closure; 'close' fires exactly once per response.
  function release () {
    state.inflight--
  }

  app.addHook('onRequest', (request, reply, done) => {
    if (skip && skip(request)) { done(); return }
    if (state.inflight >= state.limit) {
      state.rejected++
      reply.code(503).header('retry-after', '1').send('overloaded')
      return
    }
    state.inflight++
    state.admitted++
    reply.raw.once('close', release)
    done()
  })

  return state
}

module.exports = { installStaticLimit }
