// The timers of an open session: held entries tried again soon after a
// commit of the node, held entries expired, and the entries left out for a
// lazy/1 peer announced IHAVE_DELAY after the first (protocols/README.md
// §5.8). No timer inside: the core passes the time and asks when the next
// is due; what is due is done through the callbacks.
import { IHAVE_DELAY, RETRY_MS } from './constants.js'

export interface TimersWork {
  /** held entries are tried again: their parents may have come through another session */
  retry: () => void
  /** held entries past their time are dropped; returns the time the rest may wait, if any are held */
  expire: (now: number) => number | undefined
  /** the noted authors go in one IHave; returns whether some still wait (past MAX_HAVE) */
  announce: () => boolean
}

export class SessionTimers {
  readonly #work: TimersWork
  /** when held entries are tried again after a commit */
  #retryAt: number | undefined
  /** when held entries are next expired */
  #expireAt: number | undefined
  /** when the entries left out for a lazy/1 peer are next announced */
  #announceAt: number | undefined
  /** the latest time the driver passed */
  #now = 0

  constructor (work: TimersWork) {
    this.#work = work
  }

  /** When `tick` is due next, or undefined. */
  get next (): number | undefined {
    let at: number | undefined
    for (const t of [this.#retryAt, this.#expireAt, this.#announceAt]) if (t != null && (at == null || t < at)) at = t
    return at
  }

  /** The latest time the driver passed. */
  get now (): number {
    return this.#now
  }

  /** The time is `now`, as the driver passed it. */
  seen (now: number): void {
    this.#now = now
  }

  /**
   * The node stored entries at `now`: entries held here for parents (`held`)
   * that another session may just have stored are tried again soon, at most
   * once per RETRY_MS however busy the node is.
   */
  committed (now: number, held: boolean): void {
    this.#now = now
    if (this.#retryAt == null && held) this.#retryAt = now + RETRY_MS
  }

  /** Entries are held at `now`, for at most `ttl` ms: they expire then, unless an expiry is due already. */
  holding (now: number, ttl: number): void {
    this.#now = now
    this.#expireAt ??= now + ttl
  }

  /** Entries were left out for a lazy/1 peer: they are announced IHAVE_DELAY from the latest time passed. */
  announcing (): void {
    this.#announceAt ??= this.#now + IHAVE_DELAY
  }

  /** Does what is due at `now`. */
  tick (now: number): void {
    this.#now = now
    if (this.#retryAt != null && now >= this.#retryAt) {
      this.#retryAt = undefined
      this.#work.retry()
    }
    if (this.#expireAt != null && now >= this.#expireAt) {
      const ttl = this.#work.expire(now)
      this.#expireAt = ttl == null ? undefined : now + ttl
    }
    if (this.#announceAt != null && now >= this.#announceAt) {
      this.#announceAt = undefined
      if (this.#work.announce()) this.#announceAt = now
    }
  }

  /** The session ended: nothing is due any more. */
  clear (): void {
    this.#retryAt = undefined
    this.#expireAt = undefined
    this.#announceAt = undefined
  }
}
