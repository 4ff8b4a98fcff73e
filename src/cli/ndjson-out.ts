import type { Writable } from 'node:stream'
import type { HyperEmitter, Event, ReadOptions } from '../index.js'
import { toJsonLine } from './format.js'

type Filter = Pick<ReadOptions, 'names' | 'authors'>

/**
 * Writes the log as ndjson from `start`, live, one line at a time: a line is
 * written before the next event is taken, so the cursor never passes a line
 * that did not go out. With a filter, only the events of its names and
 * authors.
 */
export class EventWriter {
  readonly done: Promise<void>
  readonly #emitter: HyperEmitter
  readonly #out: Writable
  readonly #cursor: string | undefined
  readonly #filter: Filter | undefined
  readonly #stopped: AbortSignal
  readonly #reading = new AbortController()
  #written: number
  #finishAt = Infinity

  constructor (emitter: HyperEmitter, out: Writable, cursor: string | undefined, start: number, signal: AbortSignal, filter?: Filter) {
    this.#emitter = emitter
    this.#out = out
    this.#cursor = cursor
    this.#filter = filter
    this.#stopped = signal
    this.#written = start
    signal.addEventListener('abort', () => { this.#reading.abort() }, { once: true })
    if (signal.aborted) this.#reading.abort()
    const events = emitter.events({ from: 'beginning', cursor, signal: this.#reading.signal, ...filter })
    this.done = this.#pump(events)
  }

  /** Ends once every event up to feed position `seq` is written. */
  finishAt (seq: number): void {
    this.#finishAt = seq
    // the last event a filter lets through may lie before `seq`: the live
    // read stops, and a read to the end of the log (which nothing else
    // writes to then) follows it
    if (this.#written >= seq || this.#filter != null) this.#reading.abort()
  }

  async #pump (events: AsyncGenerator<Event>): Promise<void> {
    try {
      await this.#write(events, this.#reading.signal)
      if (this.#filter != null && this.#finishAt !== Infinity && !this.#stopped.aborted) {
        await this.#write(this.#emitter.events({ ...this.#filter, from: this.#written, live: false, signal: this.#stopped }), this.#stopped)
      }
    } finally {
      // breaking out counts the event in hand as taken; a failed write did not take it
      if (this.#cursor != null && !this.#emitter.log.closed) await this.#emitter.log.setCursor(this.#cursor, this.#written).catch(() => {})
    }
  }

  async #write (events: AsyncGenerator<Event>, stop: AbortSignal): Promise<void> {
    for await (const event of events) {
      await writeLine(this.#out, toJsonLine(event))
      this.#written = event.seq
      if (stop.aborted || this.#written >= this.#finishAt) break
    }
  }
}

function writeLine (out: Writable, line: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(line, err => { if (err != null) reject(err); else resolve() })
  })
}
