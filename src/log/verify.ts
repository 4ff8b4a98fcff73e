// A check of the whole stored log against itself and against the in-memory
// state, for tools and tests: it reads everything.
import { ID_LENGTH, authorHex, decodeEntry, entryId, equalBytes, toHex, type DecodedEntry } from './entry.js'
import { Boundary } from './floors.js'
import { feedBytes, feedId, readIdValue, readSeq, seqKey, unpackFeed } from './keys.js'
import type { LogState } from './state.js'
import type { Sub, Sublevels, VerifyProblem, VerifyReport } from './types.js'

/** An id as a map key: its bytes as a latin1 string. */
function key (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')
}

/** 48 bits of an id's digest, as a number: a map key that costs no string. */
function idBits (id: Uint8Array): number {
  return id[2] * 0x10000000000 + id[3] * 0x100000000 + id[4] * 0x1000000 + id[5] * 0x10000 + id[6] * 0x100 + id[7]
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

const WALKED = 1
const NAMED = 2

/** Entries whose ids are kept in memory, to resolve the links to them: most links point at a recent entry. */
const RECENT = 65_536

/**
 * Walks the feed up to `view.length` (level must have it) and checks every
 * id, parent link, author chain and signature, and that every unsigned entry
 * is covered by a signed one; then walks the id records and checks that
 * each entry has one, with its feed position and clock. Commits may go on
 * meanwhile.
 */
export async function verify (levels: Pick<Sublevels, 'feed' | 'ids'>, view: Expected, signal?: AbortSignal, boundary = new Boundary()): Promise<VerifyReport> {
  const problems: VerifyProblem[] = []
  const base = boundary.position
  const n = Math.max(0, view.length - base)
  // each walked entry's id and clock, by feed position (from base + 1), and
  // whether it was WALKED and whether a later entry NAMED it (as prev or
  // link): those walked that none names are the heads
  const idAt = Buffer.alloc(n * ID_LENGTH)
  const clockAt = new Float64Array(n)
  const state = new Uint8Array(n)
  const idOf = (seq: number): Buffer => idAt.subarray((seq - base - 1) * ID_LENGTH, (seq - base) * ID_LENGTH)
  // the last RECENT entries' positions, by 48 bits of their id (a match is
  // checked against idAt); a link to an older one is found by its id
  // record, and checked against what the walk saw at that position
  const recent = new Map<number, number>()
  const recentAt = (id: Uint8Array): number | undefined => {
    const at = recent.get(idBits(id))
    return at != null && equalBytes(idOf(at), id) ? at : undefined
  }
  // dropped entries that kept ones refer to are in the cut
  const cutClocks = new Map<string, number>()
  for (const [hex, c] of boundary.cut) {
    if (!equalBytes(entryId(c.bytes), c.id)) problems.push({ id: hex, problem: 'cut entry: id does not match the entry bytes' })
    cutClocks.set(key(c.id), c.entry.clock)
  }
  /** each author's last entry walked: its seq, id, clock, feed position (0: a dropped one), and unsigned entries since a signed one */
  const chains = new Map<string, { seq: number, id: Uint8Array, clock: number, at: number, unsigned: number }>()
  // each author's chain starts at its floor, on the dropped entry before it
  for (const [author, floor] of boundary.floors) {
    const prev = boundary.cut.get(toHex(floor.prev))
    if (prev == null || prev.entry.seq !== floor.seq - 1 || toHex(prev.entry.author) !== author) {
      problems.push({ problem: `the floor of author ${author} does not name the dropped entry before it` })
      continue
    }
    chains.set(author, { seq: floor.seq - 1, id: floor.prev, clock: prev.entry.clock, at: 0, unsigned: 0 })
  }
  // the feed starts after the dropped positions
  let count = base
  const hexOf = authorHex()
  // the position of the entry `link` names if the walk saw it before `seq`
  // (or -1 for a dropped one in the cut), and its clock
  const linked = (link: Uint8Array, seq: number, older: Map<string, number>): { at: number, clock: number } | undefined => {
    const at = recentAt(link) ?? (older.size > 0 ? older.get(key(link)) : undefined)
    if (at != null && at < seq && equalBytes(idOf(at), link)) return { at, clock: clockAt[at - base - 1] }
    const clock = cutClocks.size > 0 ? cutClocks.get(key(link)) : undefined
    return clock == null ? undefined : { at: -1, clock }
  }
  const check = (seq: number, value: Buffer, d: DecodedEntry | undefined, bad: unknown, older: Map<string, number>): void => {
    count++
    if (seq !== count) problems.push({ seq, problem: `feed position ${seq} follows ${count - 1}` })
    if (value.byteLength <= ID_LENGTH) { problems.push({ seq, problem: 'feed record too short to hold an entry' }); return }
    const id = feedId(value)
    if (!equalBytes(d?.id ?? entryId(feedBytes(value, seq)), id)) { problems.push({ seq, id: toHex(id), problem: 'id does not match the entry bytes' }); return }
    if (d == null) { problems.push({ seq, id: toHex(id), problem: (bad as Error).message }); return }
    const author = hexOf(d.entry.author)
    let chain = chains.get(author)
    if (chain == null) {
      chain = { seq: 0, id: new Uint8Array(0), clock: 0, at: 0, unsigned: 0 }
      chains.set(author, chain)
    }
    if (d.entry.seq !== chain.seq + 1) problems.push({ seq, id: toHex(id), problem: `author seq ${d.entry.seq} follows ${chain.seq}` })
    if (equalBytes(d.entry.prev, chain.id)) {
      if (chain.at > base) state[chain.at - base - 1] = NAMED
    } else {
      problems.push({ seq, id: toHex(id), problem: 'prev is not the author\'s previous entry' })
      const at = d.entry.prev.byteLength > 0 ? recentAt(d.entry.prev) : undefined
      if (at != null) state[at - base - 1] = NAMED
    }
    let parentClock = chain.clock
    for (const link of d.entry.links) {
      const parent = linked(link, seq, older)
      if (parent == null) {
        problems.push({ seq, id: toHex(id), problem: `link ${toHex(link)} is not stored before the entry` })
        continue
      }
      if (parent.at > base) state[parent.at - base - 1] = NAMED
      parentClock = Math.max(parentClock, parent.clock)
    }
    if (d.entry.clock !== parentClock + 1) problems.push({ seq, id: toHex(id), problem: `clock ${d.entry.clock} is not one more than its parents' ${parentClock}` })
    chain.seq = d.entry.seq
    chain.id = d.id
    chain.clock = d.entry.clock
    chain.at = seq
    chain.unsigned = d.entry.signature.byteLength === 0 ? chain.unsigned + 1 : 0
    idAt.set(id, (seq - base - 1) * ID_LENGTH)
    clockAt[seq - base - 1] = d.entry.clock
    state[seq - base - 1] = WALKED
    recent.set(idBits(id), seq)
    if (seq - RECENT > base) {
      const gone = idBits(idOf(seq - RECENT))
      if (recent.get(gone) === seq - RECENT) recent.delete(gone)
    }
  }
  // a batch of the feed: decoded, then its links to entries older than
  // RECENT looked up by their id records, then checked in order
  const checkBatch = async (records: Array<[Buffer, Buffer]>): Promise<void> => {
    // each record's entries, as [position, item]; those committed after the view was taken are left out
    const batch: Array<[number, Buffer]> = []
    for (const [key, value] of records) {
      const start = readSeq(key)
      try {
        unpackFeed(start, value, (seq, item) => {
          if (seq > view.length) return false
          batch.push([seq, item])
        })
      } catch (err) {
        problems.push({ seq: start, problem: (err as Error).message })
      }
    }
    const decoded: Array<{ d?: DecodedEntry, bad?: unknown }> = []
    const lookup = new Map<string, Buffer>()
    for (const [seq, value] of batch) {
      try {
        const d = value.byteLength > ID_LENGTH ? decodeEntry(feedBytes(value, seq)) : undefined
        decoded.push({ d })
        for (const link of d?.entry.links ?? []) {
          if (recentAt(link) !== undefined) continue
          const k = key(link)
          if (!cutClocks.has(k)) lookup.set(k, Buffer.from(link))
        }
      } catch (err) {
        decoded.push({ bad: err })
      }
    }
    const older = new Map<string, number>()
    if (lookup.size > 0) {
      const records = await levels.ids.getMany([...lookup.values()])
      const keys = [...lookup.keys()]
      records.forEach((r, i) => { if (r?.byteLength === 16) older.set(keys[i], readIdValue(r).seq) })
    }
    batch.forEach(([seq, value], i) => { check(seq, value, decoded[i].d, decoded[i].bad, older) })
  }
  await walk(levels.feed, { gt: seqKey(base), lte: seqKey(view.length) }, signal, checkBatch)
  if (count !== view.length) problems.push({ problem: `the feed holds ${count - base} entries after position ${base}, the log says ${view.length - base}` })
  // every entry has its id record, and only entries have one
  let records = 0
  await walk(levels.ids, {}, signal, batch => {
    for (const [id, value] of batch) {
      let record: { seq: number, clock: number }
      try {
        record = readIdValue(value)
      } catch {
        problems.push({ id: toHex(id), problem: 'damaged id record' })
        continue
      }
      // committed after the view was taken
      if (record.seq > view.length) continue
      if (record.seq <= base || !equalBytes(idOf(record.seq), id)) {
        problems.push({ id: toHex(id), problem: `an id record (feed position ${record.seq}) for no entry of the feed` })
        continue
      }
      records++
      if (clockAt[record.seq - base - 1] !== record.clock) problems.push({ seq: record.seq, id: toHex(id), problem: `its id record says clock ${record.clock}` })
    }
  })
  if (records < count - base) problems.push({ problem: `${count - base - records} entries of the feed have no id record` })
  for (const [author, chain] of chains) {
    if (chain.unsigned > 0) problems.push({ problem: `the last ${chain.unsigned} entries of author ${author} are not covered by a signature` })
    const seq = view.seqs.get(author)
    if (seq !== chain.seq) problems.push({ problem: `author ${author} index says seq ${seq}, the feed ${chain.seq}` })
  }
  const headsHex = new Set<string>()
  for (let seq = base + 1; seq <= count; seq++) if (state[seq - base - 1] === WALKED) headsHex.add(idOf(seq).toString('hex'))
  // a head may be a dropped entry, held in the cut
  for (const hex of view.heads) if (boundary.cut.has(hex)) headsHex.add(hex)
  if ([...headsHex].sort().join() !== view.heads.join()) problems.push({ problem: `the heads are ${view.heads.join(', ')}; the feed says ${[...headsHex].sort().join(', ')}` })
  return { ok: problems.length === 0, entries: count - base, authors: chains.size, problems }
}

// Every record of `sub` in `range`, a batch at a time, the next read while
// this one is checked: a long walk stops between batches once nobody waits
// for it (`signal`).
async function walk (sub: Sub, range: { gt?: Buffer, lte?: Buffer }, signal: AbortSignal | undefined, each: (batch: Array<[Buffer, Buffer]>) => void | Promise<void>): Promise<void> {
  const it = sub.iterator(range)
  let next = it.nextv(1024)
  try {
    for (let batch = await next; batch.length > 0; batch = await next) {
      signal?.throwIfAborted()
      next = it.nextv(1024)
      await each(batch)
    }
  } finally {
    await next.catch(() => {})
    await it.close()
  }
}
