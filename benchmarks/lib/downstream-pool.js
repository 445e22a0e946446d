'use strict'

// A simulated downstream (a database, an HTTP dependency) with `slots` concurrent slots.
// Calls beyond the slots wait in FIFO order, as in a connection pool, so an unprotected
// server builds an ever-growing queue here: the failure the plugin exists to prevent.
function createDownstreamPool (initialSlots) {
  let slots = initialSlots
  let busy = 0
  let waiters = []
  let head = 0

  function grantWaiting () {
    while (busy < slots && head < waiters.length) {
      const wake = waiters[head]
      waiters[head++] = undefined
      busy++
      wake()
    }
    if (head > 1024 && head * 2 > waiters.length) {
      waiters = waiters.slice(head)
      head = 0
    }
  }

  return {
    acquire () {
      if (busy < slots && head === waiters.length) {
        busy++
        return Promise.resolve()
      }
      return new Promise((resolve) => { waiters.push(resolve) })
    },
    release () {
      busy--
      grantWaiting()
    },
    // Capacity changes (the schedule's "C halves at 10 s"). Shrinking lets calls in
    // progress finish; the new bound applies to the next grants.
    setSlots (n) {
      slots = n
      grantWaiting()
    },
    get slots () { return slots },
    get busy () { return busy },
    get queued () { return waiters.length - head }
  }
}

module.exports = { createDownstreamPool }
