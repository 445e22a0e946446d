// The `sessions` and `drainOnClose` options, read once. The tracker and the overload policy
// check their own settings as they are built, here, so nothing downstream checks again.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { invalidOption } from '../errors'
import type { InternalHooks } from '../internal'
import { describe, functionOption, knownKeys, numberOption, objectOption } from '../validate'
import { SessionOverloadPolicy, type OverloadPolicyOptions } from './overload-policy'
import { assertStoreFree, type SessionStore } from './store'
import { SessionTracker, type SessionRefusal, type SessionTrackerOptions } from './tracker'

/** Returns the request's VERIFIED identity (signed cookie, session id, JWT subject), or undefined. */
export type SessionKeyFunction = (request: FastifyRequest) => string | undefined
/**
 * Answers a refused new session (or, while draining, any new request) in place of
 * `rejection.onLimitExceeded`. Return `reply` once you sent something (a redirect to a waiting
 * page, say), any other value to send it as the body, or nothing for the default refusal.
 */
export type OnSessionRefusedFunction = (request: FastifyRequest, reply: FastifyReply, reason: SessionRefusal) => unknown

export interface SessionsOptions {
  key: SessionKeyFunction
  /** A key seen within this many ms belongs to an active session. */
  idleTimeout: number
  /** Cap on concurrent sessions (cluster-wide with a shared store); beyond it new sessions are refused. */
  maxSessions?: number
  /** Hard cap on keys remembered per process (default 20000, at least maxSessions). */
  maxTracked?: number
  /** Longer keys count as no key (default 128). */
  maxKeyLength?: number
  /** Seat registry for maxSessions: a MemoryStore (default) or a RedisStore shared by processes. */
  store?: SessionStore
  onRefused?: OnSessionRefusedFunction
  /** Tuning of the active-sessions-first rule under overload. */
  overload?: OverloadPolicyOptions
}

export interface DrainOnCloseOptions {
  /** Longest time fastify.close() waits for active sessions to go idle, ms (default 10000). */
  timeout?: number
}

export interface ResolvedSessions {
  key: SessionKeyFunction
  onRefused: OnSessionRefusedFunction | undefined
  tracker: SessionTracker
  policy: SessionOverloadPolicy
  /** The user's store, claimed by this registration when the plugin starts. */
  store: SessionStore | undefined
}

export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000

export function resolveSessions (value: unknown, internal: InternalHooks): ResolvedSessions | undefined {
  if (value === undefined) return undefined
  const opts = objectOption('sessions', value) as Record<string, unknown>
  knownKeys('sessions', opts, [
    'key', 'idleTimeout', 'maxSessions', 'maxTracked', 'maxKeyLength', 'store', 'onRefused', 'overload'
  ] satisfies Array<keyof SessionsOptions>)
  const key = functionOption<SessionKeyFunction>('sessions.key', opts.key) ??
    invalidOption('sessions.key', 'required: a function (request) => string | undefined returning a verified identity')
  const onRefused = functionOption<OnSessionRefusedFunction>('sessions.onRefused', opts.onRefused)
  // Refused here rather than at start: one store serves one registration.
  assertStoreFree(opts.store)
  const trackerOptions: SessionTrackerOptions = {
    idleTimeout: opts.idleTimeout as number,
    maxSessions: opts.maxSessions as number | undefined,
    maxTracked: opts.maxTracked as number | undefined,
    maxKeyLength: opts.maxKeyLength as number | undefined,
    store: opts.store as SessionStore | undefined,
    clock: internal.sessionClock,
    timers: internal.drainTimers
  }
  const tracker = new SessionTracker(trackerOptions)
  return {
    key,
    onRefused,
    tracker,
    // The reserve follows the sessions this tracker counts as active.
    policy: new SessionOverloadPolicy(opts.overload as OverloadPolicyOptions | undefined, tracker),
    store: opts.store as SessionStore | undefined
  }
}

/** `drainOnClose`: the drain timeout in ms, or undefined when off. */
export function resolveDrainOnClose (value: unknown): number | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return DEFAULT_DRAIN_TIMEOUT_MS
  const opts = objectOption('drainOnClose', value) ??
    /* c8 ignore next -- objectOption throws for anything but an object */
    invalidOption('drainOnClose', `expected a boolean or { timeout }, got ${describe(value)}`)
  knownKeys('drainOnClose', opts, ['timeout'])
  return numberOption('drainOnClose.timeout', opts.timeout, DEFAULT_DRAIN_TIMEOUT_MS, 0, 2 ** 31 - 1)
}
