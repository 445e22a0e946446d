// The status route's response schema against the ConcurrencySnapshot type. fast-json-stringify
// silently drops a field its schema does not name (and coerces one typed differently), so every
// field of the type, at every depth, must be in the schema with a JSON type that can carry it.
import { expect, test } from 'tstyche'
import type { ConcurrencySnapshot } from '../../index'
import { snapshotSchema } from '../../lib/status-route'

/** The JSON Schema type names that serialise a value of type V unchanged. */
type TypeNames<V> =
  V extends null ? 'null'
    : V extends string ? 'string'
      : V extends number ? 'number' | 'integer'
        : V extends boolean ? 'boolean'
          : V extends readonly unknown[] ? 'array'
            : 'object'

type Declared<S> = S extends { type: infer T } ? (T extends readonly unknown[] ? T[number] : T) : never

type RequiredKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T]

/**
 * The paths (`.queue.evicted`, `.history[].rttP99`, `.partitions.*.share`) of the fields of T that
 * schema S does not serialise as typed, plus `required` keys T may leave out (serialising an
 * object without them throws). `never` when the schema covers T.
 */
type SchemaGaps<T, S, P extends string = ''> = MemberGaps<Exclude<T, undefined>, S, P>

type MemberGaps<W, S, P extends string> =
  W extends unknown
    // A `type` widened to string (a schema constant without `as const`) would match anything.
    ? string extends Declared<S> ? `${P} (type)`
      : [Extract<TypeNames<W>, Declared<S>>] extends [never] ? `${P} (type)`
          : W extends readonly (infer E)[] ? (S extends { items: infer I } ? SchemaGaps<E, I, `${P}[]`> : `${P}[]`)
            : W extends null | string | number | boolean ? never
              : ObjectGaps<W, S, P>
    : never

type ObjectGaps<W, S, P extends string> =
  string extends keyof W
    ? (S extends { additionalProperties: infer A } ? SchemaGaps<W[string], A, `${P}.*`> : `${P}.*`)
    : S extends { properties: infer Props }
      ? PropertyGaps<W, Props, P> | RequiredGaps<W, S, P>
      : S extends { additionalProperties: infer A } ? SchemaGaps<W[keyof W], A, `${P}.*`> : `${P}.*`

type PropertyGaps<W, Props, P extends string> = {
  [K in keyof W & string]-?: K extends keyof Props ? SchemaGaps<W[K], Props[K], `${P}.${K}`> : `${P}.${K}`
}[keyof W & string]

type RequiredGaps<W, S, P extends string> =
  S extends { required: readonly (infer R)[] } ? `${P}.${Exclude<R & string, RequiredKeys<W>>} (required)` : never

type Schema = typeof snapshotSchema
type Props = Schema['properties']
type QueueProps = Props['queue']['properties']

test('the status schema covers every ConcurrencySnapshot field', () => {
  expect<SchemaGaps<ConcurrencySnapshot, Schema>>().type.toBe<never>()
})

// The checker itself: each way the schema can fall short is named.
test('a field missing from the schema is named by its path', () => {
  type NoEvicted = Omit<Schema, 'properties'> & {
    properties: Omit<Props, 'queue'> & { queue: { type: 'object', properties: Omit<QueueProps, 'evicted'> } }
  }
  expect<SchemaGaps<ConcurrencySnapshot, NoEvicted>>().type.toBe<'.queue.evicted'>()
  expect<SchemaGaps<ConcurrencySnapshot, Omit<Schema, 'properties'> & { properties: Omit<Props, 'serviceTime'> }>>().type.toBe<'.serviceTime'>()
  type NoRttP99 = Omit<Schema, 'properties'> & {
    properties: Omit<Props, 'history'> & { history: { type: 'array', items: { type: 'object', properties: Omit<Props['history']['items']['properties'], 'rttP99'> } } }
  }
  expect<SchemaGaps<ConcurrencySnapshot, NoRttP99>>().type.toBe<'.history[].rttP99'>()
})

test('a field of the wrong JSON type, an untyped map and a wrongly required key are named', () => {
  expect<SchemaGaps<{ a: number | null }, { type: 'object', properties: { a: { type: 'number' } } }>>().type.toBe<'.a (type)'>()
  expect<SchemaGaps<{ a: string }, { type: 'object', properties: { a: { type: 'integer' } } }>>().type.toBe<'.a (type)'>()
  expect<SchemaGaps<{ a: number }, { type: 'object', properties: { a: { type: string } } }>>().type.toBe<'.a (type)'>()
  expect<SchemaGaps<{ m: Record<string, { x: number }> }, { type: 'object', properties: { m: { type: 'object', properties: { x: { type: 'number' } } } } }>>().type.toBe<'.m.*'>()
  expect<SchemaGaps<{ h: Array<{ x: number, y: number }> }, { type: 'object', properties: { h: { type: 'array', items: { type: 'object', properties: { x: { type: 'number' } } } } } }>>().type.toBe<'.h[].y'>()
  expect<SchemaGaps<{ a?: number }, { type: 'object', required: readonly ['a'], properties: { a: { type: 'number' } } }>>().type.toBe<'.a (required)'>()
  expect<SchemaGaps<{ a?: number, b: boolean }, { type: 'object', required: readonly ['b'], properties: { a: { type: 'integer' }, b: { type: 'boolean' } } }>>().type.toBe<never>()
})
