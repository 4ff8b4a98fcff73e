import { Duplex } from 'node:stream'
import { HyperEmitterError } from './errors.js'
import { toHex } from './log/entry.js'
import type { Log, LogEntry, ReadFilter } from './log/log.js'
import { writerKey } from './node/network.js'
import type { Schema } from './schema/index.js'

interface EventFields {
  name: string
  /** position in this node's change feed */
  seq: number
  /** entry id, hex sha2-256 multihash */
  id: string
  /** hex Ed25519 public key of the author */
  author: string
  /** milliseconds since the epoch, at the author */
  timestamp: number
}

/** An event of the node's schema, decoded. */
export interface KnownEvent<T = Record<string, unknown>> extends EventFields {
  payload: T
  unknown?: undefined
}

/**
 * An event the node's schema does not define (another version of the
 * schema wrote it), or, after an open with `force`, one whose payload it
 * cannot decode: the payload is its protobuf bytes, as the author wrote them.
 */
export interface UnknownEvent extends EventFields {
  payload: Uint8Array
  unknown: true
}

/** One event as readers see it: check `unknown` before reading `payload`. */
export type Event<T = Record<string, unknown>> = KnownEvent<T> | UnknownEvent

export interface ReadOptions {
  /**
   * Where to start: `'beginning'`, `'now'` (after the event being delivered
   * to listeners; for a reader made while the emitter opens, the events
   * stored once it is open), or a feed position to start after. @default 'now'
   */
  from?: 'beginning' | 'now' | number
  /**
   * A durable cursor name: reading resumes after the last event this
   * consumer took, across restarts; `from` then only applies the first time.
   */
  cursor?: string
  /** Keep waiting for new events at the end of the log. @default true */
  live?: boolean
  /**
   * Only events of these names, exactly as emitted (events of names the
   * schema does not define too: they come as unknown). Read from an index:
   * the cost follows the events read, not the log. @default every name
   */
  names?: readonly string[]
  /**
   * Only events by these authors: peer ids or hex public keys (an event's
   * `author`). With `names`, an event must match both. @default every author
   */
  authors?: readonly string[]
  /** AbortSignal that ends the iteration (also while it waits for the emitter to open). */
  signal?: AbortSignal
  /**
   * Called when the reader resumes at the log's floor: the events it was to
   * read next were dropped by retention before it read them (see
   * `FloorNotice`). The emitter's `status` also emits `read:floor`.
   */
  onFloor?: (notice: FloorNotice) => void
}

/**
 * A reader (or cursor) was behind the log's floor: the events at feed
 * positions `from` to `to` were dropped (retention) before it read them,
 * and it resumes at `to + 1`.
 */
export interface FloorNotice {
  /** the cursor's name, for a reader with one */
  cursor?: string
  /** the first position the reader was to read */
  from: number
  /** the last dropped position: reading resumes after it */
  to: number
}

/** Events read at once from the db. */
const READ_CHUNK = 256

export function toEvent (schema: Schema, e: LogEntry): Event {
  const { name, payload } = e.entry
  const fields = { name, seq: e.seq, id: toHex(e.id), author: toHex(e.entry.author), timestamp: e.entry.timestamp }
  if (schema.knows(name)) {
    try {
      return { ...fields, payload: schema.decode(name, payload) }
    } catch {
      // only a forced open keeps events its schema cannot decode (emitter.ts)
    }
  }
  return { ...fields, payload, unknown: true }
}

/** What a reader needs from the emitter. */
export interface ReaderSource {
  /**
   * The log, once the emitter is open: waits while it opens; rejects with
   * the emitter's OpenError or ClosedError when it cannot be read.
   */
  log: (signal?: AbortSignal) => Promise<Log>
  schema: Schema
  /** feed position of the event listeners are at; undefined while the emitter opens */
  now: () => number | undefined
  /** the log's length when the emitter opened */
  openedAt: () => number
  /** a reader resumed at the floor (the emitter's `read:floor`) */
  floor?: (notice: FloorNotice) => void
  /** resolves at the next commit or when the emitter closes */
  changed: (signal?: AbortSignal) => Promise<void>
  closed: () => boolean
}

/**
 * Reads the change feed from a position, in order, waiting for new events
 * when live. With a cursor, the position is saved after each event is taken
 * (written at most once per chunk and when the reader ends).
 */
export function readEvents (src: ReaderSource, opts: ReadOptions = {}): AsyncGenerator<Event> {
  const filter = readFilter(opts)
  // 'now' is when the reader is made, not when it is first read
  return read(src, opts, filter, src.now(), src.closed())
}

/** The names and authors a reader asks for, checked; undefined for every event. */
function readFilter (opts: ReadOptions): ReadFilter | undefined {
  const { names, authors } = opts
  if (names == null && authors == null) return undefined
  if (names != null && !(Array.isArray(names) && names.every(n => typeof n === 'string'))) {
    throw new HyperEmitterError('options.names must be an array of event names', 'ERR_INVALID_OPTION')
  }
  if (authors != null && !(Array.isArray(authors) && authors.every(a => typeof a === 'string'))) {
    throw new HyperEmitterError('options.authors must be an array of peer ids or hex public keys', 'ERR_INVALID_OPTION')
  }
  const keys = authors?.map(author => {
    try {
      return writerKey(author)
    } catch (err) {
      throw new HyperEmitterError(`options.authors: ${JSON.stringify(author)} is not a peer id or a hex public key`, 'ERR_INVALID_OPTION', { cause: err })
    }
  })
  return { names, authors: keys }
}

