// Bounds how long a store call may take, with ONE timer for all calls in flight. Every call
// gets the same timeout, so deadlines arrive in FIFO order: a queue plus a timer armed for the
// oldest unsettled deadline is enough, and a call costs one small record instead of a timer.

export class StoreTimeoutError extends Error {
  constructor (timeout: number) {
    super(`session store did not answer within ${timeout} ms`)
    this.name = 'StoreTimeoutError'
  }
}

interface Pending {
  readonly deadline: number
  settled: boolean
  readonly reject: (err: Error) => void
}

export class Deadlines {
  private queue: Pending[] = []
  private head = 0
  private timer: NodeJS.Timeout | undefined

  constructor (
    readonly timeout: number,
    private readonly now: () => number = () => performance.now()
  ) {}

  /** Resolve or reject like `work`, or reject with StoreTimeoutError after `timeout` ms. */
  run<T> (work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { deadline: this.now() + this.timeout, settled: false, reject }
      this.queue.push(entry)
      work.then(
        (value) => { entry.settled = true; resolve(value) },
        (err: Error) => { entry.settled = true; reject(err) }
      )
      if (this.timer === undefined) this.arm()
    })
  }

  /** Calls not yet settled (for tests and diagnostics). */
  get pending (): number {
    let n = 0
    for (let i = this.head; i < this.queue.length; i++) if (!this.queue[i].settled) n++
    return n
  }

  private arm (): void {
    // Drop settled entries at the front; they need no timer.
    while (this.head < this.queue.length && this.queue[this.head].settled) this.head++
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
      this.timer = undefined
      return
    }
    const delay = Math.max(0, this.queue[this.head].deadline - this.now())
    this.timer = setTimeout(() => this.expire(), delay)
    // A pending store call must never keep the process alive on its own.
    this.timer.unref()
  }

  private expire (): void {
    const now = this.now()
    while (this.head < this.queue.length && this.queue[this.head].deadline <= now) {
      const entry = this.queue[this.head++]
      if (!entry.settled) {
        entry.settled = true
        entry.reject(new StoreTimeoutError(this.timeout))
      }
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    this.arm()
  }
}
