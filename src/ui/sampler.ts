// The live tail of one page: at thousands of events a second a page cannot
// draw them all, so each page gets a sample, at most `rate` a second, spread
// over the second by a token bucket, and the count of what matched.
import type { LogEntry } from '../log/log.js'

/** What a page asks the tail to show. */
export interface TailFilter {
  /** event name, exact */
  name?: string
  /** text found (case-insensitively) in the event name or its payload as JSON */
  text?: string
}

export class TailSampler {
  readonly #rate: number
  readonly #burst: number
  /** what the page asked for */
  readonly filter: TailFilter
  readonly #name: string | undefined
  readonly #text: string | undefined
  #tokens: number
  #refilled: number
  #taken: LogEntry[] = []
  #matched = 0

  /**
   * @param rate - most entries a second in the sample
   * @param now - ms, the clock the bucket fills on
   */
  constructor (rate: number, filter: TailFilter, now: number) {
    this.#rate = rate
    // a quiet cluster's events all show, and a burst after a pause shows its
    // first few rather than one
    this.#burst = Math.max(1, Math.ceil(rate / 4))
    this.#tokens = this.#burst
    this.#refilled = now
    this.filter = filter
    this.#name = filter.name == null || filter.name === '' ? undefined : filter.name
    this.#text = filter.text == null || filter.text === '' ? undefined : filter.text.toLowerCase()
  }

  /** Whether the filter needs payloads as JSON to judge. */
  get needsText (): boolean {
    return this.#text != null
  }

  /**
   * Offers a commit's entries. `json` gives an entry's payload as JSON (made
   * once per entry for all pages, and only when a text filter asks).
   */
  offer (entries: readonly LogEntry[], now: number, json: (e: LogEntry) => string): void {
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#refilled) * this.#rate / 1000)
    this.#refilled = now
    for (const e of entries) {
      if (this.#name != null && e.entry.name !== this.#name) continue
      if (this.#text != null && !e.entry.name.toLowerCase().includes(this.#text) && !json(e).toLowerCase().includes(this.#text)) continue
      this.#matched++
      if (this.#tokens >= 1) {
        this.#tokens--
        this.#taken.push(e)
      }
    }
  }

  /** Whether entries wait to be sent. */
  get pending (): boolean {
    return this.#taken.length > 0
  }

  /** The entries sampled since the last take. */
  take (): LogEntry[] {
    const out = this.#taken
    this.#taken = []
    return out
  }

  /** Entries that passed the filter, sampled or not, since the last call. */
  matched (): number {
    const n = this.#matched
    this.#matched = 0
    return n
  }
}
