// When HyParView (hyparview.ts) asks passive peers for the free places of
// its active view. It asks in rounds, every `interval` ms while the view is
// not full. A refusal during a round asks on at once (a sweep), up to as many
// peers as the passive view held when the round began, so that a peer with
// room is found within one round. A round that ends with nobody left to ask
// makes the next one wait twice as long, up to MAX_BACKOFF: peers that are
// full are not pressed every second. A change of the active view resets the
// wait.
import { MAX_BACKOFF } from './backoff.js'

export class FillRounds {
  readonly #interval: number
  /** when the next round is due */
  #at = 0
  /** between rounds: `interval`, doubling with each round of refusals in a row */
  #delay: number
  /** how many more the round may ask after refusals */
  #left = 0

  constructor (interval: number) {
    this.#interval = interval
    this.#delay = interval
  }

  /** When the next round is due. */
  get at (): number { return this.#at }

  /** The first round is due at `now`. */
  start (now: number): void {
    this.#at = now
  }

  /** A round begins at `now`, with `passive` peers in the passive view. */
  begin (now: number, passive: number): void {
    this.#at = now + this.#delay
    this.#left = passive
  }

  /** After a refusal: whether the round may ask one more (counted when it does, `asked`). */
  get mayAskOn (): boolean { return this.#left > 0 }

  asked (): void {
    this.#left--
  }

  /** The round is over with nobody left to ask: the next one waits twice as long. */
  over (now: number): void {
    this.#delay = Math.min(MAX_BACKOFF, this.#delay * 2)
    this.#at = now + this.#delay
  }

  /** The active view changed: rounds are `interval` apart again. */
  reset (): void {
    this.#delay = this.#interval
  }
}
