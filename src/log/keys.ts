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

export function writeSeq (out: Uint8Array, seq: number, at: number): void {
  writeU32(out, at, Math.floor(seq / HIGH))
  writeU32(out, at + 4, seq % HIGH)
}

/**
 * A 32-bit big-endian number, byte by byte: Buffer's writeUInt32BE checks
 * its arguments on every call, and a commit writes a few per entry.
 */
export function writeU32 (out: Uint8Array, at: number, n: number): void {
  out[at] = n >>> 24
  out[at + 1] = n >>> 16
  out[at + 2] = n >>> 8
  out[at + 3] = n
}

export function readSeq (b: Uint8Array): number {
  if (b.byteLength < 8) throw new StorageError('damaged record: a position or seq of fewer than 8 bytes')
  // by hand, not through a Buffer view: a read of the feed does this per entry
  const high = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0
  const low = ((b[4] << 24) | (b[5] << 16) | (b[6] << 8) | b[7]) >>> 0
  return high * HIGH + low
}

// A feed item is an entry's id (ID_LENGTH bytes), then its bytes. A feed
// record holds the items of consecutive positions (packRecords): a read of
// the feed from a position is one ordered scan, with no lookup per entry.

/**
 * Most entries of one feed record (layout version 3): a record holds the
 * entries of consecutive feed positions of one block of this many, keyed
 * by the first.
 */
export const PACK_ENTRIES = 16
/** A record takes no further entry once it holds this many bytes. */
export const PACK_BYTES = 64 * 1024

/**
 * The first position of the block of PACK_ENTRIES positions that holds
 * `seq`: no record crosses into the next block, so the record that holds a
 * position starts at the block's start, unless a commit (or a floor)
 * began a record later in the block.
 */
export function blockStart (seq: number): number {
  return seq - ((seq - 1) % PACK_ENTRIES)
}

/**
 * A feed record's value (version 3): for each entry, in feed order, the
 * length of its item (u32) and the item (the entry's id, then its bytes).
 */
export function packFeed (items: Uint8Array[]): Buffer {
  return packItems(items.map(item => ({ seq: 0, id: item })), 0, items.length)
}

/**
 * A feed item to pack: its position, and its bytes as one part (`id`) or
 * two (an entry's id, then its bytes: written with no copy made first). A
 * stored entry is one.
 */
export interface FeedItem {
  readonly seq: number
  readonly id: Uint8Array
  readonly bytes?: Uint8Array
}

/**
 * The feed records (key, value) of `items` (positions ascending): a record
 * holds consecutive positions of one block (see blockStart), so at most
 * PACK_ENTRIES of them, and takes no further item once it has PACK_BYTES.
 */
export function packRecords (items: FeedItem[]): Array<[Buffer, Buffer]> {
  const out: Array<[Buffer, Buffer]> = []
  let first = 0
  let bytes = 0
  for (let i = 0; i < items.length; i++) {
    const seq = items[i].seq
    const start = items[first].seq
    if (i > first && (seq !== start + i - first || blockStart(seq) === seq || bytes >= PACK_BYTES)) {
      out.push([seqKey(start), packItems(items, first, i)])
      first = i
      bytes = 0
    }
    bytes += itemLength(items[i])
  }
  if (items.length > first) out.push([seqKey(items[first].seq), packItems(items, first, items.length)])
  return out
}

function itemLength (item: FeedItem): number {
  return item.id.byteLength + (item.bytes?.byteLength ?? 0)
}

// The record value of items[from] to items[to - 1].
function packItems (items: FeedItem[], from: number, to: number): Buffer {
  let size = 0
  for (let i = from; i < to; i++) size += 4 + itemLength(items[i])
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = from; i < to; i++) {
    const { id: head, bytes: tail } = items[i]
    writeU32(out, at, itemLength(items[i]))
    out.set(head, at + 4)
    at += 4 + head.byteLength
    if (tail != null) {
      out.set(tail, at)
      at += tail.byteLength
    }
  }
  return out
}

/**
 * Where each item of the feed record at `start` lies in `value`: the offset
 * of its length, in order (no view is made). A record that does not split
 * into whole items is a damaged db.
 */
export function feedOffsets (start: number, value: Buffer): number[] {
  const out: number[] = []
  for (let at = 0; at < value.byteLength; at += 4 + storedItemLength(start, value, at)) out.push(at)
  return out
}

// The length of the item whose length field is at `at` in the feed record
// at `start`; one that runs past the record's end is a damaged db.
function storedItemLength (start: number, value: Buffer, at: number): number {
  const length = at + 4 <= value.byteLength ? value.readUInt32BE(at) : -1
  if (length < 0 || at + 4 + length > value.byteLength) throw new StorageError(`the feed record at position ${start} is cut short: the db is damaged`)
  return length
}

/** The item at `offset` of a feed record's value (see feedOffsets): a view. */
export function feedItemAt (value: Buffer, offset: number): Buffer {
  return value.subarray(offset + 4, offset + 4 + value.readUInt32BE(offset))
}

