import crypto from 'node:crypto'
import { Entry } from '../pb/entry.js'
import { InvalidEntryError } from '../errors.js'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature, type Identity } from './identity.js'

export { Entry }

/** The empty signature of entries that a later signed one covers. */
export const EMPTY: Uint8Array<ArrayBuffer> = new Uint8Array(0)

/** Largest encoded entry accepted, local or remote: bounds every buffer per entry. */
export const MAX_ENTRY_BYTES = 64 * 1024
/** A sha2-256 multihash: 0x12 0x20 and 32 bytes of digest. */
export const ID_LENGTH = 34
/** Most links (parents besides prev) one entry may carry; heads merge quickly. */
export const MAX_LINKS = 64

// field 15, wire type 2, then the length 64: the two bytes before a signature
const SIGNATURE_TAG = (15 << 3) | 2

/** The id of an entry: the sha2-256 multihash of its exact bytes. */
export function entryId (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  // from Node's shared pool, as a plain Uint8Array: one ArrayBuffer per id costs more than the hash
  const pooled = Buffer.allocUnsafe(ID_LENGTH)
  const id = new Uint8Array(pooled.buffer, pooled.byteOffset, ID_LENGTH)
  writeId(bytes, id, 0)
  return id
}

/** Writes the id of the entry `bytes` (ID_LENGTH bytes) into `out` at `at`. */
export function writeId (bytes: Uint8Array, out: Uint8Array, at: number): void {
  out[at] = 0x12
  out[at + 1] = 0x20
  if (oneShot == null) {
    out.set(sha256(bytes), at + 2)
    return
  }
  // the digest as a latin1 string, one char a byte: a Buffer digest costs an
  // ArrayBuffer of its own, twice the time of the hash of an entry
  const digest = oneShot('sha256', bytes, 'latin1')
  for (let i = 0; i < 32; i++) out[at + 2 + i] = digest.charCodeAt(i)
}

/** Whether `id` is the id of the entry `bytes`, with no id made. */
export function hasId (bytes: Uint8Array, id: Uint8Array): boolean {
  if (id.byteLength !== ID_LENGTH || id[0] !== 0x12 || id[1] !== 0x20) return false
  if (oneShot == null) return equalBytes(sha256(bytes), id.subarray(2))
  const digest = oneShot('sha256', bytes, 'latin1')
  for (let i = 0; i < 32; i++) if (id[i + 2] !== digest.charCodeAt(i)) return false
  return true
}

/** sha2-256; crypto.hash (Node >= 20.12) skips the Hash object: hashing is per entry */
const oneShot = (crypto as { hash?: <E extends 'buffer' | 'latin1'>(alg: string, data: Uint8Array, enc: E) => E extends 'buffer' ? Buffer : string }).hash
export const sha256 = oneShot != null
  ? (bytes: Uint8Array): Buffer => oneShot('sha256', bytes, 'buffer')
  : (bytes: Uint8Array): Buffer => crypto.createHash('sha256').update(bytes).digest()

export type EntryFields = Omit<Entry, 'signature'> & { signature?: Uint8Array<ArrayBuffer> }

/**
 * Encodes an entry (its `signature` is ignored), signed by `identity` when
 * given. The bytes are those of `Entry.encode` (protons; a test holds them
 * equal), written in one buffer with no intermediate objects.
 */
export function encodeEntry (fields: EntryFields, identity?: Identity): Uint8Array {
  const nameLength = Buffer.byteLength(fields.name ?? '')
  // from Node's shared pool: a new ArrayBuffer per entry costs more than the rest
  const out = Buffer.allocUnsafe(entrySize(fields, nameLength, identity != null))
  // a plain Uint8Array over the buffer: what callers get is what decode gives
  return new Uint8Array(out.buffer, out.byteOffset, writeEntry(fields, nameLength, out, 0, identity))
}

/** The bytes `writeEntry` writes for `fields`, whose name is `nameLength` bytes of UTF-8. */
export function entrySize (fields: EntryFields, nameLength: number, signed: boolean): number {
  let size = 0
  if (fields.author.byteLength > 0) size += 1 + bytesField(fields.author.byteLength)
  if (fields.seq !== 0) size += 1 + varintLength(fields.seq)
  if (fields.prev.byteLength > 0) size += 1 + bytesField(fields.prev.byteLength)
  for (const link of fields.links) size += 1 + bytesField(link.byteLength)
  if (fields.clock !== 0) size += 1 + varintLength(fields.clock)
  if (fields.timestamp !== 0) size += 1 + varintLength(fields.timestamp)
  if (nameLength > 0) size += 1 + bytesField(nameLength)
  if (fields.payload.byteLength > 0) size += 1 + bytesField(fields.payload.byteLength)
  return signed ? size + 2 + SIGNATURE_LENGTH : size
}

