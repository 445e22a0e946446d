// tsx 4.2.1 (pinned: its source maps keep coverage exact) reports every module it loads to the
// parent process over IPC, for its watch mode. Under tap the parent is the runner, which prints
// each report as a comment: 20,000 lines of noise that bury real failures in CI logs. Drop just
// those messages; every other IPC message passes through untouched.
if (typeof process.send === 'function') {
  const send = process.send.bind(process)
  process.send = (message, ...rest) => {
    if (message !== null && typeof message === 'object' && message.type === 'dependency') return true
    return send(message, ...rest)
  }
}
