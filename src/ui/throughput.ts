// Events per second, kept for the last minutes: what the page's chart draws.
// Counting is a few additions per commit; the page asks for the seconds, not
// for the events.

/** One second of traffic. */
export interface Second {
  /** the second's start, ms since the epoch */
  t: number
  /** entries this node authored */
  emitted: number
  /** entries by other authors that this node stored */
  received: number
  /** events handed to this node's listeners */
  delivered: number
}

/** Seconds of history kept: the chart's five minutes. */
export const HISTORY_SECONDS = 300

export class Throughput {
  readonly #history: Second[] = []
  #emitted = 0
  #received = 0
  #delivered: number
  #emittedTotal = 0
  #receivedTotal = 0

  /** `delivered`: the listeners' feed position now */
  constructor (delivered: number) {
    this.#delivered = delivered
  }

  /** A commit of `own` entries by this node and `other` by other authors. */
  count (own: number, other: number): void {
    this.#emitted += own
    this.#received += other
  }

  /** Closes the second that started at `t`; `delivered` is the listeners' feed position now. */
  roll (t: number, delivered: number): Second {
    const second: Second = { t, emitted: this.#emitted, received: this.#received, delivered: Math.max(0, delivered - this.#delivered) }
    this.#emittedTotal += this.#emitted
    this.#receivedTotal += this.#received
    this.#emitted = 0
    this.#received = 0
    this.#delivered = delivered
    this.#history.push(second)
    if (this.#history.length > HISTORY_SECONDS) this.#history.shift()
    return second
  }

  /** The seconds kept, oldest first. */
  get history (): readonly Second[] {
    return this.#history
  }

  /** Entries this node authored and received since the view started. */
  get totals (): { emitted: number, received: number } {
    return { emitted: this.#emittedTotal + this.#emitted, received: this.#receivedTotal + this.#received }
  }
}