/**
 * Writes the bytes of `encodeEntry` into `out` at `at` (room for them is the
 * caller's: `entrySize`, with the same `nameLength`) and returns where they
 * end. Every local event is encoded here, a group of them into one buffer
 * (group.ts).
 */
export function writeEntry (fields: EntryFields, nameLength: number, out: Buffer, at: number, identity?: Identity): number {
  const start = at
  if (fields.author.byteLength > 0) at = writeBytes(out, at, 10, fields.author)
  if (fields.seq !== 0) at = writeNumber(out, at, 16, fields.seq)
  if (fields.prev.byteLength > 0) at = writeBytes(out, at, 26, fields.prev)
  for (const link of fields.links) at = writeBytes(out, at, 34, link)
  if (fields.clock !== 0) at = writeNumber(out, at, 40, fields.clock)
  if (fields.timestamp !== 0) at = writeNumber(out, at, 48, fields.timestamp)
  if (nameLength > 0) {
    out[at++] = 58
    at = writeVarint(out, at, nameLength)
    at += out.write(fields.name, at, 'utf8')
  }
  if (fields.payload.byteLength > 0) at = writeBytes(out, at, 66, fields.payload)
  if (identity == null) return at
  const signature = identity.sign(out.subarray(start, at))
  out[at] = SIGNATURE_TAG
  out[at + 1] = SIGNATURE_LENGTH
  out.set(signature, at + 2)
  return at + 2 + SIGNATURE_LENGTH
}

// A length-delimited field at `at`; returns where it ends. (Functions of
// their own, not closures made per entry.)
function writeBytes (out: Buffer, at: number, tag: number, value: Uint8Array): number {
  out[at++] = tag
  at = writeVarint(out, at, value.byteLength)
  out.set(value, at)
  return at + value.byteLength
}

function writeNumber (out: Buffer, at: number, tag: number, value: number): number {
  out[at++] = tag
  return writeVarint(out, at, value)
}

function bytesField (length: number): number {
  return varintLength(length) + length
}

function varintLength (n: number): number {
  let length = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    length++
  }
  return length
}

// non-negative integers up to 2^53, as protobuf varints
function writeVarint (out: Uint8Array, at: number, n: number): number {
  while (n >= 128) {
    out[at++] = (n % 128) | 128
    n = Math.floor(n / 128)
  }
  out[at++] = n
  return at
}

/** An entry decoded from bytes that passed the structural checks. */
export interface DecodedEntry {
  id: Uint8Array<ArrayBuffer>
  bytes: Uint8Array
  entry: Entry
}

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
 * bytes past the end throw. Bytes fields are views into `bytes`.
 * Every entry from the network is read here.
 */
export function readEntry (bytes: Uint8Array): Entry {
  const r = reader
  r.bytes = bytes
  r.at = 0
  r.end = bytes.byteLength
  try {
    return readFields(r, bytes.buffer as ArrayBuffer, bytes.byteOffset)
  } finally {
    // the reader is shared: it must not keep the last entry's bytes alive
    r.bytes = EMPTY
  }
}

// Where readEntry is in the bytes it reads: one, shared by every call (a
// read never starts another), so that a read makes no closures.
class Reader {
  bytes: Uint8Array = EMPTY
  at = 0
  end = 0
}
const reader = new Reader()

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
    const expected = number === 2 || number === 5 || number === 6 ? 0 : 2
    if (number >= 1 && number <= 8 || number === 15) {
      if (wireType !== expected) throw new RangeError(`field ${number} has wire type ${wireType}`)
    }
    switch (number) {
      case 1: author = readAuthor(r); break
      case 2: seq = readVarint(r); break
      case 3: prev = readField(r, buffer, base); break
      case 4:
        if (links.length >= MAX_LINKS) throw new RangeError(`more than ${MAX_LINKS} links`)
        if (links === NO_LINKS) links = []
        links.push(readField(r, buffer, base))
        break
      case 5: clock = readVarint(r); break
      case 6: timestamp = readVarint(r); break
      case 7: name = readName(readField(r, buffer, base)); break
      case 8:
        payloadLength = fieldLength(r)
        payloadAt = base + r.at
        r.at += payloadLength
        break
      case 15: signature = readField(r, buffer, base); break
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

export class Decoded implements DecodedEntry {
  constructor (readonly id: Uint8Array<ArrayBuffer>, readonly bytes: Uint8Array, readonly entry: Entry) {}
}

// the id of the entry decodeEntry decoded last: the next one's prev, in a chain
let lastId: Uint8Array<ArrayBuffer> = EMPTY

/**
 * Decodes `bytes` and checks everything that needs no other entry: size,
 * field shapes, and (when present) the signature. Throws InvalidEntryError.
 * `options.id`: the entry's id, already checked (`hasId`), taken instead of
 * hashing the bytes again.
 */
export function decodeEntry (bytes: Uint8Array, options: { verify?: boolean, id?: Uint8Array<ArrayBuffer> } = {}): DecodedEntry {
  if (bytes.byteLength > MAX_ENTRY_BYTES) throw new InvalidEntryError(`entry of ${bytes.byteLength} bytes is over the ${MAX_ENTRY_BYTES} limit`)
  let entry: Entry
  try {
    entry = readEntry(bytes)
  } catch (err) {
    throw new InvalidEntryError(`entry does not decode: ${(err as Error).message}`)
  }
  if (entry.author.byteLength !== PUBLIC_KEY_LENGTH) throw new InvalidEntryError('entry author is not a 32-byte Ed25519 key')
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 1) throw new InvalidEntryError('entry seq must be a positive integer')
  if (!Number.isSafeInteger(entry.clock) || entry.clock < 1) throw new InvalidEntryError('entry clock must be a positive integer')
  if (entry.seq === 1 ? entry.prev.byteLength !== 0 : !isId(entry.prev)) throw new InvalidEntryError('entry prev does not match its seq')
  for (const link of entry.links) {
    if (!isId(link)) throw new InvalidEntryError('entry link is not a sha2-256 multihash')
  }
  if (entry.name.length === 0) throw new InvalidEntryError('entry has no event name')
  const id = options.id ?? entryId(bytes)
  if (options.verify !== false) verifyEntry({ id, bytes, entry })
  // in a chain, prev is the id of the entry decoded just before: that id
  // serves for both, one view fewer per entry
  if (entry.prev.byteLength > 0 && equalBytes(entry.prev, lastId)) entry.prev = lastId
  lastId = id
  return new Decoded(id, bytes, entry)
}


