// Reading an entry's bytes (`readEntry`): every entry from the network, the
// write-ahead file and the db is read here, with as few objects per entry as
// can be (entries in flight are what V8's scavenges copy).
import type { Entry } from '../pb/entry.js'
import { EMPTY, equalBytes } from './bytes.js'

/** Most links (parents besides prev) one entry may carry; heads merge quickly. */
export const MAX_LINKS = 64

const EMPTY_TEXT = ''
const NO_LINKS: Array<Uint8Array<ArrayBuffer>> = Object.freeze([]) as unknown as Array<Uint8Array<ArrayBuffer>>
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
// entries come in runs of one event name: the last one's string is reused
let lastName: { bytes: Uint8Array, text: string } = { bytes: EMPTY, text: EMPTY_TEXT }

function readName (bytes: Uint8Array): string {
  if (!equalBytes(bytes, lastName.bytes)) {
    // invalid UTF-8 throws: no name that two decoders could read apart
    lastName = { bytes: bytes.slice(), text: utf8.decode(bytes) }
  }
  return lastName.text
}

/**
 * Reads an entry: what `Entry.decode` (protons) reads from the bytes
 * `encodeEntry` writes (a test holds them equal), with no intermediate
 * objects, and stricter (protocols/README.md §3): a known field of the wrong
 * wire type, a varint not in its shortest form or over 2^53, a tag over 32
 * bits, a group, a name that is not UTF-8, more than MAX_LINKS links, or
 * bytes past the end throw. Bytes fields are views into `bytes`, but for a
 * prev equal to `prevId`, which is taken instead (in a chain, the id of the
 * entry read just before). Every entry from the network is read here.
 */
export function readEntry (bytes: Uint8Array, prevId: Uint8Array<ArrayBuffer> = EMPTY): Entry {
  const r = reader
  r.bytes = bytes
  r.at = 0
  r.end = bytes.byteLength
  r.prevId = prevId
  try {
    return readFields(r, bytes.buffer as ArrayBuffer, bytes.byteOffset)
  } finally {
    // the reader is shared: it must not keep the last entry's bytes alive
    r.bytes = EMPTY
    r.prevId = EMPTY
  }
}

// Where readEntry is in the bytes it reads: one, shared by every call (a
// read never starts another), so that a read makes no closures.
class Reader {
  bytes: Uint8Array = EMPTY
  at = 0
  end = 0
  prevId: Uint8Array<ArrayBuffer> = EMPTY
}
const reader = new Reader()

// The wire type of each known field, by number: 0 a varint, 2 length-delimited.
// (A table, not a test per field: in a log where one entry in a thousand is
// signed, V8 optimizes the reader before it meets a signature, and code it
// has never run costs the optimized reader a deopt when it first runs.)
const ANY = -1
const WIRE_TYPES = [ANY, 2, 0, 2, 2, 0, 0, 2, 2, ANY, ANY, ANY, ANY, ANY, ANY, 2]

function readFields (r: Reader, buffer: ArrayBuffer, base: number): Entry {
  let author = EMPTY
  let seq = 0
  let prev = EMPTY
  // most entries link none: their links share one empty array, never written to
  let links = NO_LINKS
  let clock = 0
  let timestamp = 0
  let name = EMPTY_TEXT
  // where the payload lies: its view is made when it is asked for
  let payloadAt = 0
  let payloadLength = 0
  let signature = EMPTY
  while (r.at < r.end) {
    const tag = readVarint(r)
    // field numbers stop at 2^29 - 1: a tag is a uint32
    if (tag > 0xffffffff) throw new RangeError('a tag over 32 bits')
    const wireType = tag & 7
    const number = Math.floor(tag / 8)
    const expected = number < WIRE_TYPES.length ? WIRE_TYPES[number] : ANY
    if (expected !== ANY && wireType !== expected) throw new RangeError(`field ${number} has wire type ${wireType}`)
    switch (number) {
      case 1: author = readAuthor(r); break
      case 2: seq = readVarint(r); break
      case 3: prev = readPrev(r, buffer, base); break
      case 4:
        if (links.length >= MAX_LINKS) throw new RangeError(`more than ${MAX_LINKS} links`)
        if (links === NO_LINKS) links = []
        links.push(readField(r, buffer, base))
        break
      case 5: clock = readVarint(r); break
      case 6: timestamp = readVarint(r); break
      case 7:
      case 15: {
        // one call for both: a call first made for the first signed entry would cost a deopt
        const field = readField(r, buffer, base)
        if (number === 7) name = readName(field)
        else signature = field
        break
      }
      case 8:
        payloadLength = fieldLength(r)
        payloadAt = base + r.at
        r.at += payloadLength
        break
      default:
        // an unknown field is skipped, as protobuf does
        if (wireType === 0) readVarint(r)
        else if (wireType === 2) readField(r, buffer, base)
        else if (wireType === 1 || wireType === 5) {
          const size = wireType === 1 ? 8 : 4
          if (size > r.end - r.at) throw new RangeError('a field runs past the end')
          r.at += size
        } else throw new RangeError(`wire type ${wireType}`)
    }
  }
  return new ReadEntry(author, seq, prev, links, clock, timestamp, name, buffer, payloadAt, payloadLength, signature)
}

