// Frames of /hyperemitter/sync/1.0.0 (protocols/README.md §2): each is
// `uvarint(n) ‖ n bytes` of one SyncMessage. Bytes in, frames out, and back:
// no stream here, so that the same code reads a libp2p stream and an
// in-memory pair.
import { Uint8ArrayList } from 'uint8arraylist'
import { SyncMessage } from '../pb/sync.js'
import { RefusedError } from '../errors.js'
import { decodeEntry, endsSigned, endsSignedAt, type DecodedEntry } from '../log/entry.js'
import { bytesFieldLength, varintLength, writeBytes, writeVarint } from '../log/bytes.js'
import { CONTEXT_PER_ENTRY, MAX_FRAME_BYTES, MAX_BATCH_ENTRIES, MAX_CONTEXT, MAX_FEATURES, MAX_HAVE, REFUSE } from './constants.js'

/** Bytes of the longest frame length prefix: the varint of MAX_FRAME_BYTES. */
export const MAX_PREFIX_BYTES = 3

/**
 * Decode limits of a session's first frame: a Hello of at most MAX_HAVE
 * authors and MAX_FEATURES features. (Any other frame is refused there once
 * decoded, but is not decoded past the limits of SESSION_LIMITS either.)
 */
export const HANDSHAKE_LIMITS = {
  limits: {
    hello: { have: MAX_HAVE, features: MAX_FEATURES },
    entries: { entries: MAX_BATCH_ENTRIES, context: MAX_CONTEXT },
    prune: { authors: MAX_HAVE },
    graft: { have: MAX_HAVE },
    ihave: { have: MAX_HAVE }
  }
} as const

/**
 * Decode limits after the handshake: a second Hello may carry no vector and
 * no features, Entries at most MAX_BATCH_ENTRIES, Prune, Graft and IHave at
 * most MAX_HAVE authors. Past a limit the frame does not decode: a PROTOCOL
 * error.
 */
export const SESSION_LIMITS = {
  limits: {
    entries: { entries: MAX_BATCH_ENTRIES, context: MAX_CONTEXT },
    hello: { have: 0, features: 0 },
    prune: { authors: MAX_HAVE },
    graft: { have: MAX_HAVE },
    ihave: { have: MAX_HAVE }
  }
} as const

/** The peer's first frame, decoded within HANDSHAKE_LIMITS; throws on bytes that do not decode. */
export function decodeFirst (frame: Uint8Array | Uint8ArrayList): SyncMessage {
  return SyncMessage.decode(frame, HANDSHAKE_LIMITS)
}

/** A frame after the handshake, decoded within SESSION_LIMITS; throws on bytes that do not decode. */
export function decodeFrame (frame: Uint8Array | Uint8ArrayList): SyncMessage {
  return SyncMessage.decode(frame, SESSION_LIMITS)
}

/** The Ack of one Entries frame, which goes for every frame: its bytes are made once. */
export const ACK_ONE: SyncMessage = Object.freeze({ ack: Object.freeze({ batches: 1 }) })
const ACK_ONE_BYTES = SyncMessage.encode(ACK_ONE)

/** One message as it goes on the wire: its length prefix and its bytes. */
export function encodeFrame (msg: SyncMessage): Uint8ArrayList {
  const body = msg === ACK_ONE ? ACK_ONE_BYTES : SyncMessage.encode(msg)
  return new Uint8ArrayList(varint(body.byteLength), body)
}

/**
 * The frame of an Entries message: the bytes encodeFrame makes of
 * `{ entries: { entries, context } }`, written into one buffer. Protons makes
 * two objects per entry on the way; a catch-up's sender made over 7,000 for
 * each frame of 3,800 entries, for its GC to collect.
 */
export function encodeEntriesFrame (entries: Uint8Array[], context: Uint8Array[]): Uint8ArrayList {
  let inner = 0
  for (let i = 0; i < entries.length; i++) inner += bytesFieldLength(entries[i].byteLength)
  for (let i = 0; i < context.length; i++) inner += bytesFieldLength(context[i].byteLength)
  const body = bytesFieldLength(inner)
  const out = new Uint8Array(varintLength(body) + body)
  let at = writeVarint(out, 0, body)
  out[at++] = ENTRIES_FIELD
  at = writeVarint(out, at, inner)
  for (let i = 0; i < entries.length; i++) at = writeBytes(out, at, ENTRY_FIELD, entries[i])
  for (let i = 0; i < context.length; i++) at = writeBytes(out, at, CONTEXT_FIELD, context[i])
  return new Uint8ArrayList(out)
}

