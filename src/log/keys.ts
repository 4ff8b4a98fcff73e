// Binary keys and values of the log's sublevels. Numbers are 8-byte big-endian
// so that level's byte order is numeric order.
import { StorageError } from '../errors.js'
import { ID_LENGTH } from './entry.js'

const HIGH = 2 ** 32
const NO_VALUE = Buffer.alloc(0)

// two 32-bit halves: no BigInt per key (numbers here stay below 2^53)
export function seqKey (seq: number): Buffer {
  const key = Buffer.allocUnsafe(8)
  writeSeq(key, seq, 0)
  return key
}

export function writeSeq (out: Buffer, seq: number, at: number): void {
  out.writeUInt32BE(Math.floor(seq / HIGH), at)
  out.writeUInt32BE(seq % HIGH, at + 4)
}

export function readSeq (b: Uint8Array): number {
  if (b.byteLength < 8) throw new StorageError('damaged record: a position or seq of fewer than 8 bytes')
  // by hand, not through a Buffer view: a read of the feed does this per entry
  const high = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
  const low = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0
  return high * HIGH + low
}

/**
 * A feed record's value: the entry's id (ID_LENGTH bytes), then its bytes.
 * A read of the feed from a position is one ordered scan, with no lookup per
 * entry.
 */
export function feedValue (id: Uint8Array, bytes: Uint8Array): Buffer {
  // a local entry's bytes follow its id in its group's buffer (group.ts)
  if (bytes.buffer === id.buffer && bytes.byteOffset === id.byteOffset + id.byteLength) return Buffer.from(id.buffer, id.byteOffset, id.byteLength + bytes.byteLength)
  const out = Buffer.allocUnsafe(id.byteLength + bytes.byteLength)
  out.set(id, 0)
  out.set(bytes, id.byteLength)
  return out
}

// A feed record's parts are plain views of its value, made directly and
// with no object around them: a read of the feed takes them per entry.

/** The entry bytes in the feed record's value at position `seq`; a value too short for them is a damaged db. */
export function feedBytes (value: Buffer, seq: number): Uint8Array<ArrayBuffer> {
  if (value.byteLength <= ID_LENGTH) throw new StorageError(`feed position ${seq} is too short to hold an entry: the db is damaged`)
  return new Uint8Array(value.buffer as ArrayBuffer, value.byteOffset + ID_LENGTH, value.byteLength - ID_LENGTH)
}

/** The entry id in a feed record's value (one that `feedBytes` took). */
export function feedId (value: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value.buffer as ArrayBuffer, value.byteOffset, ID_LENGTH)
}

/** An id record's value: the entry's feed position, then its Lamport clock (8 bytes each). */
export function idValue (seq: number, clock: number): Buffer {
  const out = Buffer.allocUnsafe(16)
  writeSeq(out, seq, 0)
  writeSeq(out, clock, 8)
  return out
}

/** The feed position and clock of an id record's value. */
export function readIdValue (value: Uint8Array): { seq: number, clock: number } {
  if (value.byteLength !== 16) throw new StorageError('damaged id record')
  return { seq: readSeq(value), clock: readSeq(value.subarray(8)) }
}

/** author (32 bytes) || first seq of the run: runs of one author sort by seq */
export function runKey (author: Uint8Array, firstSeq: number): Buffer {
  const key = Buffer.allocUnsafe(40)
  key.set(author, 0)
  writeSeq(key, firstSeq, 32)
  return key
}

/** A run record's value: last author seq, then the feed position of the first. */
export const RUN_VALUE_LENGTH = 16

/** A run: consecutive author seqs stored at consecutive feed positions. */
export interface Run {
  author: Uint8Array<ArrayBuffer>
  first: number
  last: number
  feedStart: number
}

export function decodeRun (key: Uint8Array, value: Uint8Array): Run {
  return {
    author: new Uint8Array(key.subarray(0, 32)),
    first: readSeq(key.subarray(32)),
    last: readSeq(value),
    feedStart: readSeq(value.subarray(8))
  }
}

/**
 * One author's newest stored entry, and the run it ends, so that one record
 * maps a whole commit group from author seq to feed position.
 */
export class AuthorState {
  constructor (
    readonly seq: number,
    readonly feedSeq: number,
    readonly runFirst: number,
    readonly runFeedStart: number,
    readonly id: Uint8Array<ArrayBuffer>,
    /** Lamport clock of the newest entry */
    readonly clock: number
  ) {}

  static next (before: AuthorState | undefined, seq: number, feedSeq: number, id: Uint8Array<ArrayBuffer>, clock: number): AuthorState {
    if (before != null && seq === before.seq + 1 && feedSeq === before.feedSeq + 1) {
      return new AuthorState(seq, feedSeq, before.runFirst, before.runFeedStart, id, clock)
    }
    return new AuthorState(seq, feedSeq, seq, feedSeq, id, clock)
  }

  /**
   * An author all of whose entries here were dropped, or whose floor was
   * adopted and nothing is stored yet: seq, id and clock are those of the
   * entry before its floor, and its run holds nothing (and has no record).
   */
  static floor (seq: number, id: Uint8Array<ArrayBuffer>, clock: number): AuthorState {
    // feedSeq -1: the next entry never extends this run
    return new AuthorState(seq, -1, seq + 1, 0, id, clock)
  }

  /** Whether the run holds no entry (see `floor`). */
  get empty (): boolean {
    return this.seq < this.runFirst
  }

  /** the value of this state's run record */
  encodeRun (): Buffer {
    const out = Buffer.allocUnsafe(RUN_VALUE_LENGTH)
    writeSeq(out, this.seq, 0)
    writeSeq(out, this.runFeedStart, 8)
    return out
  }
}

/**
 * The start of a name index key: the name's UTF-8 length (u16) and bytes.
 * The length makes no name's keys a range inside another's, whatever
 * characters the names hold (an entry's name is at most MAX_ENTRY_BYTES).
 */
export function namePrefix (name: string): Buffer {
  const length = Buffer.byteLength(name)
  const prefix = Buffer.allocUnsafe(2 + length)
  prefix.writeUInt16BE(length, 0)
  prefix.write(name, 2, 'utf8')
  return prefix
}

/**
 * The value of a name index record, keyed by the first feed position of a
 * run of consecutive positions of one name: empty for a run of one, else
 * the run's last position.
 */
export function nameRunValue (first: number, last: number): Buffer {
  return last === first ? NO_VALUE : seqKey(last)
}

/** The last feed position of a name index record's run, from its first (the key's) and its value. */
export function nameRunLast (first: number, value: Uint8Array): number {
  if (value.byteLength === 0) return first
  const last = value.byteLength === 8 ? readSeq(value) : NaN
  if (!(last > first)) throw new StorageError('damaged name index record')
  return last
}

/** Calls `run` for each run of consecutive feed positions of one name in `entries` (consecutive positions, in order). */
export function forNameRuns (entries: Iterable<{ seq: number, entry: { name: string } }>, run: (name: string, first: number, last: number) => void): void {
  let name: string | undefined
  let first = 0
  let last = 0
  for (const e of entries) {
    if (e.entry.name === name && e.seq === last + 1) {
      last = e.seq
      continue
    }
    if (name !== undefined) run(name, first, last)
    name = e.entry.name
    first = last = e.seq
  }
  if (name !== undefined) run(name, first, last)
}

/** name prefix || feed position: one name's keys sort in feed order */
export function nameKey (prefix: Buffer, seq: number): Buffer {
  const key = Buffer.allocUnsafe(prefix.byteLength + 8)
  prefix.copy(key, 0)
  writeSeq(key, seq, prefix.byteLength)
  return key
}
