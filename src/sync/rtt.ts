// A link's round-trip time, as TCP estimates it (RFC 6298 §2): a smoothed
// mean and mean deviation of the samples, and from them a timeout that an
// answer on the way rarely exceeds. Here a sample is the time from an
// Entries frame sent to its Ack, which includes the peer's checks and store:
// the time a hop of the tree takes, as the peer is loaded now.

/** RFC 6298's gains: 1/8 for the mean, 1/4 for the deviation. */
const ALPHA = 1 / 8
const BETA = 1 / 4
/** The timeout is the mean and this many deviations. */
const K = 4

export class RttEstimator {
  #srtt: number | undefined
  #rttvar = 0

  /** A round trip of `ms`. */
  sample (ms: number): void {
    if (!(ms >= 0)) return
    if (this.#srtt === undefined) {
      this.#srtt = ms
      this.#rttvar = ms / 2
      return
    }
    this.#rttvar = (1 - BETA) * this.#rttvar + BETA * Math.abs(this.#srtt - ms)
    this.#srtt = (1 - ALPHA) * this.#srtt + ALPHA * ms
  }

  /** The smoothed round trip (ms), or undefined before a sample. */
  get srtt (): number | undefined {
    return this.#srtt
  }

  /** The smoothed round trip and four mean deviations (ms), or undefined before a sample. */
  get timeout (): number | undefined {
    return this.#srtt === undefined ? undefined : this.#srtt + K * this.#rttvar
  }
}
