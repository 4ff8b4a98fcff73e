// A check of the whole stored log against itself and against the in-memory
// state, for tools and tests: it reads everything.
import { authorHex, decodeEntry, entryId, equalBytes, toHex, type DecodedEntry } from './entry.js'
import { Boundary } from './floors.js'
import { readSeq, seqKey } from './keys.js'
import type { LogState } from './state.js'
import { plain } from './level.js'
import type { Sublevels, VerifyProblem, VerifyReport } from './types.js'

/** An id as a map key: its bytes as a latin1 string. */
function key (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')
}

/** What the in-memory state says, taken between two commits. */
export interface Expected {
  length: number
  /** each author's highest seq, by hex public key */
  seqs: Map<string, number>
  /** hex ids, sorted */
  heads: string[]
}

export function expected (state: LogState<unknown>): Expected {
  return {
    length: state.length,
    seqs: new Map([...state.authors].map(([a, st]) => [a, st.seq])),
    heads: [...state.heads.keys()].sort()
  }
}

/**
 * Walks the feed up to `view.length` (level must have it) and checks every
 * id, parent link, author chain and signature, and that every unsigned entry
 * is covered by a signed one. Commits may go on meanwhile.
 */
export async function verify (levels: Pick<Sublevels, 'entries' | 'feed'>, view: Expected, signal?: AbortSignal, boundary = new Boundary()): Promise<VerifyReport> {
  const problems: VerifyProblem[] = []
  // clock of each entry seen, by id (as a latin1 string: half the length of
  // hex, made faster); dropped entries that kept ones refer to are in the cut
  const clocks = new Map<string, number>()
  for (const [hex, c] of boundary.cut) {
    if (!equalBytes(entryId(c.bytes), c.id)) problems.push({ id: hex, problem: 'cut entry: id does not match the entry bytes' })
    clocks.set(key(c.id), c.entry.clock)
  }
  const heads = new Set<string>()
  const chains = new Map<string, { seq: number, id: Uint8Array, clock: number, unsigned: number }>()
  // each author's chain starts at its floor, on the dropped entry before it
  for (const [author, floor] of boundary.floors) {
    const prev = boundary.cut.get(toHex(floor.prev))
    if (prev == null || prev.entry.seq !== floor.seq - 1 || toHex(prev.entry.author) !== author) {
      problems.push({ problem: `the floor of author ${author} does not name the dropped entry before it` })
      continue
    }
    chains.set(author, { seq: floor.seq - 1, id: floor.prev, clock: prev.entry.clock, unsigned: 0 })
  }
  // the feed starts after the dropped positions
  let count = boundary.position
  const hexOf = authorHex()
  const check = (seq: number, id: Buffer, bytes: Buffer | undefined): void => {
    count++
    if (seq !== count) problems.push({ seq, problem: `feed position ${seq} follows ${count - 1}` })
    if (bytes == null) { problems.push({ seq, id: toHex(id), problem: 'entry missing' }); return }
    let d: DecodedEntry | undefined
    let bad: unknown
    try {
      d = decodeEntry(plain(bytes))
    } catch (err) {
      bad = err
    }
    if (!equalBytes(d?.id ?? entryId(bytes), id)) { problems.push({ seq, id: toHex(id), problem: 'id does not match the entry bytes' }); return }
    if (d == null) { problems.push({ seq, id: toHex(id), problem: (bad as Error).message }); return }
    const k = key(id)
    const author = hexOf(d.entry.author)
    const chain = chains.get(author) ?? { seq: 0, id: new Uint8Array(0), clock: 0, unsigned: 0 }
    if (d.entry.seq !== chain.seq + 1) problems.push({ seq, id: toHex(id), problem: `author seq ${d.entry.seq} follows ${chain.seq}` })
    if (!equalBytes(d.entry.prev, chain.id)) problems.push({ seq, id: toHex(id), problem: 'prev is not the author\'s previous entry' })
    if (d.entry.prev.byteLength > 0) heads.delete(key(d.entry.prev))
    let parentClock = chain.clock
    for (const link of d.entry.links) {
      const linkKey = key(link)
      const linked = clocks.get(linkKey)
      heads.delete(linkKey)
      if (linked == null) problems.push({ seq, id: toHex(id), problem: `link ${toHex(link)} is not stored before the entry` })
      else parentClock = Math.max(parentClock, linked)
    }
    if (d.entry.clock !== parentClock + 1) problems.push({ seq, id: toHex(id), problem: `clock ${d.entry.clock} is not one more than its parents' ${parentClock}` })
    chains.set(author, { seq: d.entry.seq, id: d.id, clock: d.entry.clock, unsigned: d.entry.signature.byteLength === 0 ? chain.unsigned + 1 : 0 })
    clocks.set(k, d.entry.clock)
    heads.add(k)
  }
  const seqs: number[] = []
  const ids: Buffer[] = []
  const checkBatch = async (): Promise<void> => {
    // a long walk stops between batches once nobody waits for it
    signal?.throwIfAborted()
    const bytes = await levels.entries.getMany(ids)
    seqs.forEach((seq, i) => { check(seq, ids[i], bytes[i]) })
    seqs.length = 0
    ids.length = 0
  }
  const it = levels.feed.iterator({ gt: seqKey(boundary.position), lte: seqKey(view.length) })
  try {
    for (let batch = await it.nextv(1024); batch.length > 0; batch = await it.nextv(1024)) {
      for (const [position, id] of batch) {
        seqs.push(readSeq(position))
        ids.push(id)
      }
      await checkBatch()
    }
  } finally {
    await it.close()
  }
  if (count !== view.length) problems.push({ problem: `the feed holds ${count - boundary.position} entries after position ${boundary.position}, the log says ${view.length - boundary.position}` })
  for (const [author, chain] of chains) {
    if (chain.unsigned > 0) problems.push({ problem: `the last ${chain.unsigned} entries of author ${author} are not covered by a signature` })
    const seq = view.seqs.get(author)
    if (seq !== chain.seq) problems.push({ problem: `author ${author} index says seq ${seq}, the feed ${chain.seq}` })
  }
  const headsHex = new Set([...heads].map(k => Buffer.from(k, 'latin1').toString('hex')))
  // a head may be a dropped entry, held in the cut
  for (const hex of view.heads) if (boundary.cut.has(hex)) headsHex.add(hex)
  if ([...headsHex].sort().join() !== view.heads.join()) problems.push({ problem: `the heads are ${view.heads.join(', ')}; the feed says ${[...headsHex].sort().join(', ')}` })
  return { ok: problems.length === 0, entries: count - boundary.position, authors: chains.size, problems }
}
