import crypto from 'node:crypto'
import { Entry } from '../pb/entry.js'
import { InvalidEntryError } from '../errors.js'
import { PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, verifySignature, type Identity } from './identity.js'
import { EMPTY, bytesFieldLength, equalBytes, varintLength, writeBytes, writeVarint } from './bytes.js'
import { readEntry } from './entry-read.js'

export { Entry }
export { EMPTY, authorHex, equalBytes, toHex } from './bytes.js'
export { MAX_LINKS, readEntry } from './entry-read.js'

/** Largest encoded entry accepted, local or remote: bounds every buffer per entry. */
export const MAX_ENTRY_BYTES = 64 * 1024
/** A sha2-256 multihash: 0x12 0x20 and 32 bytes of digest. */
export const ID_LENGTH = 34

// field 15, wire type 2, then the length 64: the two bytes before a signature
const SIGNATURE_TAG = (15 << 3) | 2

/** The id of an entry: the sha2-256 multihash of its exact bytes. */
export function entryId (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const id = newId()
  writeId(bytes, id, 0)
  return id
}

// Ids are views cut from slabs, as Node's Buffer pool cuts small buffers: an
// ArrayBuffer of its own per id costs more than the hash, and a Buffer from
// the pool is one object more per id. A slab lives while one of its ids does.
const SLAB_BYTES = 8192
let slab = new ArrayBuffer(SLAB_BYTES)
let slabAt = 0

/** Room for an id (ID_LENGTH bytes, not yet written): a view of a shared slab. */
export function newId (): Uint8Array<ArrayBuffer> {
  if (slabAt + ID_LENGTH > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES)
    slabAt = 0
  }
  const id = new Uint8Array(slab, slabAt, ID_LENGTH)
  slabAt += ID_LENGTH
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
  if (fields.author.byteLength > 0) size += bytesFieldLength(fields.author.byteLength)
  if (fields.seq !== 0) size += 1 + varintLength(fields.seq)
  if (fields.prev.byteLength > 0) size += bytesFieldLength(fields.prev.byteLength)
  for (const link of fields.links) size += bytesFieldLength(link.byteLength)
  if (fields.clock !== 0) size += 1 + varintLength(fields.clock)
  if (fields.timestamp !== 0) size += 1 + varintLength(fields.timestamp)
  if (nameLength > 0) size += bytesFieldLength(nameLength)
  if (fields.payload.byteLength > 0) size += bytesFieldLength(fields.payload.byteLength)
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

// A varint field at `at`; returns where it ends. (A function of its own,
// not a closure made per entry.)
function writeNumber (out: Buffer, at: number, tag: number, value: number): number {
  out[at++] = tag
  return writeVarint(out, at, value)
}

/** An entry decoded from bytes that passed the structural checks. */
export interface DecodedEntry {
  id: Uint8Array<ArrayBuffer>
  bytes: Uint8Array
  entry: Entry
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
    // in a chain, prev is the id of the entry decoded just before: that id
    // serves for both, one view fewer per entry
    entry = readEntry(bytes, lastId)
  } catch (err) {
    throw new InvalidEntryError(`entry does not decode: ${(err as Error).message}`)
  }
  if (entry.author.byteLength !== PUBLIC_KEY_LENGTH) throw new InvalidEntryError('entry author is not a 32-byte Ed25519 key')
  if (!Number.isSafeInteger(entry.seq) || entry.seq < 1) throw new InvalidEntryError('entry seq must be a positive integer')
  if (!Number.isSafeInteger(entry.clock) || entry.clock < 1) throw new InvalidEntryError('entry clock must be a positive integer')
  if (entry.seq === 1 ? entry.prev.byteLength !== 0 : !isId(entry.prev)) throw new InvalidEntryError('entry prev does not match its seq')
  // by index, as the hot loops of a catch-up are: code V8 has not optimized
  // yet makes an iterator and a result object for each step of a for-of
  for (let i = 0; i < entry.links.length; i++) {
    if (!isId(entry.links[i])) throw new InvalidEntryError('entry link is not a sha2-256 multihash')
  }
  if (entry.name.length === 0) throw new InvalidEntryError('entry has no event name')
  const id = options.id ?? entryId(bytes)
  if (options.verify !== false) verifyEntry({ id, bytes, entry })
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
  return endsSignedAt(bytes, 0, bytes.byteLength)
}

/** endsSigned of the entry of `length` bytes at `at` in `bytes`. */
export function endsSignedAt (bytes: Uint8Array, at: number, length: number): boolean {
  const end = at + length - SIGNATURE_LENGTH - 2
  return end > at && bytes[end] === SIGNATURE_TAG && bytes[end + 1] === SIGNATURE_LENGTH
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
