// A link's round-trip time, much as TCP estimates it (RFC 6298 §2): a smoothed
// mean and mean deviation of the samples, and from them a timeout that an
// answer on the way rarely exceeds. Here a sample is the time from an
// Entries frame sent to its Ack, which includes the peer's checks and store:
// the time a hop of the tree takes, as the peer is loaded now: so the
// estimate holds for a while after its last sample, not for ever.

import { LAG_MEMORY } from './constants.js'

/** RFC 6298's gains: 1/8 for the mean, 1/4 for the deviation. */
const ALPHA = 1 / 8
const BETA = 1 / 4
/** The timeout is the mean and this many deviations. */
const K = 4
/** A first sample's timeout, in samples: the sample, and K deviations of half of it (3). */
const FIRST = 1 + K / 2

/**
 * The estimate holds for `memory` ms after its last sample (LAG_MEMORY, as
 * the tree's lag in LazyRepair): a link that carried a burst and then
 * little would otherwise keep the burst's round trips, seconds on a loaded
 * host, long after. Past that, the link is taken to be as fast as it ever
 * was: the timeout is what a first sample of the least round trip seen
 * would give. The next sample starts the estimate anew, as the first one
 * does.
 */
export class RttEstimator {
  #srtt: number | undefined
  #rttvar = 0
  /** when the last sample was taken */
  #at = -Infinity
  /** the least sample */
  #least = Infinity
  /** the last sample */
  #last = 0

  constructor (readonly memory = LAG_MEMORY) {}

  /** A round trip of `ms`, ending at `now` (ms, any clock). */
  sample (ms: number, now: number): void {
    if (!(ms >= 0)) return
    if (this.#srtt === undefined || !this.#fresh(now)) {
      this.#srtt = ms
      this.#rttvar = ms / 2
    } else {
      this.#rttvar = (1 - BETA) * this.#rttvar + BETA * Math.abs(this.#srtt - ms)
      this.#srtt = (1 - ALPHA) * this.#srtt + ALPHA * ms
    }
    this.#at = now
    this.#last = ms
    if (ms < this.#least) this.#least = ms
  }

  /** The smoothed round trip (ms), or undefined before a sample. */
  get srtt (): number | undefined {
    return this.#srtt
  }

  /**
   * The smoothed round trip and four mean deviations (ms) at `now`, or
   * three times the last sample (a first sample's timeout) if that is less:
   * on a link with few samples the smoothing forgets a burst's round trips
   * only after many more. `memory` ms after the last sample, three times the
   * least one. Undefined before a sample.
   */
  timeout (now: number): number | undefined {
    if (this.#srtt === undefined) return undefined
    return this.#fresh(now) ? Math.min(this.#srtt + K * this.#rttvar, FIRST * this.#last) : FIRST * this.#least
  }

  #fresh (now: number): boolean {
    return now - this.#at <= this.memory
  }
}
