// Which entries a peer lacks, from its version vector: read from the run
// records, so the cost grows with what is missing, not with the log.
import { StorageError } from '../errors.js'
import { decodeRun, runKey, RUN_VALUE_LENGTH, type AuthorState, type Run } from './keys.js'
import type { Missing, Sub } from './types.js'

/**
 * Feed positions of the entries that a peer with version vector `have` lacks,
 * in feed order (a causal order), at most `limit` of them. `runs` must hold
 * every ended run of `authors` (level has the feed up to the log's length).
 */
export async function missing (runs: Sub, authors: ReadonlyMap<string, AuthorState>, have: Map<string, number>, limit: number): Promise<Missing[]> {
  // [first feed position, last feed position, author, author seq at first]
  const ranges: Array<[number, number, string, number]> = []
  for (const [hex, state] of authors) {
    const from = (have.get(hex) ?? 0) + 1
    if (from > state.seq) continue
    const author = Buffer.from(hex, 'hex')
    let wanted = limit
    const take = (run: Run): void => {
      if (run.last < from || !author.equals(run.author)) return
      const skip = Math.max(0, from - run.first)
      const start = run.feedStart + skip
      const end = run.feedStart + (run.last - run.first)
      ranges.push([start, end, hex, run.first + skip])
      wanted -= end - start + 1
    }
    // the current run is in memory (its record may be older or absent);
    // the ended ones are in the db: the one holding `from`, then later ones
    const current: Run = { author, first: state.runFirst, last: state.seq, feedStart: state.runFeedStart }
    const fromDb = (key: Buffer, value: Buffer): void => {
      if (value.byteLength !== RUN_VALUE_LENGTH) throw new StorageError('damaged run record')
      const run = decodeRun(key, value)
      if (run.first < current.first) take(run)
    }
    if (from < current.first) {
      for await (const [key, value] of runs.iterator({ reverse: true, limit: 1, lte: runKey(author, from) })) fromDb(key, value)
      for await (const [key, value] of runs.iterator({ gt: runKey(author, from), lt: runKey(author, current.first) })) {
        if (wanted <= 0) break
        fromDb(key, value)
      }
    }
    // an author all of whose entries were dropped has an empty current run
    if (wanted > 0 && !state.empty) take(current)
  }
  // runs are disjoint: in order of their first position, the first `limit`
  // positions of the union are those of the first runs
  ranges.sort((a, b) => a[0] - b[0])
  const out: Missing[] = []
  for (const [start, end, author, authorSeq] of ranges) {
    for (let s = start; s <= end && out.length < limit; s++) out.push({ seq: s, author, authorSeq: authorSeq + s - start })
    if (out.length >= limit) break
  }
  return out
}
