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
  const id = new Uint8Array(ID_LENGTH)
  id[0] = 0x12
  id[1] = 0x20
  id.set(sha256(bytes), 2)
  return id
}

/** sha2-256; crypto.hash (Node >= 20.12) skips the Hash object: hashing is per entry */
const oneShot = (crypto as { hash?: (alg: string, data: Uint8Array, enc: 'buffer') => Buffer }).hash
export const sha256 = oneShot != null
  ? (bytes: Uint8Array): Buffer => oneShot('sha256', bytes, 'buffer')
  : (bytes: Uint8Array): Buffer => crypto.createHash('sha256').update(bytes).digest()

const NO_SIGNATURE = EMPTY

export type EntryFields = Omit<Entry, 'signature'> & { signature?: Uint8Array<ArrayBuffer> }

/** Encodes an entry (its `signature` is ignored), signed by `identity` when given. */
export function encodeEntry (fields: EntryFields, identity?: Identity): Uint8Array {
  const body = Entry.encode(fields.signature === NO_SIGNATURE ? fields as Entry : { ...fields, signature: NO_SIGNATURE })
  if (identity == null) return body
  const out = new Uint8Array(body.byteLength + 2 + SIGNATURE_LENGTH)
  out.set(body, 0)
  out[body.byteLength] = SIGNATURE_TAG
  out[body.byteLength + 1] = SIGNATURE_LENGTH
  out.set(identity.sign(body), body.byteLength + 2)
  return out
}

/** An entry decoded from bytes that passed the structural checks. */
export interface DecodedEntry {
  id: Uint8Array<ArrayBuffer>
  bytes: Uint8Array
  entry: Entry
}

/**
 * Decodes `bytes` and checks everything that needs no other entry: size,
 * field shapes, and (when present) the signature. Throws InvalidEntryError.
 */
export function decodeEntry (bytes: Uint8Array, options: { verify?: boolean } = {}): DecodedEntry {
  if (bytes.byteLength > MAX_ENTRY_BYTES) throw new InvalidEntryError(`entry of ${bytes.byteLength} bytes is over the ${MAX_ENTRY_BYTES} limit`)
  let entry: Entry
  try {
    entry = Entry.decode(bytes, { limits: { links: MAX_LINKS } })
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
  const id = entryId(bytes)
  if (options.verify !== false) verifyEntry({ id, bytes, entry })
  return { id, bytes, entry }
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
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
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
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
