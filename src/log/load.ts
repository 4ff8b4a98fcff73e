// What opening a log reads from level: the node's key, the state that the
// run and heads records hold as of the last checkpoint, brought up to date
// by replaying the feed after it, and the emit keys of the window; and the
// name index brought up to the feed.
import { logger } from '@libp2p/logger'
import type { AbstractSublevel } from 'abstract-level'
import { StorageError } from '../errors.js'
import { ID_LENGTH, toHex } from './entry.js'
import { Identity } from './identity.js'
import { AuthorState, decodeRun, feedRecordEnd, forNameRuns, nameKey, namePrefix, nameRunValue, readIdValue, readSeq, runKey, type Run } from './keys.js'
import type { Boundary } from './floors.js'
import { CHECKPOINT_KEY, HEADS_KEY, INDEX_KEY, INDEX_VERSION, indexMark, op, type BatchOp, type LevelOps } from './level.js'
import { readAt, readFeed } from './reads.js'
import { KEY_WINDOW, LogState, type HeadRef } from './state.js'
import type { AnyLevel, Db, Sub, Sublevels } from './types.js'

const log = logger('hyperemitter:log')

/** The node's key pair, made and stored on first open. */
export async function loadIdentity (db: AnyLevel): Promise<Identity> {
  const meta = db.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: 'buffer' }) as AbstractSublevel<Db, unknown, string, Buffer>
  let seed = await meta.get('key')
  if (seed == null) {
    seed = Buffer.from(Identity.generate().seed)
    await meta.put('key', seed)
  }
  return new Identity(new Uint8Array(seed))
}

/** Feed entries read at once while the name index is built. */
const INDEX_CHUNK = 4096

export async function loadState (levels: Sublevels, boundary: Boundary, keyWindow = KEY_WINDOW): Promise<LogState<Sub>> {
  // a log whose every entry was dropped still has its length
  let length = boundary.position
  for await (const [key, value] of levels.feed.iterator({ reverse: true, limit: 1 })) length = Math.max(length, feedRecordEnd(readSeq(key), value))
  const authors = new Map<string, AuthorState>()
  // each author's newest run, by a skip scan from the last author down
  let below: Buffer | undefined
  while (true) {
    let run: Run | undefined
    const range = below == null ? { reverse: true, limit: 1 } : { reverse: true, limit: 1, lt: below }
    for await (const [key, value] of levels.runs.iterator(range)) run = decodeRun(key, value)
    if (run == null) break
    const feedSeq = run.feedStart + run.last - run.first
    const [last] = await readAt(levels, [feedSeq])
    authors.set(toHex(run.author), new AuthorState(run.last, feedSeq, run.first, run.feedStart, last.id, last.entry.clock))
    below = runKey(run.author, 0)
  }
  // authors of whom nothing is kept: their chain goes on after their floor
  for (const [author, floor] of boundary.floors) {
    const head = boundary.floorHead(author)
    if (head != null && (authors.get(author)?.seq ?? 0) < floor.seq) authors.set(author, AuthorState.floor(head.seq, head.id as Uint8Array<ArrayBuffer>, head.clock))
  }
  const stored = await levels.heads.get(HEADS_KEY)
  const headIds: Buffer[] = []
  for (let i = 0; stored != null && i < stored.byteLength; i += ID_LENGTH) headIds.push(stored.subarray(i, i + ID_LENGTH))
  const headRecords = await levels.ids.getMany(headIds)
  const heads = new Map<string, HeadRef>()
  headIds.forEach((id, i) => {
    const record = headRecords[i]
    // a head may be a dropped entry: the cut holds it
    const clock = record != null ? readIdValue(record).clock : boundary.cut.get(toHex(id))?.entry.clock
    if (clock == null) throw new StorageError(`head ${toHex(id)} has no entry: the db is damaged`)
    heads.set(toHex(id), { id: new Uint8Array(id), clock })
  })
  const checkpoint = await levels.meta.get(CHECKPOINT_KEY)
  const keys = await loadKeys(levels.keys, keyWindow)
  const state = new LogState(levels, { length, checkpoint: checkpoint == null ? 0 : readSeq(checkpoint), authors, heads, keys }, keyWindow)
  for (let pos = Math.max(state.checkpoint, boundary.position) + 1; pos <= length; pos += 1024) state.replay(await readFeed(levels, pos, 1024))
  log('opened log of %d entries, %d heads, %d authors', state.length, state.heads.size, state.authors.size)
  return state
}

// The emit keys of the window, oldest first. Records past the window (it was
// made smaller since they were written) are removed here: the window only
// removes the keys it holds.
async function loadKeys (keys: Sub, window: number): Promise<Map<string, number>> {
  const all: Array<[string, number]> = []
  for await (const [key, value] of keys.iterator()) all.push([key.toString('utf8'), readSeq(value)])
  all.sort((a, b) => a[1] - b[1])
  const over = all.length - window
  if (over > 0) {
    await keys.batch(all.slice(0, over).map(([key]) => ({ type: 'del' as const, key: Buffer.from(key) })))
    log('%d emit keys past the window of %d removed', over, window)
  }
  return new Map(over > 0 ? all.slice(over) : all)
}

/**
 * Brings the name index up to the feed in level: the entries past the
 * position its record names (all of them in a db written before the index
 * was, or with another version of it) get their index records, then the
 * record moves on. Runs at open, before any commit: a checkpoint's index
 * record says that every entry before it is indexed.
 */
export async function indexNames (db: Db, levels: Sublevels, length: number, floor = 0): Promise<void> {
  const mark = await levels.meta.get(INDEX_KEY)
  // what retention dropped has no index records
  let from = floor + 1
  if (mark != null && mark.byteLength === 12 && mark.readUInt32BE(8) === INDEX_VERSION) {
    from = Math.max(from, readSeq(mark) + 1)
  } else if (mark != null) {
    // another format: start over
    await levels.names.clear()
  }
  if (from > length) {
    if (mark == null) await levels.meta.put(INDEX_KEY, indexMark(length))
    return
  }
  const started = Date.now()
  for (let pos = from; pos <= length; pos += INDEX_CHUNK) {
    const ops: BatchOp[] = []
    forNameRuns(await readFeed(levels, pos, Math.min(INDEX_CHUNK, length - pos + 1)), (name, first, last) => {
      ops.push(op('put', levels.names, nameKey(namePrefix(name), first), nameRunValue(first, last)))
    })
    // the record moves on with each chunk: a crash while indexing a big db
    // does not start it over
    const upTo = Math.min(length, pos + INDEX_CHUNK - 1)
    ops.push(op('put', levels.meta, INDEX_KEY, indexMark(upTo)))
    await db.batch(ops as unknown as LevelOps)
  }
  log('indexed the names of feed positions %d to %d in %d ms', from, length, Date.now() - started)
}