async function * read (src: ReaderSource, opts: ReadOptions, filter: ReadFilter | undefined, now: number | undefined, closedAtStart: boolean): AsyncGenerator<Event> {
  let log: Log
  try {
    log = await src.log(opts.signal)
  } catch (err) {
    // a reader made before close() ends at close(), even before its first read
    if (opts.signal?.aborted === true || (src.closed() && !closedAtStart)) return
    throw err
  }
  const schema = src.schema
  let pos: number
  const saved = opts.cursor != null ? await log.getCursor(opts.cursor) : 0
  if (saved > 0) pos = saved
  else if (opts.from === 'beginning') pos = 0
  else if (typeof opts.from === 'number') pos = opts.from
  else pos = now ?? src.openedAt()
  let savedPos = saved
  // the event last yielded: a consumer that ends the iteration (break) took it
  let inHand = pos
  // with a filter: the feed position up to which the reader looked (events
  // it skipped are past `pos`, the last one taken)
  let scanned = pos
  const save = async (): Promise<void> => {
    if (opts.cursor != null && pos !== savedPos && !log.closed) {
      savedPos = pos
      await log.setCursor(opts.cursor, pos)
    }
  }
  // Retention dropped what this reader was to read next, up to `floor`: it
  // says so, and goes on from there (a cursor is saved there).
  const behind = (floor: number): void => {
    const notice: FloorNotice = { ...(opts.cursor != null ? { cursor: opts.cursor } : {}), from: Math.max(pos, scanned) + 1, to: floor }
    pos = Math.max(pos, floor)
    scanned = Math.max(scanned, floor)
    inHand = Math.max(inHand, floor)
    opts.onFloor?.(notice)
    src.floor?.(notice)
  }
  try {
    while (!src.closed() && opts.signal?.aborted !== true) {
      if (Math.max(pos, scanned) < log.floor) behind(log.floor)
      let chunk: LogEntry[] = []
      if (filter == null) {
        if (pos < log.length) chunk = await log.read(pos + 1, READ_CHUNK)
      } else if (scanned < log.length) {
        const found = await log.readWhere(filter, scanned, READ_CHUNK)
        scanned = found.scanned
        chunk = found.entries
        // nothing of the filter's in that stretch: look further
        if (chunk.length === 0 && scanned < log.length) continue
      }
      if (chunk.length === 0) {
        await save()
        if (opts.live === false) return
        await src.changed(opts.signal)
        continue
      }
      // a read that a compaction overtook starts past where it was asked to
      if (filter == null && chunk[0].seq > pos + 1) behind(chunk[0].seq - 1)
      for (const e of chunk) {
        inHand = e.seq
        yield toEvent(schema, e)
        // the consumer asked for the next one: it is done with this one
        pos = e.seq
      }
      await save()
    }
  } finally {
    pos = Math.max(pos, inHand)
    await save().catch(() => {})
  }
}

/**
 * A Node Duplex in object mode: reads `{ name, payload }` events (and
 * `{ name, payload, unknown: true }` for the events the schema does not
 * define, their payload the raw bytes), and emits every `{ name, payload }`
 * written to it (`{ name, payload, key }` with an emit key).
 */
export class EventStream extends Duplex {
  readonly #iterator: AsyncGenerator<Event>
  readonly #emit: (name: string, payload: unknown, key: string | undefined) => Promise<unknown>
  readonly #abort = new AbortController()
  #reading = false

  constructor (src: ReaderSource, emit: (name: string, payload: unknown, key: string | undefined) => Promise<unknown>, opts: ReadOptions = {}) {
    super({ objectMode: true, highWaterMark: 64 })
    this.#iterator = readEvents(src, {
      ...opts,
      signal: this.#abort.signal,
      // the stream says so too: stream.on('floor', notice => ...)
      onFloor: notice => { opts.onFloor?.(notice); this.emit('floor', notice) }
    })
    this.#emit = emit
  }

  override _read (): void {
    if (this.#reading) return
    this.#reading = true
    // not awaited: #pull never rejects, an error destroys the stream
    void this.#pull()
  }

  async #pull (): Promise<void> {
    try {
      while (true) {
        const next = await this.#iterator.next()
        if (next.done === true) { this.push(null); return }
        const { name, payload, unknown } = next.value
        if (!this.push(unknown === true ? { name, payload, unknown } : { name, payload })) return
      }
    } catch (err) {
      this.destroy(err as Error)
    } finally {
      this.#reading = false
    }
  }

  override _write (chunk: { name?: unknown, payload?: unknown, key?: unknown }, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (chunk == null || typeof chunk.name !== 'string') {
      cb(new TypeError('write { name, payload } objects'))
      return
    }
    this.#emit(chunk.name, chunk.payload ?? {}, chunk.key as string | undefined).then(() => { cb() }, cb)
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    this.#abort.abort()
    this.#iterator.return(undefined).then(() => { cb(err) }, () => { cb(err) })
  }
}
