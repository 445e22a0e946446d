// Small option checkers shared by the algorithms and the plugin. Each one throws
// FST_CONCURRENCY_INVALID_OPTION naming the option and the accepted range, so users see
// exactly which knob is wrong.
import { invalidOption } from './errors'

export function isFiniteNumber (v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}

/** A finite number in [min, max] (inclusive unless told otherwise), or the default when undefined. */
export function numberOption (
  name: string,
  value: unknown,
  def: number,
  min = -Infinity,
  max = Infinity,
  { minExclusive = false, maxExclusive = false, integer = false } = {}
): number {
  if (value === undefined) return def
  const lo = minExclusive ? '(' : '['
  const hi = maxExclusive ? ')' : ']'
  const kind = integer ? 'an integer' : 'a number'
  const range = `${kind} in ${lo}${min}, ${max}${hi}`
  if (!isFiniteNumber(value)) invalidOption(name, `expected ${range}, got ${describe(value)}`)
  if (integer && !Number.isInteger(value)) invalidOption(name, `expected ${range}, got ${value}`)
  if (value < min || value > max || (minExclusive && value === min) || (maxExclusive && value === max)) {
    invalidOption(name, `expected ${range}, got ${value}`)
  }
  return value
}

export function booleanOption (name: string, value: unknown, def: boolean): boolean {
  if (value === undefined) return def
  if (typeof value !== 'boolean') invalidOption(name, `expected a boolean, got ${describe(value)}`)
  return value
}

export function functionOption<F extends (...args: never[]) => unknown> (name: string, value: unknown): F | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'function') invalidOption(name, `expected a function, got ${describe(value)}`)
  return value as F
}

export function enumOption<T extends string> (name: string, value: unknown, allowed: readonly T[], def: T): T {
  if (value === undefined) return def
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    invalidOption(name, `expected one of ${allowed.map(a => `'${a}'`).join(', ')}, got ${describe(value)}`)
  }
  return value as T
}

export function objectOption (name: string, value: unknown): Record<string, unknown> | undefined {
  if (value === undefined) return undefined
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    invalidOption(name, `expected an object, got ${describe(value)}`)
  }
  return value as Record<string, unknown>
}

/** Reject keys we do not know, so a typo ("maxLimt") is an error rather than a silent default. */
export function knownKeys (name: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) {
      invalidOption(name === '' ? key : `${name}.${key}`, `unknown option; accepted: ${allowed.join(', ')}`)
    }
  }
}

export function describe (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)
  if (typeof value === 'number') return String(value)
  return typeof value
}
