// Reads of stored entries straight from level. Level may lag the log by the
// commits still in the write-ahead file: callers wait for the flush to reach
// what they read first. A feed record holds the entries of up to
// PACK_ENTRIES consecutive positions, keyed by the first (keys.ts packFeed).
import { StorageError } from '../errors.js'
import { readEntry } from './entry.js'
import { feedBytes, feedId, feedRecordFrom, PACK_ENTRIES, readSeq, seqKey, unpackFeed } from './keys.js'
import { op, type BatchOp } from './level.js'
import type { LogEntry, Sublevels } from './types.js'

type Levels = Pick<Sublevels, 'feed'>

/** The first key at or before which the record holding position `seq` starts. */
function recordFloor (seq: number): Buffer {
  return seqKey(Math.max(1, seq - PACK_ENTRIES + 1))
}

/** Up to `limit` entries of the change feed from position `from` (inclusive). */
export async function readFeed (levels: Levels, from: number, limit: number): Promise<LogEntry[]> {
  from = Math.max(1, from)
  // records many at a time: an iterator's next() per record costs a promise
  // each; nextv gives fewer than asked for once it holds enough bytes
  const it = levels.feed.iterator({ gte: recordFloor(from) })
  const out: LogEntry[] = []
  const take = (seq: number, item: Buffer): boolean => {
    if (seq >= from) out.push(feedEntry(seq, item))
    return out.length < limit
  }
  try {
    while (out.length < limit) {
      const batch = await it.nextv(Math.max(1, Math.min(Math.ceil((limit - out.length) / 16), 256)))
      if (batch.length === 0) break
      for (const [key, value] of batch) {
        unpackFeed(readSeq(key), value, take)
        if (out.length >= limit) break
      }
    }
  } finally {
    await it.close()
  }
  return out
}

/** The entry of a feed item: its position and the item (id and bytes). */
function feedEntry (seq: number, item: Buffer): LogEntry {
  const bytes = feedBytes(item, seq)
  return { seq, id: feedId(item), bytes, entry: readEntry(bytes) }
}

/**
 * The feed items (id and bytes) at the given positions, in their order;
 * undefined where the feed holds none. One iterator, which seeks only where
 * the next position wanted lies past the records it read.
 */
export async function feedItems (levels: Levels, positions: number[]): Promise<Array<Buffer | undefined>> {
  const out = new Array<Buffer | undefined>(positions.length)
  if (positions.length === 0) return out
  const order = positions.map((_, i) => i).sort((a, b) => positions[a] - positions[b])
  const it = levels.feed.iterator()
  // the last record read: its first position and items
  let start = 0
  let items: Buffer[] = []
  let done = false
  try {
    for (const i of order) {
      const seq = positions[i]
      if (!done && seq >= start + items.length) {
        // read on to the record that holds it, after a seek if it lies further
        if (items.length === 0 || seq >= start + items.length + PACK_ENTRIES) it.seek(recordFloor(seq))
        do {
          const next = await it.next()
          items = []
          if (next === undefined) {
            done = true
            break
          }
          start = readSeq(next[0])
          unpackFeed(start, next[1], (_, item) => { items.push(item) })
        } while (seq >= start + items.length)
      }
      out[i] = seq >= start && seq < start + items.length ? items[seq - start] : undefined
    }
  } finally {
    await it.close()
  }
  return out
}

/** The feed items at the given positions; a missing one is a damaged db. */
async function feedValues (levels: Levels, seqs: number[]): Promise<Buffer[]> {
  const values = await feedItems(levels, seqs)
  values.forEach((v, i) => { if (v == null) throw new StorageError(`feed position ${seqs[i]} is missing: the db is damaged`) })
  return values as Buffer[]
}

/** The entries at the given feed positions. */
export async function readAt (levels: Levels, positions: number[]): Promise<LogEntry[]> {
  if (positions.length === 0) return []
  const values = await feedValues(levels, positions)
  return positions.map((seq, i) => feedEntry(seq, values[i]))
}

/** The stored bytes of the entries at the given feed positions. */
export async function readBytes (levels: Levels, seqs: number[]): Promise<Uint8Array[]> {
  return (await feedValues(levels, seqs)).map((v, i) => feedBytes(v, seqs[i]))
}

/**
 * The ops that drop feed positions up to `floor` (the feed starts after
 * `from`): the records that end by it are deleted, and one that holds
 * positions on both sides of it is written again from `floor` + 1.
 */
export async function feedDropOps (levels: Levels, from: number, floor: number): Promise<BatchOp[]> {
  const ops: BatchOp[] = []
  for await (const [key, value] of levels.feed.iterator({ gt: seqKey(from), lte: seqKey(floor) })) {
    ops.push(op('del', levels.feed, key, undefined))
    const rest = feedRecordFrom(readSeq(key), value, floor + 1)
    if (rest != null) ops.push(op('put', levels.feed, seqKey(floor + 1), rest))
  }
  return ops
}
