// What opening a log reads from level: the node's key, and the state that
// the run and heads records hold as of the last checkpoint, brought up to
// date by replaying the feed after it.
import { logger } from '@libp2p/logger'
import type { AbstractSublevel } from 'abstract-level'
import { StorageError } from '../errors.js'
import { ID_LENGTH, readEntry, toHex } from './entry.js'
import { Identity } from './identity.js'
import { AuthorState, decodeRun, readSeq, runKey, seqKey, type Run } from './keys.js'
import type { Boundary } from './floors.js'
import { CHECKPOINT_KEY, HEADS_KEY } from './level.js'
import { readFeed } from './reads.js'
import { LogState, type HeadRef } from './state.js'
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

export async function loadState (levels: Sublevels, boundary: Boundary): Promise<LogState<Sub>> {
  // a log whose every entry was dropped still has its length
  let length = boundary.position
  for await (const key of levels.feed.keys({ reverse: true, limit: 1 })) length = Math.max(length, readSeq(key))
  const authors = new Map<string, AuthorState>()
  // each author's newest run, by a skip scan from the last author down
  let below: Buffer | undefined
  while (true) {
    let run: Run | undefined
    const range = below == null ? { reverse: true, limit: 1 } : { reverse: true, limit: 1, lt: below }
    for await (const [key, value] of levels.runs.iterator(range)) run = decodeRun(key, value)
    if (run == null) break
    const feedSeq = run.feedStart + run.last - run.first
    const id = await levels.feed.get(seqKey(feedSeq))
    const bytes = id == null ? undefined : await levels.entries.get(id)
    if (id == null || bytes == null) throw new StorageError(`feed position ${feedSeq} is missing: the db is damaged`)
    const clock = readEntry(bytes).clock
    authors.set(toHex(run.author), new AuthorState(run.last, feedSeq, run.first, run.feedStart, new Uint8Array(id), clock))
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
  const headBytes = await levels.entries.getMany(headIds)
  const heads = new Map<string, HeadRef>()
  headIds.forEach((id, i) => {
    // a head may be a dropped entry: the cut holds it
    const bytes = headBytes[i] ?? boundary.cut.get(toHex(id))?.bytes
    if (bytes == null) throw new StorageError(`head ${toHex(id)} has no entry: the db is damaged`)
    heads.set(toHex(id), { id: new Uint8Array(id), clock: readEntry(bytes).clock })
  })
  const checkpoint = await levels.meta.get(CHECKPOINT_KEY)
  const state = new LogState(levels, { length, checkpoint: checkpoint == null ? 0 : readSeq(checkpoint), authors, heads })
  for (let pos = Math.max(state.checkpoint, boundary.position) + 1; pos <= length; pos += 1024) state.replay(await readFeed(levels, pos, 1024))
  log('opened log of %d entries, %d heads, %d authors', state.length, state.heads.size, state.authors.size)
  return state
}
