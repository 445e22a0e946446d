'use strict'

// Waits for one IPC message of `type` from a scenario's server child; rejects if the child reports
// a failure or exits first.
function message (child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type === type) { child.off('message', onMessage); resolve(msg) }
      if (msg.type === 'failed') reject(new Error(`server failed: ${msg.message}`))
    }
    child.on('message', onMessage)
    child.once('exit', (code) => reject(new Error(`server exited (${code}) before '${type}'`)))
  })
}

module.exports = { message }
