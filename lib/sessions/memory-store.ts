// In-process seat registry, the default store. One Map from key to expiry, kept in expiry
// order: every write deletes and re-inserts the key, and the ttl is the same for every key
// (the tracker's idleTimeout), so the oldest seats sit at the front and expired ones are
// dropped from there in O(expired). Size never exceeds maxSessions: register is the only
// way in, and it refuses when full.
import type { Seat, SessionStore } from './store'

export class MemoryStore implements SessionStore {
  private readonly seats = new Map<string, number>()

  register (key: string, now: number, ttl: number, maxSessions: number): Seat {
    this.sweep(now)
    if (this.seats.has(key) || this.seats.size < maxSessions) {
      this.seats.delete(key)
      this.seats.set(key, now + ttl)
      return 'granted'
    }
    return 'full'
  }

  touch (key: string, now: number, ttl: number): void {
    // Only a key that holds a seat is extended; touch never takes a seat.
    if (this.seats.delete(key)) this.seats.set(key, now + ttl)
  }

  remove (key: string): void {
    this.seats.delete(key)
  }

  count (now: number): number {
    this.sweep(now)
    return this.seats.size
  }

  async close (): Promise<void> {
    this.seats.clear()
  }

  private sweep (now: number): void {
    for (const [key, expiresAt] of this.seats) {
      if (expiresAt > now) return
      this.seats.delete(key)
    }
  }
}