/** Checks the signature of a decoded entry, if it has one. Throws InvalidEntryError. */
export function verifyEntry ({ bytes, entry }: DecodedEntry): void {
  if (entry.signature.byteLength !== 0) {
    const end = bytes.byteLength - SIGNATURE_LENGTH - 2
    if (entry.signature.byteLength !== SIGNATURE_LENGTH || bytes[end] !== SIGNATURE_TAG || bytes[end + 1] !== SIGNATURE_LENGTH) {
      throw new InvalidEntryError('entry signature is not its last field')
    }
    if (!verifySignature(entry.author, bytes.subarray(0, end), entry.signature)) {
      throw new InvalidEntryError('entry signature does not verify')
    }
  }
}

/** Whether the `i`th id of `a` and the `j`th of `b` (ids of ID_LENGTH bytes laid end to end) are the same. */
export function sameIdAt (a: Uint8Array, i: number, b: Uint8Array, j: number): boolean {
  const at = i * ID_LENGTH
  const bt = j * ID_LENGTH
  for (let k = ID_LENGTH - 1; k >= 0; k--) if (a[at + k] !== b[bt + k]) return false
  return true
}

/** Whether the entry `bytes` ends with a signature field (a quick look: `verifyEntry` checks it). */
export function endsSigned (bytes: Uint8Array): boolean {
  const end = bytes.byteLength - SIGNATURE_LENGTH - 2
  return end > 0 && bytes[end] === SIGNATURE_TAG && bytes[end + 1] === SIGNATURE_LENGTH
}

function isId (bytes: Uint8Array): boolean {
  return bytes.byteLength === ID_LENGTH && bytes[0] === 0x12 && bytes[1] === 0x20
}

/** An author's newest entry: its seq, id and clock. */
export interface Head {
  seq: number
  id: Uint8Array
  clock: number
}

/** The head of an author with no entry yet. */
export const NO_HEAD: Head = { seq: 0, id: EMPTY, clock: 0 }

/** Whether `entry` is the next in its author's chain after `head`. */
export function follows (entry: Entry, head: Head): boolean {
  return entry.seq === head.seq + 1 && equalBytes(entry.prev, head.id)
}

/** Whether two byte arrays hold the same bytes. */
export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true
  // byteLength read once: Buffers and Uint8Arrays both come here, and the
  // getter is slow where its call site sees both
  const length = a.byteLength
  if (length !== b.byteLength) return false
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false
  return true
}

/**
 * Hex of entries' authors, one after another: runs of one author are the
 * rule, so the hex of the last one is kept.
 */
export function authorHex (): (author: Uint8Array) => string {
  let last: Uint8Array | undefined
  let hex = ''
  return (author) => {
    if (last == null || !equalBytes(last, author)) {
      last = author
      hex = toHex(author)
    }
    return hex
  }
}

export function toHex (bytes: Uint8Array): string {
  // Buffer's own hex writer takes any Uint8Array: no Buffer view per call
  return hexSlice.call(bytes, 0, bytes.byteLength)
}

const hexSlice = (Buffer.prototype as unknown as { hexSlice: (this: Uint8Array, start: number, end: number) => string }).hexSlice
