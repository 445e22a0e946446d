// Every error the plugin can raise, in one map, so codes are stable and easy to grep.
// Created with @fastify/error so they carry `code` and `statusCode` like Fastify's own errors.
import createError from '@fastify/error'

export const errors = {
  /** A user-supplied option (plugin or algorithm) is invalid. Message: option name, then what is accepted. */
  FST_CONCURRENCY_INVALID_OPTION: createError(
    'FST_CONCURRENCY_INVALID_OPTION',
    'Invalid option "%s": %s',
    500,
    TypeError
  ),
  /** The request was shed because the service is at its concurrency limit. */
  FST_CONCURRENCY_LIMIT_EXCEEDED: createError(
    'FST_CONCURRENCY_LIMIT_EXCEEDED',
    'Service overloaded: concurrency limit reached (%s)',
    503
  ),
  /** A new session (or, while draining, a sessionless request) was refused. Message: the reason. */
  FST_CONCURRENCY_SESSION_REFUSED: createError(
    'FST_CONCURRENCY_SESSION_REFUSED',
    'Not accepting new sessions (%s)',
    503
  ),
  /** An optional peer dependency needed by an enabled feature is not installed. Message: package, feature. */
  FST_CONCURRENCY_MISSING_DEPENDENCY: createError(
    'FST_CONCURRENCY_MISSING_DEPENDENCY',
    'The optional dependency "%s" is required by the "%s" option but is not installed: npm install %s',
    500
  )
}

/** Throw a FST_CONCURRENCY_INVALID_OPTION error naming `option` and what it accepts. */
export function invalidOption (option: string, accepted: string): never {
  throw new errors.FST_CONCURRENCY_INVALID_OPTION(option, accepted)
}
