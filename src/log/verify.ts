// A check of the whole stored log against itself and against the in-memory
// state, for tools and tests: it reads everything.
import { on } from 'node:events'
import { Worker } from 'node:worker_threads'
import { ID_LENGTH, entryId, equalBytes, sameIdAt, toHex } from './entry.js'
import { FeedCheck, WALKED, type FeedCheckInit, type FeedCheckResult } from './feed-check.js'
import { Boundary } from './floors.js'
import { readIdValue, readSeq, seqKey } from './keys.js'
import { SCAN } from './level.js'
import { pack, transfers } from './packed.js'
import type { LogState } from './state.js'
import type { Sub, Sublevels, VerifyProblem, VerifyReport } from './types.js'
import type { RecordBatch } from './verify-worker.js'

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

/** Feeds of at least this many entries to check are checked on a worker thread, while this one walks the id records. */
export const WORKER_FROM = 65_536
/** batches of feed records sent to the worker and not yet checked */
const IN_FLIGHT = 16

/**
 * Walks the feed up to `view.length` (level must have it) and checks every
 * id, parent link, author chain and signature, and that every unsigned entry
 * is covered by a signed one (FeedCheck, on a worker thread for a long
 * feed); meanwhile walks the id records, and then checks that each entry
 * has one, with its feed position and clock. Commits may go on meanwhile.
 */
export async function verify (levels: Pick<Sublevels, 'feed' | 'ids'>, view: Expected, signal?: AbortSignal, boundary = new Boundary(), workerFrom = WORKER_FROM): Promise<VerifyReport> {
  const problems: VerifyProblem[] = []
  const base = boundary.position
  const init: FeedCheckInit = { base, length: view.length, cut: [], chains: [] }
  for (const [hex, c] of boundary.cut) {
    if (!equalBytes(entryId(c.bytes), c.id)) problems.push({ id: hex, problem: 'cut entry: id does not match the entry bytes' })
    init.cut.push([c.id, c.entry.clock])
  }
  // each author's chain starts at its floor, on the dropped entry before it
  for (const [author, floor] of boundary.floors) {
    const prev = boundary.cut.get(toHex(floor.prev))
    if (prev == null || prev.entry.seq !== floor.seq - 1 || toHex(prev.entry.author) !== author) {
      problems.push({ problem: `the floor of author ${author} does not name the dropped entry before it` })
      continue
    }
    init.chains.push({ author, seq: floor.seq - 1, id: floor.prev, clock: prev.entry.clock })
  }
  const [walked, ids] = await Promise.all([
    checkFeed(levels.feed, init, signal, view.length - base >= workerFrom),
    idRecords(levels.ids, base, view.length, signal)
  ])
  problems.push(...walked.problems, ...ids.problems)
  const { count, idAt, clockAt, state } = walked
  if (count !== view.length) problems.push({ problem: `the feed holds ${count - base} entries after position ${base}, the log says ${view.length - base}` })
  // every entry has its id record, and only entries have one
  let records = 0
  const record = (seq: number, clock: number, ofEntry: boolean, id: () => Uint8Array): void => {
    if (!ofEntry) {
      problems.push({ id: toHex(id()), problem: `an id record (feed position ${seq}) for no entry of the feed` })
      return
    }
    records++
    if (clockAt[seq - base - 1] !== clock) problems.push({ seq, id: toHex(id()), problem: `its id record says clock ${clock}` })
  }
  for (let i = 0; i < ids.has.length; i++) {
    if (ids.has[i] === 1) record(base + i + 1, ids.clocks[i], sameIdAt(idAt, i, ids.ids, i), () => ids.ids.subarray(i * ID_LENGTH, (i + 1) * ID_LENGTH))
  }
  for (const r of ids.aside) {
    // committed after the view was taken
    if (r.seq > view.length) continue
    record(r.seq, r.clock, r.seq > base && sameIdAt(idAt, r.seq - base - 1, r.id, 0), () => r.id)
  }
  if (records < count - base) problems.push({ problem: `${count - base - records} entries of the feed have no id record` })
  for (const chain of walked.chains) {
    if (chain.unsigned > 0) problems.push({ problem: `the last ${chain.unsigned} entries of author ${chain.author} are not covered by a signature` })
    const seq = view.seqs.get(chain.author)
    if (seq !== chain.seq) problems.push({ problem: `author ${chain.author} index says seq ${seq}, the feed ${chain.seq}` })
  }
  const headsHex = new Set<string>()
  for (let seq = base + 1; seq <= count; seq++) if (state[seq - base - 1] === WALKED) headsHex.add(toHex(idAt.subarray((seq - base - 1) * ID_LENGTH, (seq - base) * ID_LENGTH)))
  // a head may be a dropped entry, held in the cut
  for (const hex of view.heads) if (boundary.cut.has(hex)) headsHex.add(hex)
  if ([...headsHex].sort().join() !== view.heads.join()) problems.push({ problem: `the heads are ${view.heads.join(', ')}; the feed says ${[...headsHex].sort().join(', ')}` })
  return { ok: problems.length === 0, entries: count - base, authors: walked.chains.length, problems }
}

