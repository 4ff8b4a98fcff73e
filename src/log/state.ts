// The log's in-memory state (length, clock, heads, each author's newest
// entry and run, the emit keys of the window) and the level ops that a
// commit makes of it (with the name index's records). Synchronous and
// without a db: the commit pipeline prepares a commit here, writes its ops,
// and applies it here only once the write has succeeded.
import { equalBytes, EMPTY, ID_LENGTH, toHex, type DecodedEntry, type Entry, type Head } from './entry.js'
import { AuthorState, forNameRuns, ID_VALUE_LENGTH, nameKey, namePrefix, nameRunValue, packRecords, runKey, seqKey, writeIdValue } from './keys.js'
import { CHECKPOINT_KEY, HEADS_KEY, INDEX_KEY, indexMark, keyPrefix, op, PackedPuts, type BatchOp, type Op } from './level.js'
import type { LogEntry, Sub } from './types.js'

/**
 * Run and heads records are written at checkpoints, not at every commit (an
 * awaited emit then writes two records, not four); opening replays the feed
 * from the last checkpoint. A checkpoint is due after this many entries...
 */
export const CHECKPOINT_ENTRIES = 4096
/** ...or this many commits. */
export const CHECKPOINT_COMMITS = 256

/** Emit keys remembered by default: the newest this many (about 100 bytes of memory each for a 36-character key). */
export const KEY_WINDOW = 100_000

/** Name index key prefixes kept made: event names are few. */
const NAME_PREFIXES = 1024

/**
 * The head of an author with no entry here: an AuthorState, as the heads
 * of the others are, so that code reading heads meets one kind of object
 * from its first call (a fresh node's first stored entries otherwise cost
 * V8's optimized ingest a deopt). Never changed.
 */
const NO_AUTHOR = new AuthorState(0, 0, 0, 0, EMPTY, 0)

/** A head: an entry no other entry links to. */
export interface HeadRef { id: Uint8Array<ArrayBuffer>, clock: number }

/** The sublevels a commit writes to, as whatever stands for them. */
export interface StateLevels<S> { feed: S, ids: S, heads: S, runs: S, meta: S, names: S, keys: S }

/** What the records in level say, read when the log opens. */
export interface LoadedState {
  length: number
  /** feed position the run and heads records reflect */
  checkpoint: number
  authors: Map<string, AuthorState>
  heads: Map<string, HeadRef>
  /** emit key -> feed position, oldest first */
  keys?: Map<string, number>
}

/** A commit ready to write: its level ops and the in-memory state after it. */
export interface Prepared<S> {
  ops: Array<Op<S>>
  stored: LogEntry[]
  heads: Map<string, HeadRef>
  authors: Map<string, AuthorState>
  length: number
  clock: number
  checkpoint: boolean
  /** entry bytes */
  bytes: number
  /** emit keys stored by the commit, with their entries' feed positions */
  keys: Array<[string, number]>
  /** the oldest emit keys, out of the window after it */
  evicted: string[]
}

class StoredEntry implements LogEntry {
  constructor (readonly seq: number, readonly id: Uint8Array<ArrayBuffer>, readonly bytes: Uint8Array, readonly entry: Entry) {}
}

export class LogState<S> {
  readonly #levels: StateLevels<S>
  #length: number
  #clock = 0
  #checkpoint: number
  #commitsSinceCheckpoint: number
  /** authors whose current run record is older than their state */
  readonly #dirty = new Set<string>()
  readonly #heads: Map<string, HeadRef>
  readonly #authors: Map<string, AuthorState>
  /** emit key -> feed position, in the order stored (a Map keeps it) */
  readonly #keys: Map<string, number>
  readonly #keyWindow: number
  readonly #namePrefixes = new Map<string, Buffer>()
  /** the key prefix of the ids sublevel, before each key of a commit's id records (none where levels are not sublevels) */
  readonly #idsPrefix: Uint8Array

