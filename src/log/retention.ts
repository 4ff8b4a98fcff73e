// Retention: a log that drops its oldest entries so that its disk stays
// bounded (src/log/README.md, "Retention"). What is dropped is always a
// prefix of the feed, so every kept entry is still covered by a signature
// (an unsigned entry is stored only with its signed cover, which comes after
// it in the feed); what kept entries refer to is kept in floors and the cut
// (floors.ts).
import { logger } from '@libp2p/logger'
import { HyperEmitterError } from '../errors.js'
import { toHex } from './entry.js'
import { Boundary, CutEntry, type Floor } from './floors.js'
import { decodeRun, nameKey, namePrefix, nameRunLast, nameRunValue, readSeq, runKey, writeSeq, RUN_VALUE_LENGTH } from './keys.js'
import { op, type BatchOp } from './level.js'
import { feedDropOps, readFeed } from './reads.js'
import type { CommitPipeline } from './commit.js'
import type { LogState } from './state.js'
import type { LogEntry, Sub, Sublevels } from './types.js'

const log = logger('hyperemitter:log')

/** How much of its log a node keeps. Either bound, or both (an entry goes when either says so). */
export interface RetentionPolicy {
  /** drop entries whose author's timestamp is older than this many ms (in feed order: a prefix) */
  maxAge?: number
  /** keep at most this many entries */
  maxEvents?: number
}

/** Entries dropped in one atomic step: commits go on between steps. */
export const COMPACT_STEP = 4096
/**
 * A log is compacted once it is over `maxEvents` by this share of it, or by
 * MIN_SLACK entries, whichever is more: not after every commit.
 */
export const SLACK_RATIO = 0.1
export const MIN_SLACK = 1000
/** How often an age bound is applied, at most and at least (a tenth of maxAge in between). */
export const MIN_AGE_PERIOD = 1000
export const MAX_AGE_PERIOD = 60_000
/** Entries read at once while the links of kept entries are gathered. */
const SCAN_CHUNK = 1024

/** What a compaction did. */
export interface CompactResult {
  /** entries dropped */
  dropped: number
  /** the feed position up to which the log is dropped now */
  floor: number
}

/** Checks a policy; throws a HyperEmitterError (ERR_INVALID_OPTION) naming the bad field. */
export function checkPolicy (policy: RetentionPolicy): void {
  const { maxAge, maxEvents } = policy
  if (maxAge != null && !(Number.isSafeInteger(maxAge) && maxAge >= 1)) throw new HyperEmitterError(`retention.maxAge must be a whole number of ms of at least 1, not ${String(maxAge)}`, 'ERR_INVALID_OPTION')
  if (maxEvents != null && !(Number.isSafeInteger(maxEvents) && maxEvents >= 1)) throw new HyperEmitterError(`retention.maxEvents must be a whole number of at least 1, not ${String(maxEvents)}`, 'ERR_INVALID_OPTION')
}

export class Compactor {
  readonly #levels: Sublevels
  readonly #state: LogState<Sub>
  readonly #boundary: Boundary
  readonly #commits: CommitPipeline
  #policy: RetentionPolicy | undefined
  #running: Promise<CompactResult> | undefined
  #timer: ReturnType<typeof setInterval> | undefined
  #unsubscribe: (() => void) | undefined
  #stopped = false
  /** walks of the whole feed (verify) under way: compaction waits for them */
  #holds = 0
  #released: Array<() => void> = []
  /**
   * The link targets of the kept entries, each with the feed position of
   * the latest entry that links it (a dropped entry that a kept one links
   * is cut), as of feed position `#scanned`.
   */
  readonly #linked = new Map<string, number>()
  #scanned = 0

  constructor (levels: Sublevels, state: LogState<Sub>, boundary: Boundary, commits: CommitPipeline) {
    this.#levels = levels
    this.#state = state
    this.#boundary = boundary
    this.#commits = commits
  }