/** Checks the feed's records in `init`'s range, on a worker thread or in this one. */
async function checkFeed (feed: Sub, init: FeedCheckInit, signal: AbortSignal | undefined, onWorker: boolean): Promise<FeedCheckResult> {
  const range = { gt: seqKey(init.base), lte: seqKey(init.length) }
  if (!onWorker) {
    const check = new FeedCheck(init)
    await walk(feed, range, signal, batch => { for (const [key, value] of batch) check.record(readSeq(key), value) })
    return check.finish()
  }
  const worker = new Worker(new URL('./verify-worker.js', import.meta.url), { workerData: init })
  try {
    // what the worker posts; its errors are thrown from here
    const replies = on(worker, 'message')
    const reply = async (): Promise<unknown> => {
      const next = await replies.next()
      return (next.value as unknown[])[0]
    }
    let inFlight = 0
    await walk(feed, range, signal, async batch => {
      if (inFlight === IN_FLIGHT) {
        await reply()
        inFlight--
      }
      const records = packBatch(batch)
      worker.postMessage(records, [records.starts.buffer as ArrayBuffer, ...transfers(records)])
      inFlight++
    })
    for (; inFlight > 0; inFlight--) await reply()
    worker.postMessage('finish')
    return await reply() as FeedCheckResult
  } finally {
    await worker.terminate()
  }
}

/** Feed records as one batch for the worker: their start positions, and their values packed. */
function packBatch (batch: Array<[Buffer, Buffer]>): RecordBatch {
  return { starts: Float64Array.from(batch, ([key]) => readSeq(key)), ...pack(batch.map(([, value]) => value)) }
}

/**
 * The id records of positions base + 1 to `length`, copied into flat arrays
 * by position: a walk of them holds no record. Those of other positions,
 * and a second one of a position, are kept aside.
 */
class IdRecords {
  readonly ids: Uint8Array
  readonly clocks: Float64Array
  /** 1 where a position has its record */
  readonly has: Uint8Array
  readonly aside: Array<{ id: Uint8Array, seq: number, clock: number }> = []
  /** damaged records, left out */
  readonly problems: VerifyProblem[] = []
  readonly #base: number

  constructor (base: number, length: number) {
    const n = Math.max(0, length - base)
    this.#base = base
    this.ids = new Uint8Array(n * ID_LENGTH)
    this.clocks = new Float64Array(n)
    this.has = new Uint8Array(n)
  }

  add (id: Uint8Array, value: Uint8Array): void {
    let record: { seq: number, clock: number }
    try {
      record = readIdValue(value)
    } catch {
      this.problems.push({ id: toHex(id), problem: 'damaged id record' })
      return
    }
    if (id.byteLength !== ID_LENGTH) {
      this.problems.push({ id: toHex(id), problem: `an id record (feed position ${record.seq}) for no entry of the feed` })
      return
    }
    const i = record.seq - this.#base - 1
    if (i < 0 || i >= this.has.length || this.has[i] === 1) {
      this.aside.push({ id: new Uint8Array(id), ...record })
      return
    }
    this.has[i] = 1
    this.ids.set(id, i * ID_LENGTH)
    this.clocks[i] = record.clock
  }
}

async function idRecords (sub: Sub, base: number, length: number, signal: AbortSignal | undefined): Promise<IdRecords> {
  const out = new IdRecords(base, length)
  await walk(sub, {}, signal, batch => { for (const [id, value] of batch) out.add(id, value) })
  return out
}

// Every record of `sub` in `range`, a batch at a time, the next read while
// this one is checked: a long walk stops between batches once nobody waits
// for it (`signal`).
async function walk (sub: Sub, range: { gt?: Buffer, lte?: Buffer }, signal: AbortSignal | undefined, each: (batch: Array<[Buffer, Buffer]>) => void | Promise<void>): Promise<void> {
  const it = sub.iterator({ ...SCAN, ...range })
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