  constructor (levels: StateLevels<S>, loaded: LoadedState = { length: 0, checkpoint: 0, authors: new Map(), heads: new Map() }, keyWindow = KEY_WINDOW) {
    this.#levels = levels
    const ids = levels.ids as Partial<Sub>
    this.#idsPrefix = typeof ids.prefixKey === 'function' ? keyPrefix(ids as Sub) : EMPTY
    this.#length = loaded.length
    this.#checkpoint = loaded.checkpoint
    this.#authors = loaded.authors
    this.#heads = loaded.heads
    this.#keys = loaded.keys ?? new Map<string, number>()
    this.#keyWindow = keyWindow
    for (const head of this.#heads.values()) this.#clock = Math.max(this.#clock, head.clock)
    // records older than the feed: the next commit brings them up to date
    this.#commitsSinceCheckpoint = this.#length > this.#checkpoint ? CHECKPOINT_COMMITS : 0
  }

  /** The last feed position. */
  get length (): number {
    return this.#length
  }

  /** The highest Lamport clock stored. */
  get clock (): number {
    return this.#clock
  }

  /** The feed position the run and heads records in level reflect. */
  get checkpoint (): number {
    return this.#checkpoint
  }

  /** Heads by hex id. */
  get heads (): ReadonlyMap<string, HeadRef> {
    return this.#heads
  }

  /** Each author's newest entry and run, by hex public key. */
  get authors (): ReadonlyMap<string, AuthorState> {
    return this.#authors
  }

  authorHead (author: string): Head {
    return this.#authors.get(author) ?? NO_AUTHOR
  }

  /** The feed position of the entry stored with emit key `key`, if it is in the window. */
  keyed (key: string): number | undefined {
    return this.#keys.get(key)
  }

  /** The emit keys of the entries at feed positions up to `position` (dropped by retention), oldest first. */
  keysUpTo (position: number): string[] {
    const out: string[] = []
    for (const [key, seq] of this.#keys) {
      // in the order stored, so in feed order
      if (seq > position) break
      out.push(key)
    }
    return out
  }

  /** Forgets emit keys whose entries were dropped. */
  forgetKeys (keys: string[]): void {
    for (const key of keys) this.#keys.delete(key)
  }

  /** Emit keys in the window. */
  get keyCount (): number {
    return this.#keys.size
  }

  // Applies feed entries after the checkpoint to the state loaded from it:
  // the feed is the truth, the records a cache of it.
  replay (entries: LogEntry[]): void {
    for (const e of entries) {
      const author = toHex(e.entry.author)
      const state = this.#authors.get(author)
      if (state == null || e.entry.seq > state.seq) {
        this.#authors.set(author, AuthorState.next(state, e.entry.seq, e.seq, e.id, e.entry.clock))
        this.#dirty.add(author)
      }
      if (e.entry.prev.byteLength > 0) this.#heads.delete(toHex(e.entry.prev))
      for (const link of e.entry.links) this.#heads.delete(toHex(link))
      this.#heads.set(toHex(e.id), { id: e.id, clock: e.entry.clock })
      if (e.entry.clock > this.#clock) this.#clock = e.entry.clock
    }
  }

  /**
   * The level ops of a commit of `entries` (checked, in causal order, each
   * new) and the state after it; changes nothing, so that a commit whose
   * write fails leaves the state as it was. `keys[i]`, when given, is the
   * emit key of `entries[i]`: each is new (the commit pipeline makes sure).
   */
  prepare (entries: DecodedEntry[], keys?: ReadonlyArray<string | undefined>): Prepared<S> {
    const levels = this.#levels
    const ops: Array<Op<S>> = []
    const ids = new PackedPuts(levels.ids, this.#idsPrefix, ID_LENGTH, ID_VALUE_LENGTH, entries.length)
    ops.push(ids)
    const heads = new Map(this.#heads)
    const authors = new Map<string, AuthorState>()
    let length = this.#length
    let clock = this.#clock
    let bytes = 0
    const stored: LogEntry[] = []
    // The newest entry is a head until an entry links to it. In a chain (a
    // commit group, a run from one author) the next entry's prev is it, so
    // it never enters the heads map and its hex is never made.
    let tip: DecodedEntry | undefined
    let lastAuthor: Uint8Array | undefined
    let hex = ''
    let state: AuthorState | undefined
    // whether `state` was made by this prepare: then a run goes on in it, in place
    let own = false
    for (let i = 0; i < entries.length; i++) {
      const d = entries[i]
      const seq = ++length
      const at = ids.add()
      ids.bytes.set(d.id, at)
      writeIdValue(ids.bytes, at + ID_LENGTH, seq, d.entry.clock)
      bytes += d.bytes.byteLength
      const { prev, links } = d.entry
      if (tip != null && !(prev.byteLength > 0 && equalBytes(prev, tip.id))) {
        heads.set(toHex(tip.id), { id: tip.id, clock: tip.entry.clock })
        if (prev.byteLength > 0) heads.delete(toHex(prev))
      } else if (tip == null && prev.byteLength > 0) {
        heads.delete(toHex(prev))
      }
      for (let j = 0; j < links.length; j++) heads.delete(toHex(links[j]))
      tip = d
      if (d.entry.clock > clock) clock = d.entry.clock
      if (lastAuthor == null || !equalBytes(lastAuthor, d.entry.author)) {
        if (state != null) authors.set(hex, state)
        lastAuthor = d.entry.author
        hex = toHex(lastAuthor)
        state = authors.get(hex)
        own = state != null
        state ??= this.#authors.get(hex)
      }
      if (own && state != null && state.extends(d.entry.seq, seq)) {
        state.advance(d.entry.seq, seq, d.id, d.entry.clock)
      } else {
        const after = AuthorState.next(state, d.entry.seq, seq, d.id, d.entry.clock)
        // a run record is written when it ends and at checkpoints
        if (state != null && after.runFirst !== state.runFirst && !state.empty) {
          ops.push(op('put', levels.runs, runKey(d.entry.author, state.runFirst), state.encodeRun()))
        }
        state = after
        own = true
      }
      stored.push(new StoredEntry(seq, d.id, d.bytes, d.entry))
    }
    // the feed, as records of one block each
    for (const [key, value] of packRecords(stored)) ops.push(op('put', levels.feed, key, value))
    if (state != null) authors.set(hex, state)
    if (tip != null) heads.set(toHex(tip.id), { id: tip.id, clock: tip.entry.clock })
    // the name index: one record per run of one name
    forNameRuns(stored, (name, first, last) => ops.push(op('put', levels.names, nameKey(this.#namePrefix(name), first), nameRunValue(first, last))))
    const { added, evicted } = this.#keyOps(ops, stored, keys)
    const checkpoint = length - this.#checkpoint >= CHECKPOINT_ENTRIES || this.#commitsSinceCheckpoint + 1 >= CHECKPOINT_COMMITS
    if (checkpoint) this.#checkpointOps(ops, authors, heads, length)
    return { ops, stored, heads, authors, length, clock, checkpoint, bytes, keys: added, evicted }
  }

  #namePrefix (name: string): Buffer {
    let prefix = this.#namePrefixes.get(name)
    if (prefix == null) {
      // a peer may send entries of ever new names: the cache stays bounded
      if (this.#namePrefixes.size >= NAME_PREFIXES) this.#namePrefixes.clear()
      prefix = namePrefix(name)
      this.#namePrefixes.set(name, prefix)
    }
    return prefix
  }

  // The emit key records of a commit: one per key stored, and the removal of
  // the oldest ones that fall out of the window.
  #keyOps (ops: Array<Op<S>>, stored: LogEntry[], keys: ReadonlyArray<string | undefined> | undefined): { added: Array<[string, number]>, evicted: string[] } {
    let added: Array<[string, number]> = []
    const evicted: string[] = []
    if (keys == null) return { added, evicted }
    keys.forEach((key, i) => { if (key != null) added.push([key, stored[i].seq]) })
    if (added.length === 0) return { added, evicted }
    if (added.length > this.#keyWindow) added = added.slice(added.length - this.#keyWindow)
    let over = this.#keys.size + added.length - this.#keyWindow
    for (const key of this.#keys.keys()) {
      if (over-- <= 0) break
      evicted.push(key)
      ops.push(op('del', this.#levels.keys, Buffer.from(key), undefined))
    }
    for (const [key, seq] of added) ops.push(op('put', this.#levels.keys, Buffer.from(key), seqKey(seq)))
    return { added, evicted }
  }

  /** Makes a prepared commit the state, once its ops are durable. */
  apply (c: Prepared<S>): void {
    this.#length = c.length
    this.#clock = c.clock
    if (c.checkpoint) {
      this.#checkpoint = c.length
      this.#commitsSinceCheckpoint = 0
      this.#dirty.clear()
    } else {
      this.#commitsSinceCheckpoint++
      for (const author of c.authors.keys()) this.#dirty.add(author)
    }
    this.#heads.clear()
    for (const [hex, head] of c.heads) this.#heads.set(hex, head)
    for (const [hex, state] of c.authors) this.#authors.set(hex, state)
    for (const key of c.evicted) this.#keys.delete(key)
    for (const [key, seq] of c.keys) {
      // a key set again goes to the end: the window is in the order stored
      this.#keys.delete(key)
      this.#keys.set(key, seq)
    }
  }

  /**
   * Compaction dropped the feed up to `position`: the current runs of these
   * authors lose what they held there (their records are clipped alike).
   */
  clip (position: number, authors: Iterable<string>): void {
    for (const author of authors) {
      const s = this.#authors.get(author)
      if (s == null || s.empty || s.runFeedStart > position) continue
      this.#authors.set(author, s.feedSeq <= position
        ? AuthorState.floor(s.seq, s.id, s.clock)
        : new AuthorState(s.seq, s.feedSeq, s.runFirst + position + 1 - s.runFeedStart, position + 1, s.id, s.clock))
    }
  }

  /** The author's chain here starts after `head`, an entry this node does not hold (an adopted floor). */
  setFloor (author: string, head: Head): void {
    this.#authors.set(author, AuthorState.floor(head.seq, head.id as Uint8Array<ArrayBuffer>, head.clock))
  }

  /** Whether a floor after an entry of `author` at `seq` may be adopted: nothing of it is kept here, and it is beyond what is. */
  mayAdopt (author: string, seq: number): boolean {
    const s = this.#authors.get(author)
    return s == null || (s.empty && seq > s.seq)
  }

  /**
   * The ops of a checkpoint at the current state, if the records lag the
   * feed: written at close, so that the next open replays nothing.
   */
  closingCheckpoint (): Array<BatchOp<S>> | undefined {
    if (this.#length <= this.#checkpoint) return undefined
    const ops: Array<BatchOp<S>> = []
    this.#checkpointOps(ops, new Map(), this.#heads, this.#length)
    return ops
  }

  /** The ops of `closingCheckpoint` were written. */
  checkpointed (): void {
    this.#checkpoint = this.#length
    this.#commitsSinceCheckpoint = 0
    this.#dirty.clear()
  }

  // The records a checkpoint writes: every changed author's current run, the
  // heads, and the feed position they reflect, which the name index reaches
  // too (every commit writes its entries' index records).
  #checkpointOps (ops: Array<Op<S>>, authors: Map<string, AuthorState>, heads: Map<string, { id: Uint8Array }>, length: number): void {
    const levels = this.#levels
    const changed = new Set([...this.#dirty, ...authors.keys()])
    for (const author of changed) {
      const state = authors.get(author) ?? this.#authors.get(author)
      if (state != null && !state.empty) ops.push(op('put', levels.runs, runKey(Buffer.from(author, 'hex'), state.runFirst), state.encodeRun()))
    }
    ops.push(op('put', levels.heads, HEADS_KEY, Buffer.concat([...heads.values()].map(h => h.id))))
    ops.push(op('put', levels.meta, CHECKPOINT_KEY, seqKey(length)))
    ops.push(op('put', levels.meta, INDEX_KEY, indexMark(length)))
  }
}
