// Reads of stored entries straight from level. Level may lag the log by the
// commits still in the write-ahead file: callers wait for the flush to reach
// what they read first.
import { StorageError } from '../errors.js'
import { readEntry, toHex } from './entry.js'
import { readSeq, seqKey } from './keys.js'
import { plain } from './level.js'
import type { LogEntry, Sublevels } from './types.js'

type Levels = Pick<Sublevels, 'entries' | 'feed'>

/** Up to `limit` entries of the change feed from position `from` (inclusive). */
export async function readFeed (levels: Levels, from: number, limit: number): Promise<LogEntry[]> {
  // records many at a time: an iterator's next() per record costs a promise
  // each; nextv gives fewer than asked for once it holds enough bytes
  const it = levels.feed.iterator({ gte: seqKey(Math.max(1, from)), limit })
  const records: Array<[Buffer, Buffer]> = []
  try {
    while (records.length < limit) {
      const batch = await it.nextv(Math.min(limit - records.length, 4096))
      if (batch.length === 0) break
      for (const r of batch) records.push(r)
    }
  } finally {
    await it.close()
  }
  const seqs = records.map(([key]) => readSeq(key))
  const ids = records.map(([, id]) => id)
  const found = await levels.entries.getMany(ids)
  return ids.map((id, i) => {
    const b = found[i]
    if (b == null) throw new StorageError(`entry ${toHex(id)} at ${seqs[i]} is missing: the db is damaged`)
    const bytes = plain(b)
    return { seq: seqs[i], id: plain(id), bytes, entry: readEntry(bytes) }
  })
}

/** The stored bytes of the entries at the given feed positions. */
export async function readBytes (levels: Levels, seqs: number[]): Promise<Uint8Array[]> {
  const ids = await levels.feed.getMany(seqs.map(seqKey))
  ids.forEach((id, i) => { if (id == null) throw new StorageError(`feed position ${seqs[i]} is missing: the db is damaged`) })
  const bytes = await levels.entries.getMany(ids as Buffer[])
  return bytes.map((b, i) => {
    if (b == null) throw new StorageError(`entry at feed position ${seqs[i]} is missing: the db is damaged`)
    return b
  })
}
