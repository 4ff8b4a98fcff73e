// Reads of the entries of some event names or some authors, in feed order,
// whose cost grows with what they yield, not with the log: event names from
// the name index (one record per run of one name, keyed by name then its
// first feed position), authors from the run records that the version
// vector already keeps (an author's entries lie at increasing feed
// positions, run by run).
import { StorageError } from '../errors.js'
import { toHex } from './entry.js'
import { decodeRun, nameKey, namePrefix, nameRunLast, readSeq, runKey, RUN_VALUE_LENGTH, type AuthorState, type Run } from './keys.js'
import { plain, SCAN } from './level.js'
import type { AbstractIteratorOptions } from 'abstract-level'
import type { LogEntry, ReadFilter, Sub, Sublevels } from './types.js'
import { readAt } from './reads.js'

/** What a filtered read found, and how far it looked. */
export interface Filtered {
  /** the matching entries after the position read from, in feed order */
  entries: LogEntry[]
  /** every matching entry up to this feed position is in `entries` */
  scanned: number
}

/**
 * One source of feed positions: those in (after, upTo], in order, at most
 * `limit`. When it gives `limit` of them it may have more beyond the last.
 */
type Positions = (after: number, upTo: number, limit: number) => Promise<number[]>

/**
 * The entries after feed position `after`, up to `upTo` (level must hold the
 * log up to it), that `filter` matches: at most `limit` of them. With names,
 * the name index gives the positions and authors are checked on the entries
 * read; with authors only, their run records give them. `authors` holds the
 * in-memory state of the authors asked for, taken with `upTo`: the current
 * run of each is there, not (or not yet fully) in level.
 */
export async function readFiltered (levels: Sublevels, filter: ReadFilter, authors: ReadonlyMap<string, AuthorState>, after: number, upTo: number, limit: number, floors?: ReadonlyMap<string, number>): Promise<Filtered> {
  const sources: Positions[] = []
  if (filter.names != null) {
    for (const name of new Set(filter.names)) sources.push(namePositions(levels.names, namePrefix(name)))
  } else if (filter.authors != null) {
    for (const author of new Set(filter.authors)) {
      const state = authors.get(author)
      if (state != null) sources.push(authorPositions(levels.runs, Buffer.from(author, 'hex'), state, floors?.get(author)))
    }
  }
  const { positions, scanned } = await merge(sources, after, upTo, limit)
  const entries = await readAt(levels, positions)
  if (filter.names == null || filter.authors == null) return { entries, scanned }
  const wanted = new Set(filter.authors)
  return { entries: entries.filter(e => wanted.has(toHex(e.entry.author))), scanned }
}

// The union of sorted sources: every position up to the first place where a
// source that gave `limit` may have more, then at most `limit` of them.
async function merge (sources: Positions[], after: number, upTo: number, limit: number): Promise<{ positions: number[], scanned: number }> {
  let scanned = upTo
  const lists = await Promise.all(sources.map(source => source(after, upTo, limit)))
  for (const list of lists) if (list.length >= limit) scanned = Math.min(scanned, list[list.length - 1])
  let positions: number[] = []
  for (const list of lists) for (const pos of list) if (pos <= scanned) positions.push(pos)
  if (lists.length > 1) positions.sort((a, b) => a - b)
  if (positions.length > limit) {
    positions = positions.slice(0, limit)
    scanned = positions[limit - 1]
  }
  return { positions, scanned }
}

// A name's feed positions from its index records, each a run of
// consecutive positions keyed by its first: the run that holds `after + 1`
// may start at or before `after`. Runs never overlap: the index's mark
// moves with every batch of commits (commit.ts), so no run is indexed twice.
function namePositions (names: Sub, prefix: Buffer): Positions {
  return async (after, upTo, limit) => {
    const out: number[] = []
    if (after >= upTo) return out
    const take = (key: Buffer, value: Buffer): void => {
      const first = readSeq(key.subarray(prefix.byteLength))
      const last = Math.min(upTo, nameRunLast(first, value))
      for (let pos = Math.max(first, after + 1); pos <= last && out.length < limit; pos++) out.push(pos)
    }
    // side by side, and each in one batch: a next() is a round trip of level's thread pool
    const [before, runs] = await Promise.all([
      records(names, { lte: nameKey(prefix, after), gte: nameKey(prefix, 0), reverse: true, limit: 1 }),
      records(names, { gt: nameKey(prefix, after), lte: nameKey(prefix, upTo), limit })
    ])
    for (const [key, value] of [...before, ...runs]) {
      if (out.length >= limit) break
      take(key, value)
    }
    return out
  }
}

/** The records of `sub` in `range` (up to its `limit`), in as few batches as level gives. */
async function records (sub: Sub, range: AbstractIteratorOptions<Buffer, Buffer> & { limit: number }): Promise<Array<[Buffer, Buffer]>> {
  const it = sub.iterator({ ...SCAN, ...range })
  const out: Array<[Buffer, Buffer]> = []
  try {
    while (out.length < range.limit) {
      const batch = await it.nextv(range.limit - out.length)
      if (batch.length === 0) break
      out.push(...batch)
    }
    return out
  } finally {
    await it.close()
  }
}

/**
 * An author's feed positions from their runs. Run records are keyed by
 * author seq, so the first entry after a feed position is found by a binary
 * search over them (one seek a step); the runs after it are read in order.
 * The current run is `state`'s: its record in level may be old or absent,
 * and ended runs are all in level.
 */
function authorPositions (runs: Sub, author: Buffer, state: AuthorState, firstSeq = 1): Positions {
  const current: Run = { author: plain(author), first: state.runFirst, last: state.seq, feedStart: state.runFeedStart }
  // the ended run holding author seq `seq` (< current.first)
  const runAt = async (seq: number): Promise<Run> => {
    for await (const [key, value] of runs.iterator({ reverse: true, limit: 1, lte: runKey(author, seq) })) {
      const run = checked(key, value)
      if (author.equals(run.author) && run.first <= seq && seq <= run.last) return run
    }
    throw new StorageError(`no run record holds seq ${seq} of author ${toHex(author)}: the db is damaged`)
  }
  const end = (run: Run): number => run.feedStart + run.last - run.first
  return async (after, upTo, limit) => {
    const out: number[] = []
    const take = (run: Run): void => {
      for (let pos = Math.max(run.feedStart, after + 1); pos <= end(run) && pos <= upTo && out.length < limit; pos++) out.push(pos)
    }
    if (end(current) <= after) return out
    if (current.feedStart > after) {
      // the first author seq past `after` is in an ended run, or is current.first
      // below its floor (retention) an author has no runs
      let lo = firstSeq
      let hi = current.first
      let found: Run | undefined
      while (lo < hi && found == null) {
        const run = await runAt(Math.floor((lo + hi) / 2))
        if (end(run) <= after) lo = run.last + 1
        else if (run.feedStart > after) hi = run.first
        else found = run
      }
      if (found == null && lo < current.first) found = await runAt(lo)
      if (found != null) {
        take(found)
        for await (const [key, value] of runs.iterator({ gt: runKey(author, found.first), lt: runKey(author, current.first) })) {
          if (out.length >= limit) break
          take(checked(key, value))
        }
      }
    }
    if (out.length < limit) take(current)
    return out
  }
}

function checked (key: Buffer, value: Buffer): Run {
  if (key.byteLength !== 40 || value.byteLength !== RUN_VALUE_LENGTH) throw new StorageError('damaged run record')
  return decodeRun(key, value)
}
