// Shared pieces of the reliability suite: a seeded PRNG (every random run can be replayed from
// the seed it logs), waiting on I/O-driven conditions, and raw-socket clients that stop at exact
// points of an HTTP exchange (which undici, a well-behaved client, cannot do).
import { connect } from 'node:net'
import type { Socket } from 'node:net'

/** mulberry32: a tiny seeded PRNG. */
export function prng (seed: number): () => number {
  return () => {
    seed = (seed + 0x6D2B79F5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

export const tick = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Wait for a condition driven by I/O (socket close events), failing after `ms`. */
export async function until (cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await tick(5)
  }
}

/** Open a loopback connection; every socket is destroyed after `lifetimeMs` at the latest. */
export function open (port: number, lifetimeMs = 5000): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.setTimeout(lifetimeMs, () => socket.destroy())
    socket.once('error', reject)
    socket.once('connect', () => {
      socket.removeListener('error', reject)
      // Resets and server-side closes are expected here: they must not fail the test process.
      socket.on('error', () => {})
      resolve(socket)
    })
  })
}

/** Resolves with everything the server sent once the socket closes (either side). */
export function collect (socket: Socket): Promise<string> {
  return new Promise(resolve => {
    let text = ''
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => { text += chunk })
    socket.once('close', () => resolve(text))
  })
}

/** Resolves at the first bytes the server sends (or '' if the socket closes first). */
export function firstData (socket: Socket): Promise<string> {
  return new Promise(resolve => {
    const onData = (chunk: Buffer): void => { socket.removeListener('close', onClose); resolve(chunk.toString('latin1')) }
    const onClose = (): void => { socket.removeListener('data', onData); resolve('') }
    socket.once('data', onData)
    socket.once('close', onClose)
  })
}

/** The status code of a raw HTTP response text, or undefined if no status line arrived. */
export function statusOf (text: string): number | undefined {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text)
  return m === null ? undefined : Number(m[1])
}
