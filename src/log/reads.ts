// Reads of stored entries straight from level. Level may lag the log by the
// commits still in the write-ahead file: callers wait for the flush to reach
// what they read first.
import { StorageError } from '../errors.js'
import { readEntry } from './entry.js'
import { feedBytes, feedId, readSeq, seqKey } from './keys.js'
import type { LogEntry, Sublevels } from './types.js'

type Levels = Pick<Sublevels, 'feed'>

/** Up to `limit` entries of the change feed from position `from` (inclusive). */
export async function readFeed (levels: Levels, from: number, limit: number): Promise<LogEntry[]> {
  // records many at a time: an iterator's next() per record costs a promise
  // each; nextv gives fewer than asked for once it holds enough bytes
  const it = levels.feed.iterator({ gte: seqKey(Math.max(1, from)), limit })
  const out: LogEntry[] = []
  try {
    while (out.length < limit) {
      const batch = await it.nextv(Math.min(limit - out.length, 4096))
      if (batch.length === 0) break
      for (const [key, value] of batch) out.push(feedEntry(readSeq(key), value))
    }
  } finally {
    await it.close()
  }
  return out
}

/** The entry of a feed record: its position and the record's value. */
function feedEntry (seq: number, value: Buffer): LogEntry {
  const bytes = feedBytes(value, seq)
  return { seq, id: feedId(value), bytes, entry: readEntry(bytes) }
}

/** The feed records' values at the given positions; a missing one is a damaged db. */
async function feedValues (levels: Levels, seqs: number[]): Promise<Buffer[]> {
  const values = await levels.feed.getMany(seqs.map(seqKey))
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
