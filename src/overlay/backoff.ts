// When HyParView (hyparview.ts) may ask a passive peer again: after failures
// in a row it waits longer each time, and a peer that refused or dropped
// this node is left alone for a moment. The state machine keeps records of
// passive peers only (and drops them with the peer), so that they stay
// bounded by the passive view.

/** Longest time a failing peer is left alone. */
export const MAX_BACKOFF = 30_000
/**
 * ...but a peer whose active link broke in the last RECENT_MS is tried at
 * least this often: it was there a moment ago, and a partition that heals
 * or a peer that restarts should find its links back within seconds.
 */
const RECENT_MAX_BACKOFF = 2_000
const RECENT_MS = 10 * 60_000

interface Record {
  /** failures in a row */
  failures: number
  /** not asked before this time */
  until: number
}

export class Backoffs {
  readonly #records = new Map<string, Record>()
  /** when the active link to each peer broke */
  readonly #lostAt = new Map<string, number>()

  /** `retry`: ms a peer is left alone after one failure or a refusal */
  constructor (private readonly retry: number) {}

  /** Whether `peer` may be asked at `now`. */
  ready (peer: string, now: number): boolean {
    return (this.#records.get(peer)?.until ?? 0) <= now
  }

  /** The active link to `peer` broke at `now`. */
  lost (peer: string, now: number): void {
    this.#lostAt.set(peer, now)
  }

  /** `peer` failed once more in a row: it is left alone for longer. */
  failed (peer: string, now: number): void {
    const record = this.#record(peer)
    record.failures++
    const recent = now - (this.#lostAt.get(peer) ?? -Infinity) < RECENT_MS
    record.until = now + Math.min(recent ? RECENT_MAX_BACKOFF : MAX_BACKOFF, this.retry * 2 ** Math.min(record.failures - 1, 30))
  }

  /** `peer` refused or dropped this node: not asked again for `retry`; not a failure. */
  hold (peer: string, now: number): void {
    const record = this.#record(peer)
    record.until = Math.max(record.until, now + this.retry)
  }

  /** Forgets `peer` (it became active, or left the passive view). */
  forget (peer: string): void {
    this.#records.delete(peer)
    this.#lostAt.delete(peer)
  }

  #record (peer: string): Record {
    let record = this.#records.get(peer)
    if (record === undefined) {
      record = { failures: 0, until: 0 }
      this.#records.set(peer, record)
    }
    return record
  }
}
