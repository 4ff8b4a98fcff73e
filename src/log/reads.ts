// Reads of stored entries straight from level. Level may lag the log by the
// commits still in the write-ahead file: callers wait for the flush to reach
// what they read first. A feed record holds the entries of consecutive
// positions of one block of PACK_ENTRIES, keyed by the first (keys.ts).
import { StorageError } from '../errors.js'
import { readEntry } from './entry.js'
import { blockStart, feedBytes, feedId, feedItemAt, feedOffsets, feedRecordFrom, PACK_ENTRIES, pushFeedBytes, readSeq, seqKey, unpackFeed } from './keys.js'
import { op, SCAN, type BatchOp } from './level.js'
import type { LogEntry, Sublevels } from './types.js'

type Levels = Pick<Sublevels, 'feed'>

/** The key of the start of the block that holds position `seq`: the record holding it starts there or later. */
function recordFloor (seq: number): Buffer {
  return seqKey(blockStart(seq))
}

/** Up to `limit` entries of the change feed from position `from` (inclusive). */
export async function readFeed (levels: Levels, from: number, limit: number): Promise<LogEntry[]> {
  from = Math.max(1, from)
  // records many at a time: an iterator's next() per record costs a promise
  // each; nextv gives fewer than asked for once it holds enough bytes
  const it = levels.feed.iterator({ ...SCAN, gte: recordFloor(from) })
  const out: LogEntry[] = []
  const take = (seq: number, item: Buffer): boolean => {
    if (seq >= from) out.push(feedEntry(seq, item))
    return out.length < limit
  }
  try {
    while (out.length < limit) {
      const batch = await it.nextv(Math.max(1, Math.min(Math.ceil((limit - out.length) / PACK_ENTRIES), 256)))
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
 * Wanted positions closer than this to the one before them are read on to
 * from it; the first of a group and each further one is found by a seek.
 */
const NEAR = PACK_ENTRIES
/** Iterators that read groups side by side: each seek is a round trip of level's thread pool. */
const READERS = 8

/** Up to this many positions, a read asks for both records that may hold each one in one getMany. */
const ONE_PASS = 16

/**
 * The feed items (id and bytes) at the given positions, in their order;
 * undefined where the feed holds none. The record that holds a position
 * starts at its block's start (a group of emits) or, unless a record began
 * between them (a commit that started in the block, a floor), at the first
 * of its run of wanted positions (one emit a commit). One getMany reads the
 * records at the blocks' starts; a second, those at the first of each run
 * of positions still not found. (Up to ONE_PASS positions, one getMany asks
 * for both: a lookup by id is one round trip.) A key that is not there costs
 * level a lookup through every table, as much as one that is: a read by
 * name of a rare event, a position a record, asked for twice as many keys
 * when both went at once. Those left, sorted, fall into groups of near
 * ones, dealt out to up to READERS iterators that read side by side: for
 * each of its groups an iterator seeks to the start of the first one's
 * block (the record that holds it starts there or later) and reads on, a
 * batch of records at a time.
 */
export async function feedItems (levels: Levels, positions: number[]): Promise<Array<Buffer | undefined>> {
  const out = new Array<Buffer | undefined>(positions.length)
  // in position order, so that the record of one position serves the next ones it holds
  let rest = positions.map((_, i) => i).sort((a, b) => positions[a] - positions[b])
  // the first position of each run of consecutive ones among `of`
  const runStarts = (of: number[]): number[] => of.filter((_, k) => k === 0 || positions[of[k - 1]] !== positions[of[k]] - 1).map(i => positions[i])
  const blockStarts = rest.map(i => blockStart(positions[i]))
  if (rest.length <= ONE_PASS) {
    rest = await readRecords(levels, positions, rest, [...blockStarts, ...runStarts(rest)], out)
  } else {
    rest = await readRecords(levels, positions, rest, blockStarts, out)
    if (rest.length > 0) rest = await readRecords(levels, positions, rest, runStarts(rest), out)
  }
  if (rest.length === 0) return out
  // the others (in position order), by seeks
  const groups: number[][] = []
  for (let k = 0; k < rest.length; k++) {
    if (k === 0 || positions[rest[k]] - positions[rest[k - 1]] >= NEAR) groups.push([])
    groups[groups.length - 1].push(rest[k])
  }
  const readers = Math.min(READERS, groups.length)
  await Promise.all(Array.from({ length: readers }, async (_, r) => {
    const it = levels.feed.iterator(SCAN)
    try {
      for (let g = r; g < groups.length; g += readers) await readGroup(it, positions, groups[g], out)
    } finally {
      await it.close()
    }
  }))
  return out
}

/**
 * Reads the records that start at `keys` in one getMany, and puts in `out`
 * the items they hold of the positions `indices` (into `positions`, in
 * position order); returns the indices of those none of them holds.
 */
async function readRecords (levels: Levels, positions: number[], indices: number[], keys: number[], out: Array<Buffer | undefined>): Promise<number[]> {
  const candidates = [...new Set(keys)]
  const found = new Map<number, { value: Buffer, items: number[] }>()
  const values = await levels.feed.getMany(candidates.map(seqKey))
  values.forEach((value, i) => { if (value != null) found.set(candidates[i], { value, items: feedOffsets(candidates[i], value) }) })
  const rest: number[] = []
  let last: { start: number, value: Buffer, items: number[] } | undefined
  for (const i of indices) {
    const p = positions[i]
    if (last == null || p < last.start || p >= last.start + last.items.length) {
      last = undefined
      for (const start of [blockStart(p), p]) {
        const r = found.get(start)
        if (r != null && p >= start && p < start + r.items.length) last = { start, ...r }
      }
    }
    if (last == null) rest.push(i)
    else out[i] = feedItemAt(last.value, last.items[p - last.start])
  }
  return rest
}

/** The items at the positions of one group (indices into `positions`, ascending), into `out`, by `it`. */
async function readGroup (it: ReturnType<Levels['feed']['iterator']>, positions: number[], group: number[], out: Array<Buffer | undefined>): Promise<void> {
  it.seek(recordFloor(positions[group[0]]))
  let ahead: Array<[Buffer, Buffer]> = []
  let start = 0
  let record: Buffer = Buffer.alloc(0)
  let items: number[] = []
  for (let k = 0; k < group.length; k++) {
    const seq = positions[group[k]]
    while (seq >= start + items.length) {
      if (ahead.length === 0) ahead = await it.nextv(Math.min(256, group.length - k + 2)) as Array<[Buffer, Buffer]>
      const next = ahead.shift()
      if (next === undefined) return
      start = readSeq(next[0])
      record = next[1]
      items = feedOffsets(start, record)
    }
    if (seq >= start) out[group[k]] = feedItemAt(record, items[seq - start])
  }
}

/** The feed items at the given positions; a missing one is a damaged db. */
async function feedValues (levels: Levels, seqs: number[]): Promise<Buffer[]> {
  const values = await feedItems(levels, seqs)
  // a for loop: forEach skips the holes that positions not found leave
  for (let i = 0; i < values.length; i++) if (values[i] == null) throw new StorageError(`feed position ${seqs[i]} is missing: the db is damaged`)
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
  if (seqs.length > ONE_PASS && seqs.every((seq, i) => seq === seqs[0] + i)) return await readSpan(levels, seqs[0], seqs[seqs.length - 1])
  return (await feedValues(levels, seqs)).map((v, i) => feedBytes(v, seqs[i]))
}

/**
 * The bytes of the entries at positions `from` to `to`, by one walk of the
 * records that hold them: what a peer lacks is mostly runs of consecutive
 * positions, and a catch-up all of them. A position none holds is a damaged db.
 */
async function readSpan (levels: Levels, from: number, to: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  const count = to - from + 1
  const it = levels.feed.iterator({ ...SCAN, gte: recordFloor(from), lte: seqKey(to) })
  let gap = false
  try {
    while (!gap && out.length < count) {
      const batch = await it.nextv(Math.min(256, Math.ceil((count - out.length) / PACK_ENTRIES) + 1))
      if (batch.length === 0) break
      for (const [key, value] of batch) {
        const start = readSeq(key)
        // a record that starts after the next position wanted: that one is missing
        gap = start > from + out.length
        if (gap) break
        pushFeedBytes(start, value, from + out.length, to, out)
      }
    }
  } finally {
    await it.close()
  }
  if (out.length < count) throw new StorageError(`feed position ${from + out.length} is missing: the db is damaged`)
  return out
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
