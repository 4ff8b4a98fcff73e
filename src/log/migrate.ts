// The log's layout before version 2 kept an entry's bytes under its id
// ('entries': id -> bytes) and its feed position apart ('feed': position ->
// id), so that a read of the feed made one lookup per entry. Version 2 keeps
// the bytes with the position ('feed-v2': position -> id and bytes) and the
// id's record small ('ids': id -> position and clock). A db of the old
// layout is converted when the log opens, before anything else reads it.
import { logger } from '@libp2p/logger'
import { StorageError } from '../errors.js'
import { readEntry, toHex } from './entry.js'
import { feedValue, idValue, readSeq } from './keys.js'
import { binarySublevel, describe, op, type BatchOp, type LevelOps } from './level.js'
import type { AnyLevel, Db, Sublevels } from './types.js'

const log = logger('hyperemitter:log')

/** Feed positions converted in one batch. */
const CHUNK = 4096

/**
 * Moves every entry of the old layout to the new one, a chunk of the feed per
 * batch; each batch also deletes what it moved, so a crash midway goes on
 * from where it stopped at the next open. Nothing to do costs one seek.
 */
export async function migrateLayout (db: AnyLevel, levels: Pick<Sublevels, 'feed' | 'ids'>): Promise<void> {
  const oldFeed = binarySublevel(db, 'feed')
  const oldEntries = binarySublevel(db, 'entries')
  const started = Date.now()
  let moved = 0
  try {
    while (true) {
      const batch = await oldFeed.iterator({ limit: CHUNK }).all()
      if (batch.length === 0) break
      const found = await oldEntries.getMany(batch.map(([, id]) => id))
      const ops: BatchOp[] = []
      batch.forEach(([position, id], i) => {
        const bytes = found[i]
        if (bytes == null) throw new StorageError(`entry ${toHex(id)} at ${readSeq(position)} is missing: the db is damaged`)
        ops.push(op('put', levels.feed, position, feedValue(id, bytes)))
        ops.push(op('put', levels.ids, id, idValue(readSeq(position), readEntry(bytes).clock)))
        ops.push(op('del', oldFeed, position, undefined))
        ops.push(op('del', oldEntries, id, undefined))
      })
      await (db as unknown as Db).batch(ops as unknown as LevelOps)
      moved += batch.length
    }
  } catch (err) {
    if (err instanceof StorageError) throw err
    throw new StorageError(`cannot convert the db to the new layout: ${describe(err)}`, { cause: err })
  }
  if (moved > 0) log('moved %d entries to the version 2 layout in %d ms', moved, Date.now() - started)
}
