'use strict'

/** A command-line flag that must be a positive number: the number, or an error naming the flag. */
function positiveNumber (name, value) {
  const n = Number(value)
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${value}"`)
  return n
}

module.exports = { positiveNumber }
