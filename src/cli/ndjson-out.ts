import type { Writable } from 'node:stream'
import type { HyperEmitter, Event } from '../index.js'
import { toJsonLine } from './format.js'

/**
 * Writes the log as ndjson from `start`, live, one line at a time: a line is
 * written before the next event is taken, so the cursor never passes a line
 * that did not go out.
 */
export class EventWriter {
  readonly done: Promise<void>
  readonly #emitter: HyperEmitter
  readonly #out: Writable
  readonly #cursor: string | undefined
  readonly #reading = new AbortController()
  #written: number
  #finishAt = Infinity

  constructor (emitter: HyperEmitter, out: Writable, cursor: string | undefined, start: number, signal: AbortSignal) {
    this.#emitter = emitter
    this.#out = out
    this.#cursor = cursor
    this.#written = start
    signal.addEventListener('abort', () => { this.#reading.abort() }, { once: true })
    if (signal.aborted) this.#reading.abort()
    const events = emitter.events({ from: 'beginning', cursor, signal: this.#reading.signal })
    this.done = this.#pump(events)
  }

  /** Ends once every event up to feed position `seq` is written. */
  finishAt (seq: number): void {
    this.#finishAt = seq
    if (this.#written >= seq) this.#reading.abort()
  }

  async #pump (events: AsyncGenerator<Event>): Promise<void> {
    try {
      for await (const event of events) {
        await writeLine(this.#out, toJsonLine(event))
        this.#written = event.seq
        if (this.#reading.signal.aborted || this.#written >= this.#finishAt) break
      }
    } finally {
      // breaking out counts the event in hand as taken; a failed write did not take it
      if (this.#cursor != null && !this.#emitter.log.closed) await this.#emitter.log.setCursor(this.#cursor, this.#written).catch(() => {})
    }
  }
}

function writeLine (out: Writable, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(line, err => { if (err != null) reject(err); else resolve() })
  })
}