function readVarint (r: Reader): number {
  const bytes = r.bytes
  let value = 0
  let scale = 1
  for (let i = 0; i < 8; i++) {
    if (r.at >= r.end) throw new RangeError('a varint runs past the end')
    const byte = bytes[r.at++]
    value += (byte & 0x7f) * scale
    if (byte < 0x80) {
      if (byte === 0 && i > 0) throw new RangeError('a varint is not in its shortest form')
      if (value > Number.MAX_SAFE_INTEGER) throw new RangeError('a varint is over 2^53')
      return value
    }
    scale *= 128
  }
  throw new RangeError('a varint is over 2^53')
}

// Entries come in runs of one author: the run's entries share one copy of
// its key, not a view each (entries in flight are what V8's scavenges copy).
let lastAuthor: Uint8Array<ArrayBuffer> = EMPTY

function readAuthor (r: Reader): Uint8Array<ArrayBuffer> {
  const length = fieldLength(r)
  const bytes = r.bytes
  const at = r.at
  r.at += length
  let same = length === lastAuthor.byteLength
  for (let i = 0; same && i < length; i++) same = bytes[at + i] === lastAuthor[i]
  // a copy (of a view, never a Buffer slice, which shares memory): it outlives the bytes
  if (!same) lastAuthor = new Uint8Array(bytes.subarray(at, at + length))
  return lastAuthor
}

// The length of a length-delimited field, which must lie within the entry.
function fieldLength (r: Reader): number {
  const length = readVarint(r)
  if (length > r.end - r.at) throw new RangeError('a field runs past the end')
  return length
}

// The prev field: r.prevId when the bytes are the same, else a view.
function readPrev (r: Reader, buffer: ArrayBuffer, base: number): Uint8Array<ArrayBuffer> {
  const known = r.prevId
  const length = fieldLength(r)
  const bytes = r.bytes
  const at = r.at
  // worked out whether or not it is needed: in a chain V8 optimizes this
  // before it meets a prev that differs, and code never run costs a deopt
  const offset = base + at
  let same = length === known.byteLength
  for (let i = length - 1; same && i >= 0; i--) same = bytes[at + i] === known[i]
  r.at += length
  return same ? known : new Uint8Array(buffer, offset, length)
}

// A length-delimited field's bytes, as a view into the entry's buffer.
function readField (r: Reader, buffer: ArrayBuffer, base: number): Uint8Array<ArrayBuffer> {
  const length = fieldLength(r)
  const view = new Uint8Array(buffer, base + r.at, length)
  r.at += length
  return view
}

// Per-entry records are class instances, not object literals: V8 moves an
// object literal's allocation site to the old generation ("pretenuring")
// once its objects often outlive a scavenge, as entries in flight do, and the
// old generation then fills with dead entries until a full GC.
//
// The payload is kept as where it lies in the entry's buffer, and made a view
// when asked for: an entry from a peer is asked for it once, by the check of
// its event, and entries in flight are what scavenges copy.
class ReadEntry implements Entry {
  readonly #buffer: ArrayBuffer
  readonly #payloadAt: number
  readonly #payloadLength: number

  constructor (
    public author: Uint8Array<ArrayBuffer>,
    public seq: number,
    public prev: Uint8Array<ArrayBuffer>,
    public links: Array<Uint8Array<ArrayBuffer>>,
    public clock: number,
    public timestamp: number,
    public name: string,
    buffer: ArrayBuffer,
    payloadAt: number,
    payloadLength: number,
    public signature: Uint8Array<ArrayBuffer>
  ) {
    this.#buffer = buffer
    this.#payloadAt = payloadAt
    this.#payloadLength = payloadLength
  }

  get payload (): Uint8Array<ArrayBuffer> {
    return this.#payloadLength === 0 ? EMPTY : new Uint8Array(this.#buffer, this.#payloadAt, this.#payloadLength)
  }
}
