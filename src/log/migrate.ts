// Older layouts of the log, converted when it opens, before anything else
// reads it. Before version 2 an entry's bytes were under its id ('entries':
// id -> bytes) and its feed position apart ('feed': position -> id), so that
// a read of the feed made one lookup per entry. Version 2 kept the bytes with
// the position ('feed-v2': position -> id and bytes) and the id's record
// small ('ids': id -> position and clock). Version 3 ('feed-v3') holds the
// entries of up to PACK_ENTRIES consecutive positions in one record, keyed
// by the first (keys.ts packFeed): a read of the feed walks a record per
// group of entries, and a commit writes one.
import { logger } from '@libp2p/logger'
import { StorageError } from '../errors.js'
import { readEntry, toHex } from './entry.js'
import { idValue, packRecords, readSeq, type FeedItem } from './keys.js'
import { binarySublevel, describe, op, type BatchOp, type LevelOps } from './level.js'
import type { AnyLevel, Db, Sub, Sublevels } from './types.js'

const log = logger('hyperemitter:log')

/** Feed positions converted in one batch. */
const CHUNK = 4096

/**
 * Moves every entry of an older layout to the current one, a chunk of the
 * feed per batch; each batch also deletes what it moved, so a crash midway
 * goes on from where it stopped at the next open. Nothing to do costs two
 * seeks.
 */
export async function migrateLayout (db: AnyLevel, levels: Pick<Sublevels, 'feed' | 'ids'>): Promise<void> {
  const started = Date.now()
  try {
    const oldEntries = binarySublevel(db, 'entries')
    const v1 = await convert(db, binarySublevel(db, 'feed'), async batch => {
      const found = await oldEntries.getMany(batch.map(([, id]) => id))
      const ops: BatchOp[] = []
      const items: FeedItem[] = []
      batch.forEach(([position, id], i) => {
        const bytes = found[i]
        if (bytes == null) throw new StorageError(`entry ${toHex(id)} at ${readSeq(position)} is missing: the db is damaged`)
        items.push({ seq: readSeq(position), id, bytes })
        ops.push(op('put', levels.ids, id, idValue(readSeq(position), readEntry(bytes).clock)))
        ops.push(op('del', oldEntries, id, undefined))
      })
      return { items, ops }
    }, levels.feed)
    // version 2's feed holds the items as they are
    const v2 = await convert(db, binarySublevel(db, 'feed-v2'), batch => ({ items: batch.map(([position, value]) => ({ seq: readSeq(position), id: value })), ops: [] }), levels.feed)
    if (v1 + v2 > 0) log('moved %d entries to the version 3 layout in %d ms', v1 + v2, Date.now() - started)
  } catch (err) {
    if (err instanceof StorageError) throw err
    throw new StorageError(`cannot convert the db to the new layout: ${describe(err)}`, { cause: err })
  }
}

/** A chunk of an older feed converted: its feed items and the other ops it needs. */
interface Converted {
  items: FeedItem[]
  ops: BatchOp[]
}

/**
 * Converts `oldFeed` (position -> record) a chunk at a time, by `each`; the
 * chunk's records of `oldFeed` are deleted in the same batch. Returns the
 * positions moved.
 */
async function convert (db: AnyLevel, oldFeed: Sub, each: (batch: Array<[Buffer, Buffer]>) => Converted | Promise<Converted>, feed: Sub): Promise<number> {
  let moved = 0
  while (true) {
    const batch = await oldFeed.iterator({ limit: CHUNK }).all()
    if (batch.length === 0) return moved
    const { items, ops } = await each(batch)
    for (const [key, value] of packRecords(items)) ops.push(op('put', feed, key, value))
    for (const [position] of batch) ops.push(op('del', oldFeed, position, undefined))
    await (db as unknown as Db).batch(ops as unknown as LevelOps)
    moved += batch.length
  }
}