  /** Applies `policy` from now on: after commits that take the log over its bound, and on a timer for an age. */
  start (policy: RetentionPolicy): void {
    checkPolicy(policy)
    this.#policy = policy
    const { maxEvents, maxAge } = policy
    if (maxEvents != null) {
      const slack = Math.max(MIN_SLACK, Math.ceil(maxEvents * SLACK_RATIO))
      this.#unsubscribe = this.#commits.onCommit(() => {
        if (this.#state.length - this.#boundary.position > maxEvents + slack) this.#trigger()
      })
    }
    if (maxAge != null) {
      this.#timer = setInterval(() => { this.#trigger() }, Math.min(MAX_AGE_PERIOD, Math.max(MIN_AGE_PERIOD, Math.floor(maxAge / 10))))
      this.#timer.unref?.()
    }
    // what the log holds beyond the policy already
    this.#trigger()
  }

  #trigger (): void {
    if (this.#running != null || this.#stopped || this.#policy == null) return
    this.compact(this.#policy).catch((err: unknown) => { log.error('compaction failed: %e', err) })
  }

  /** Drops what `policy` says to drop now, a step at a time; one compaction runs at a time. */
  compact (policy: RetentionPolicy, now = Date.now()): Promise<CompactResult> {
    checkPolicy(policy)
    if (this.#running != null) return this.#running.then(() => this.compact(policy, now))
    const running = this.#run(policy, now).finally(() => { this.#running = undefined })
    this.#running = running
    return running
  }

  /** Keeps compaction off the feed until the returned function is called (a walk of the whole feed). */
  hold (): () => void {
    this.#holds++
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.#holds === 0) for (const wake of this.#released.splice(0)) wake()
    }
  }

  /** Stops the policy, and waits for a compaction under way (its current step; the rest is left for later). */
  async stop (): Promise<void> {
    this.#stopped = true
    clearInterval(this.#timer)
    this.#unsubscribe?.()
    await this.#running?.catch(() => {})
  }

  // Reads the links of the entries stored since the last scan, up to `upTo`:
  // each run of the policy reads only what is new, not the whole kept log.
  async #scan (upTo: number): Promise<void> {
    await this.#commits.flushedTo(upTo)
    for (let pos = Math.max(this.#scanned, this.#boundary.position) + 1; pos <= upTo; pos += SCAN_CHUNK) {
      for (const e of await readFeed(this.#levels, pos, Math.min(SCAN_CHUNK, upTo - pos + 1))) {
        for (const link of e.entry.links) this.#linked.set(toHex(link), e.seq)
      }
    }
    this.#scanned = Math.max(this.#scanned, upTo)
  }

  async #run (policy: RetentionPolicy, now: number): Promise<CompactResult> {
    let dropped = 0
    while (true) {
      if (this.#holds > 0) await new Promise<void>(resolve => { this.#released.push(resolve) })
      // most of the scan runs while commits go on; what they add is scanned under the lock
      await this.#scan(this.#state.length)
      const step = await this.#commits.serialize(async () => {
        if (this.#holds > 0) return -1
        await this.#commits.flushedTo(this.#state.length)
        await this.#scan(this.#state.length)
        return this.#step(policy, now, this.#linked)
      })
      if (step === 0 || this.#stopped) break
      if (step > 0) dropped += step
      // commits and reads get the event loop between steps
      await new Promise(resolve => setImmediate(resolve))
    }
    if (dropped > 0) log('compacted %d entries: the log starts after position %d', dropped, this.#boundary.position)
    return { dropped, floor: this.#boundary.position }
  }

  // One atomic step: drops up to COMPACT_STEP entries from the start of the
  // feed, with the floors, runs, cut and checkpoint that follow. Runs
  // serialized with commits, once level holds every commit.
  async #step (policy: RetentionPolicy, now: number, linked: Map<string, number>): Promise<number> {
    const state = this.#state
    const boundary = this.#boundary
    const levels = this.#levels
    const from = boundary.position
    let count = 0
    if (policy.maxEvents != null) count = Math.min(COMPACT_STEP, state.length - from - policy.maxEvents)
    if (policy.maxAge == null && count <= 0) return 0
    const chunk = await readFeed(levels, from + 1, policy.maxAge == null ? count : COMPACT_STEP)
    if (policy.maxAge != null) {
      const oldest = now - policy.maxAge
      let old = 0
      while (old < chunk.length && chunk[old].entry.timestamp < oldest) old++
      count = Math.max(count, old)
    }
    count = Math.min(count, chunk.length)
    if (count <= 0) return 0
    const drop = chunk.slice(0, count)
    const floor = drop[drop.length - 1].seq
    const ops: BatchOp[] = []
    // each author's last dropped entry: its floor is the next seq
    const last = new Map<string, LogEntry>()
    ops.push(...await feedDropOps(levels, from, floor))
    for (const e of drop) {
      ops.push(op('del', levels.ids, Buffer.from(e.id), undefined))
      last.set(toHex(e.entry.author), e)
    }
    await this.#clipNames(ops, new Set(drop.map(e => e.entry.name)), from, floor)
    // the emit keys of dropped entries: an emit with one of them stores anew
    const keys = state.keysUpTo(floor)
    for (const key of keys) ops.push(op('del', levels.keys, Buffer.from(key), undefined))
    const floors = new Map<string, Floor>()
    for (const [author, e] of last) {
      const f = { seq: e.entry.seq + 1, prev: e.id }
      floors.set(author, f)
      ops.push(Boundary.floorOps(levels.floors, author, f))
      await this.#clipRuns(ops, author, f.seq, floor)
    }
    // the cut: dropped entries that a kept one links to, that begin a
    // floor, or that are heads (a later entry may link them)
    const prevOf = (author: string): Uint8Array | undefined => (floors.get(author) ?? boundary.floors.get(author))?.prev
    const keeps = (hex: string, c: CutEntry): boolean => {
      if ((linked.get(hex) ?? 0) > floor || state.heads.has(hex)) return true
      const prev = prevOf(toHex(c.entry.author))
      return prev != null && toHex(prev) === hex
    }
    const cutAdd: CutEntry[] = []
    const cutDel: string[] = []
    for (const [hex, c] of boundary.cut) if (!keeps(hex, c)) cutDel.push(hex)
    for (const e of drop) {
      const c = new CutEntry(e.id, e.bytes, e.entry)
      if (keeps(toHex(e.id), c)) cutAdd.push(c)
    }
    for (const hex of cutDel) ops.push(op('del', levels.cut, Buffer.from(hex, 'hex'), undefined))
    for (const c of cutAdd) ops.push(Boundary.cutOp(levels.cut, c))
    ops.push(Boundary.positionOp(levels.meta, floor))
    // the runs in memory lose the dropped positions; a checkpoint of the
    // state after it goes in the same batch: the heads and runs records
    // then say nothing of dropped entries, and opening replays nothing dropped
    state.clip(floor, last.keys())
    for (const o of state.closingCheckpoint() ?? []) ops.push(o)
    await this.#commits.writeNow(ops)
    state.checkpointed()
    state.forgetKeys(keys)
    boundary.position = floor
    for (const [author, f] of floors) boundary.floors.set(author, f)
    for (const hex of cutDel) boundary.cut.delete(hex)
    for (const c of cutAdd) boundary.cut.set(toHex(c.id), c)
    for (const [hex, at] of linked) if (at <= floor) linked.delete(hex)
    return count
  }

  // The name index records of the dropped positions (from, floor]: each is a
  // run of one name that starts there; the part of one past the floor is
  // kept, keyed by floor + 1.
  async #clipNames (ops: BatchOp[], names: Set<string>, from: number, floor: number): Promise<void> {
    const index = this.#levels.names
    for (const name of names) {
      const prefix = namePrefix(name)
      for await (const [key, value] of index.iterator({ gt: nameKey(prefix, from), lte: nameKey(prefix, floor) })) {
        ops.push(op('del', index, key, undefined))
        const last = nameRunLast(readSeq(key.subarray(prefix.byteLength)), value)
        if (last > floor) ops.push(op('put', index, nameKey(prefix, floor + 1), nameRunValue(floor + 1, last)))
      }
    }
  }

  // The run records of `author` that begin below its new floor: those that
  // end at or before `floor` go, one that straddles it is clipped (its
  // record moves to its new first seq).
  async #clipRuns (ops: BatchOp[], author: string, floorSeq: number, floor: number): Promise<void> {
    const key = Buffer.from(author, 'hex')
    const runs = this.#levels.runs
    for await (const [k, value] of runs.iterator({ gte: runKey(key, 0), lt: runKey(key, floorSeq) })) {
      if (value.byteLength !== RUN_VALUE_LENGTH) continue
      const run = decodeRun(k, value)
      ops.push(op('del', runs, Buffer.from(k), undefined))
      if (run.feedStart + run.last - run.first <= floor) continue
      const first = run.first + floor + 1 - run.feedStart
      const clipped = Buffer.from(value)
      writeSeq(clipped, floor + 1, 8)
      ops.push(op('put', runs, runKey(key, first), clipped))
    }
  }
}