// Tags (field number << 3 | 2, length-delimited) of SyncMessage.entries and
// of Entries.entries and Entries.context (protocols/sync.proto).
const ENTRIES_FIELD = (2 << 3) | 2
const ENTRY_FIELD = (1 << 3) | 2
const CONTEXT_FIELD = (2 << 3) | 2

function varint (n: number): Uint8Array {
  const out = new Uint8Array(varintLength(n))
  writeVarint(out, 0, n)
  return out
}

/** Why bytes are not a frame: a length prefix over MAX_PREFIX_BYTES, or a length over MAX_FRAME_BYTES. */
export class FrameError extends Error {
  readonly kind: 'prefix' | 'size'
  constructor (message: string, kind: 'prefix' | 'size') {
    super(message)
    this.name = 'FrameError'
    this.kind = kind
  }
}

/**
 * Cuts a byte stream into frames. It reads at most MAX_PREFIX_BYTES of a
 * length prefix and refuses a length over MAX_FRAME_BYTES as soon as the
 * prefix is in, so a peer that sends 0x80 forever, or announces a huge frame,
 * costs nothing. A frame that lies in one chunk is a view into it.
 *
 * Every frame is a plain Uint8Array: one that lies in one chunk of the
 * socket's would be a Buffer, and the others not. Entries are views into
 * their frame, and code V8 optimized for one kind of view is thrown away
 * when the other comes (an Entries frame that fitted one chunk did so in a
 * catch-up, for a second compile of the receiver's hottest functions).
 */
export class FrameReader {
  readonly #buf = new Uint8ArrayList()
  /** the prefix and body lengths of the frame being read, once its prefix is in */
  #prefix = 0
  #length = -1

  /** Bytes held: the start of a frame not complete yet. */
  get buffered (): number {
    return this.#buf.byteLength
  }

  push (bytes: Uint8Array | Uint8ArrayList): void {
    if (bytes.byteLength > 0) this.#buf.append(bytes)
  }