/**
 * Calls `each` with the position and item (a view of `value`: the id,
 * then the bytes) of each entry of the feed record at `start`, in
 * order, until it returns false. A record that does not split into whole
 * items is a damaged db.
 */
export function unpackFeed (start: number, value: Buffer, each: (seq: number, item: Buffer) => boolean | void): void {
  const offsets = feedOffsets(start, value)
  for (let i = 0; i < offsets.length; i++) if (each(start + i, feedItemAt(value, offsets[i])) === false) return
}

/** The last position of the feed record at `start`. */
export function feedRecordEnd (start: number, value: Buffer): number {
  return start + feedOffsets(start, value).length - 1
}

/**
 * The value of the feed record at `start` without its entries before
 * position `from` (a view), or undefined if it holds none from there.
 */
export function feedRecordFrom (start: number, value: Buffer, from: number): Buffer | undefined {
  const offsets = feedOffsets(start, value)
  const i = Math.max(0, from - start)
  return i < offsets.length ? value.subarray(offsets[i]) : undefined
}

// A feed item's parts are plain views of it, made directly and
// with no object around them: a read of the feed takes them per entry.

/** The entry bytes in the feed item at position `seq`; an item too short for them is a damaged db. */
export function feedBytes (value: Buffer, seq: number): Uint8Array<ArrayBuffer> {
  if (value.byteLength <= ID_LENGTH) throw new StorageError(`feed position ${seq} is too short to hold an entry: the db is damaged`)
  return new Uint8Array(value.buffer as ArrayBuffer, value.byteOffset + ID_LENGTH, value.byteLength - ID_LENGTH)
}

/**
 * Pushes to `out` the bytes of the entries at positions `from` to `to` that
 * the feed record at `start` holds (views of `value`, no view of each item
 * made on the way). A record that does not split into whole items is a
 * damaged db.
 */
export function pushFeedBytes (start: number, value: Buffer, from: number, to: number, out: Uint8Array[]): void {
  let at = 0
  for (let seq = start; at < value.byteLength && seq <= to; seq++) {
    const length = storedItemLength(start, value, at)
    if (seq >= from) {
      if (length <= ID_LENGTH) throw new StorageError(`feed position ${seq} is too short to hold an entry: the db is damaged`)
      out.push(new Uint8Array(value.buffer as ArrayBuffer, value.byteOffset + at + 4 + ID_LENGTH, length - ID_LENGTH))
    }
    at += 4 + length
  }
}

/** The entry id in a feed item (one that `feedBytes` took). */
export function feedId (value: Buffer): Uint8Array<ArrayBuffer> {
  return new Uint8Array(value.buffer as ArrayBuffer, value.byteOffset, ID_LENGTH)
}

/** The length of an id record's value. */
export const ID_VALUE_LENGTH = 16

/** An id record's value: the entry's feed position, then its Lamport clock (8 bytes each). */
export function idValue (seq: number, clock: number): Buffer {
  const out = Buffer.allocUnsafe(ID_VALUE_LENGTH)
  writeIdValue(out, 0, seq, clock)
  return out
}

/** Writes an id record's value (see idValue) into `out` at `at`. */
export function writeIdValue (out: Buffer, at: number, seq: number, clock: number): void {
  writeSeq(out, seq, at)
  writeSeq(out, clock, at + 8)
}

/** The feed position and clock of an id record's value. */
export function readIdValue (value: Uint8Array): { seq: number, clock: number } {
  if (value.byteLength !== ID_VALUE_LENGTH) throw new StorageError('damaged id record')
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
    public seq: number,
    public feedSeq: number,
    readonly runFirst: number,
    readonly runFeedStart: number,
    public id: Uint8Array<ArrayBuffer>,
    /** Lamport clock of the newest entry */
    public clock: number
  ) {}

  static next (before: AuthorState | undefined, seq: number, feedSeq: number, id: Uint8Array<ArrayBuffer>, clock: number): AuthorState {
    if (before?.extends(seq, feedSeq) === true) {
      return new AuthorState(seq, feedSeq, before.runFirst, before.runFeedStart, id, clock)
    }
    return new AuthorState(seq, feedSeq, seq, feedSeq, id, clock)
  }

  /** Whether the entry of author seq `seq` at feed position `feedSeq` extends this run. */
  extends (seq: number, feedSeq: number): boolean {
    return seq === this.seq + 1 && feedSeq === this.feedSeq + 1
  }

  /**
   * Extends this run by that entry, in place: only for a state no one else
   * holds yet (one a commit being prepared made), see `extends`.
   */
  advance (seq: number, feedSeq: number, id: Uint8Array<ArrayBuffer>, clock: number): void {
    this.seq = seq
    this.feedSeq = feedSeq
    this.id = id
    this.clock = clock
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
export function forNameRuns (entries: ReadonlyArray<{ seq: number, entry: { name: string } }>, run: (name: string, first: number, last: number) => void): void {
  let name: string | undefined
  let first = 0
  let last = 0
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]
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
