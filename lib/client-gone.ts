// Whether the client already left a request, asked where a permit is about to be attached after
// an async gap (earlier onRequest hooks, the wait queue). The release hangs on the response's
// 'close', which fires once: a permit attached after it would never be given back.
//
// HTTP/1.1 and HTTP/2 answer this differently. A ServerResponse is `destroyed` once its socket
// closed. An Http2ServerResponse has no `destroyed` at all (it is not a Writable): its stream's
// state tells, and a reset stream is `destroyed` and `closed` while the session stays up.
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'

export function clientGone (raw: ServerResponse | Http2ServerResponse): boolean {
  const stream = (raw as Partial<Http2ServerResponse>).stream
  if (stream === undefined) return (raw as ServerResponse).destroyed
  return stream.destroyed || stream.closed
}