  /** The next whole frame (without its prefix), or undefined until more bytes come. Throws FrameError. */
  next (): Uint8Array | undefined {
    if (this.#length < 0 && !this.#readPrefix()) return undefined
    const end = this.#prefix + this.#length
    if (this.#buf.byteLength < end) return undefined
    const frame = this.#buf.subarray(this.#prefix, end)
    this.#buf.consume(end)
    this.#length = -1
    return plainView(frame)
  }

  #readPrefix (): boolean {
    const buf = this.#buf
    let value = 0
    for (let i = 0; i < Math.min(buf.byteLength, MAX_PREFIX_BYTES); i++) {
      const b = buf.get(i)
      value += (b & 0x7f) * 2 ** (7 * i)
      if (b < 0x80) {
        if (value > MAX_FRAME_BYTES) throw new FrameError(`a frame of ${value} bytes, over ${MAX_FRAME_BYTES}`, 'size')
        this.#prefix = i + 1
        this.#length = value
        return true
      }
    }
    if (buf.byteLength >= MAX_PREFIX_BYTES) throw new FrameError(`a frame length prefix over ${MAX_PREFIX_BYTES} bytes`, 'prefix')
    return false
  }
}

// A view of `bytes` that is a plain Uint8Array, whatever kind of view it was.
function plainView (bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * The entries of an Entries frame as where they lie in the frame, not a view
 * each: a frame waits for its turn for a few store passes, long enough for
 * V8's scavenges to copy its views from one to the next and then to its old
 * generation. Views are made a part at a time (`slice`). Entries that do not
 * all lie in one buffer are kept as they are.
 */
export class EntryList {
  readonly length: number
  readonly #buffer: ArrayBufferLike | undefined
  /** offset and length of each entry in #buffer */
  readonly #at: Uint32Array | undefined
  readonly #views: Uint8Array[] | undefined

  private constructor (length: number, buffer: ArrayBufferLike | undefined, at: Uint32Array | undefined, views: Uint8Array[] | undefined) {
    this.length = length
    this.#buffer = buffer
    this.#at = at
    this.#views = views
  }

  /** The entries `entries`, views as a frame's decode makes them. */
  static of (entries: Uint8Array[]): EntryList {
    const buffer = entries[0]?.buffer
    if (buffer == null || entries.some(e => e.buffer !== buffer)) return new EntryList(entries.length, undefined, undefined, entries)
    const at = new Uint32Array(entries.length * 2)
    for (let i = 0; i < entries.length; i++) {
      at[2 * i] = entries[i].byteOffset
      at[2 * i + 1] = entries[i].byteLength
    }
    return new EntryList(entries.length, buffer, at, undefined)
  }

  /** The entries that lie in `buffer` at the offsets and lengths `at` (two numbers an entry). */
  static at (buffer: ArrayBufferLike, at: Uint32Array): EntryList {
    return new EntryList(at.length / 2, buffer, at, undefined)
  }

  /** How many of the entries end with a signature field (endsSigned), counted up to `limit`. */
  signed (limit: number): number {
    let n = 0
    const views = this.#views
    if (views != null) {
      for (let i = 0; i < views.length && n < limit; i++) if (endsSigned(views[i])) n++
      return n
    }
    const bytes = new Uint8Array(this.#buffer!)
    const at = this.#at!
    for (let i = 0; i < this.length && n < limit; i++) if (endsSignedAt(bytes, at[2 * i], at[2 * i + 1])) n++
    return n
  }

  /** Entries `from` to `to` (not included), as views. */
  slice (from: number, to = this.length): Uint8Array[] {
    if (this.#views != null) return this.#views.slice(from, to)
    const end = Math.min(to, this.length)
    const out: Uint8Array[] = []
    for (let i = from; i < end; i++) out.push(new Uint8Array(this.#buffer!, this.#at![2 * i], this.#at![2 * i + 1]))
    return out
  }
}

/**
 * The entries of an Entries frame of the form encodeEntriesFrame writes when
 * there is no context (what a catch-up sends), read as where they lie, with
 * no view and no protons object per entry. Undefined for any other frame,
 * and for one not quite of that form (a field of another kind, a varint not
 * in its shortest form, more than MAX_BATCH_ENTRIES entries): decodeFrame
 * reads those, and the entries of every frame read here are what it finds.
 */
export function readEntriesFrame (frame: Uint8Array): EntryList | undefined {
  const end = frame.byteLength
  if (end < 2 || frame[0] !== ENTRIES_FIELD) return undefined
  cursor = 1
  const inner = shortVarint(frame, end)
  if (inner < 0 || cursor + inner !== end) return undefined
  const first = cursor
  // once to check and count, once to note where each entry lies
  let n = 0
  while (cursor < end) {
    if (frame[cursor++] !== ENTRY_FIELD || ++n > MAX_BATCH_ENTRIES) return undefined
    const length = shortVarint(frame, end)
    if (length < 0 || length > end - cursor) return undefined
    cursor += length
  }
  const at = new Uint32Array(2 * n)
  cursor = first
  for (let i = 0; i < n; i++) {
    cursor++
    const length = shortVarint(frame, end)
    at[2 * i] = frame.byteOffset + cursor
    at[2 * i + 1] = length
    cursor += length
  }
  return EntryList.at(frame.buffer, at)
}

// Where shortVarint reads: one, as a read starts no other.
let cursor = 0

// The varint at `cursor` (which moves past it) if it is in its shortest
// form and under 2^28 (any length within a frame), else -1.
function shortVarint (bytes: Uint8Array, end: number): number {
  let value = 0
  for (let shift = 0; shift < 28 && cursor < end; shift += 7) {
    const byte = bytes[cursor++]
    value |= (byte & 0x7f) << shift
    if (byte < 0x80) return byte === 0 && shift > 0 ? -1 : value
  }
  return -1
}

/**
 * The context entries of an Entries frame (protocols/README.md §5.9),
 * decoded: more than CONTEXT_PER_ENTRY per entry, or one that does not
 * decode as an entry, is a PROTOCOL error.
 */
export function readContext (entries: number, context: Uint8Array[]): DecodedEntry[] | undefined {
  if (context.length === 0) return undefined
  if (context.length > entries * CONTEXT_PER_ENTRY) throw new RefusedError(`${context.length} context entries for ${entries} entries`, { refuseCode: REFUSE.PROTOCOL })
  return context.map(bytes => {
    try {
      return decodeEntry(bytes, { verify: false })
    } catch (err) {
      throw new RefusedError(`a context entry: ${(err as Error).message}`, { refuseCode: REFUSE.PROTOCOL })
    }
  })
}
