// The commit pipeline: every write of the log goes through here, one at a
// time. Local appends wait in a queue and are committed in groups, one
// signature per group; remote entries are stored as they come. How a commit
// reaches the write-ahead file and level is level-writer.ts.
import { logger } from '@libp2p/logger'
import { ClosedError, StorageError } from '../errors.js'
import { authorHex, entryId, follows, readEntry, toHex, NO_HEAD, type DecodedEntry, type Entry, type Head } from './entry.js'
import { buildGroup, settle, type PendingAppend } from './group.js'
import type { Identity } from './identity.js'
import { writeBatch, type Op } from './level.js'
import { LevelWriter } from './level-writer.js'
import type { LogState } from './state.js'
import { Boundary, type CutEntry } from './floors.js'
import type { CommitListener, Db, LogEntry, Sub, Sublevels } from './types.js'
import type { Wal, WalRecord } from './wal.js'

const log = logger('hyperemitter:log')

/** Most local emits committed in one group: one signature covers them all. */
export const MAX_GROUP = 1024

/** A commit queued while a level flush runs longer than this goes after a turn of the event loop. */
const FLUSH_TURN_MS = 1

/** What a store takes from a peer besides entries: floors (by author, the dropped entry before each) and cut entries. */
export interface Adoption {
  floors: Map<string, CutEntry>
  cut: CutEntry[]
}

export interface PipelineInit {
  fsync: boolean
  maxGroup: number
}

export class CommitPipeline {
  readonly #db: Db
  readonly #levels: Sublevels
  readonly #writer: LevelWriter
  readonly #boundary: Boundary
  readonly #state: LogState<Sub>
  readonly #identity: Identity
  readonly #maxGroup: number
  readonly #listeners = new Set<CommitListener>()
  #queue: PendingAppend[] = []
  /** index of the first appends not yet taken: splicing a long queue per group would be quadratic */
  #queueHead = 0
  #commitScheduled = false
  #tail: Promise<unknown> = Promise.resolve()
  /** appends with an emit key, queued or being committed, by key */
  readonly #keyed = new Map<string, PendingAppend>()

  constructor (db: Db, levels: Sublevels, state: LogState<Sub>, boundary: Boundary, identity: Identity, init: PipelineInit) {
    this.#db = db
    this.#levels = levels
    this.#boundary = boundary
    this.#state = state
    this.#identity = identity
    this.#maxGroup = init.maxGroup
    this.#writer = new LevelWriter(db, levels.meta, init.fsync, state.length)
  }

  /**
   * Queues a local entry; see Log.append. An append with the key of one on
   * its way waits for that one's entry instead (the caller checked the
   * stored keys first).
   */
  append (name: string, payload: Uint8Array<ArrayBuffer>, result: ((entry: LogEntry) => unknown) | undefined, key?: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (key != null) {
        const first = this.#keyed.get(key)
        if (first != null) {
          (first.same ??= []).push({ resolve, reject, result })
          return
        }
      }
      const item: PendingAppend = { name, payload, key, resolve, reject, result, same: undefined }
      if (key != null) this.#keyed.set(key, item)
      this.#queue.push(item)
      if (!this.#commitScheduled) {
        this.#commitScheduled = true
        // not awaited: #commitQueued never rejects, it rejects the queued appends instead
        if (this.#writer.flushingFor(FLUSH_TURN_MS)) {
          // emits awaited one by one chain in microtasks: without a turn of
          // the event loop now and then, level's flush is never seen done,
          // and the write-ahead file fills until a commit waits for level
          setImmediate(() => { void this.serialize(() => this.#commitQueued()) })
        } else {
          void this.serialize(() => this.#commitQueued())
        }
      }
    })
  }

  // Commits the appends queued meanwhile, up to a group's worth; the rest
  // go in the next commit, queued behind whatever else waits to write.
  async #commitQueued (): Promise<void> {
    const end = Math.min(this.#queue.length, this.#queueHead + this.#maxGroup)
    const group = this.#queue.slice(this.#queueHead, end)
    this.#queueHead = end
    if (end === this.#queue.length) {
      this.#queue = []
      this.#queueHead = 0
    }
    if (this.#queue.length > 0) {
      // queued behind this commit, in a later turn of the event loop: back to
      // back in microtasks, a burst of groups never let the event loop see
      // level's flush of the first one done, so that level and this thread
      // took turns (100,000 emits started together waited 160-190 ms on
      // level, 10-30 ms so). Not awaited: it never rejects (see append).
      setImmediate(() => { void this.serialize(() => this.#commitQueued()) })
    } else {
      this.#commitScheduled = false
    }
    if (group.length === 0) return
    let entries: DecodedEntry[]
    try {
      entries = buildGroup(this.#state, this.#identity, group)
    } catch (err) {
      this.#refuse(group, err as Error)
      return
    }
    const keys = group.some(item => item.key != null) ? group.map(item => item.key) : undefined
    try {
      const stored = await this.#commit(entries, keys)
      group.forEach((item, i) => {
        settle(item, stored[i])
        if (item.same != null) for (const w of item.same) settle(w, stored[i])
      })
    } catch (err) {
      this.#refuse(group, err as Error)
    }
  }

  // Rejects appends that will not be stored, and those waiting on their keys.
  #refuse (group: PendingAppend[], err: Error): void {
    for (const item of group) {
      if (item.key != null && this.#keyed.get(item.key) === item) this.#keyed.delete(item.key)
      item.reject(err)
      if (item.same != null) for (const w of item.same) w.reject(err)
    }
  }

  // Once the state holds a commit's keys, they are found there, not here.
  #keysStored (keys: ReadonlyArray<string | undefined> | undefined): void {
    if (keys != null) for (const key of keys) if (key != null) this.#keyed.delete(key)
  }

  /** Stores checked remote entries; see Log.store. */
  store (entries: DecodedEntry[], adopt?: Adoption, by?: object): Promise<LogEntry[]> {
    return this.serialize(async () => {
      const fresh: DecodedEntry[] = []
      const heads = new Map<string, Head>()
      const hexOf = authorHex()
      // floors taken from the peer: only for authors of whom nothing is kept here
      const floors = new Map<string, CutEntry>()
      for (const [author, prev] of adopt?.floors ?? []) {
        if (!this.#state.mayAdopt(author, prev.entry.seq)) continue
        floors.set(author, prev)
        heads.set(author, prev.head)
      }
      // entries come in runs of one author: one head object per run, moved
      // along it (a copy: the state's own head is never changed here)
      let author = ''
      let run: Head = NO_HEAD
      for (let i = 0; i < entries.length; i++) {
        const d = entries[i]
        const a = hexOf(d.entry.author)
        if (a !== author) {
          author = a
          const head = heads.get(a) ?? this.#state.authorHead(a)
          run = { seq: head.seq, id: head.id, clock: head.clock }
          heads.set(a, run)
        }
        // stored already, or a fork of what is stored: the first one stays
        if (!follows(d.entry, run)) continue
        run.seq = d.entry.seq
        run.id = d.id
        run.clock = d.entry.clock
        fresh.push(d)
      }
      if (floors.size === 0 && (adopt == null || adopt.cut.length === 0)) return fresh.length === 0 ? [] : this.#commit(fresh, undefined, by)
      return this.#commitAdopting(fresh, floors, adopt?.cut ?? [], by)
    })
  }

  // A commit that takes floors and cut entries from a peer goes straight to
  // level, in one batch with them: the write-ahead file holds entries only.
  // Rare: once per author whose older entries this node never holds.
  async #commitAdopting (entries: DecodedEntry[], floors: Map<string, CutEntry>, cut: CutEntry[], by: object | undefined): Promise<LogEntry[]> {
    this.checkWritable()
    await this.flushedTo(this.#state.length)
    const c = this.#state.prepare(entries)
    const { floors: floorLevel, cut: cutLevel } = this.#levels
    const ops = c.ops
    const boundary = this.#boundary
    for (const [author, prev] of floors) {
      ops.push(Boundary.floorOps(floorLevel, author, { seq: prev.entry.seq + 1, prev: prev.id }))
      ops.push(Boundary.cutOp(cutLevel, prev))
    }
    for (const e of cut) ops.push(Boundary.cutOp(cutLevel, e))
    await this.#writer.write(this.#writer.indexed(ops, c.length))
    for (const [author, prev] of floors) {
      boundary.floors.set(author, { seq: prev.entry.seq + 1, prev: prev.id })
      boundary.cut.set(toHex(prev.id), prev)
      // an author none of whose entries came yet: its chain here starts after the floor
      if (!c.authors.has(author)) this.#state.setFloor(author, prev.head)
    }
    for (const e of cut) boundary.cut.set(toHex(e.id), e)
    this.#state.apply(c)
    this.#writer.flushedUpTo(c.length)
    if (c.stored.length > 0) this.#notify(c.stored, by)
    return c.stored
  }

  /** Writes ops straight to level, once it holds every commit (a compaction step, run serialized). */
  async writeNow (ops: Op[]): Promise<void> {
    this.checkWritable()
    await this.flushedTo(this.#state.length)
    await this.#writer.write(ops)
  }

  /** Runs `fn` after every write queued before it, and before any queued after. */
  serialize<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn)
    this.#tail = run.catch(() => {})
    return run
  }

  // Writes one commit and only then applies it to the state, so a failed
  // write leaves the log exactly as it was. With a write-ahead file the commit
  // is durable once appended to it, and level gets it in a later flush.
  async #commit (entries: DecodedEntry[], keys?: ReadonlyArray<string | undefined>, by?: object): Promise<LogEntry[]> {
    this.checkWritable()
    if (this.#writer.wal == null) {
      const stored = await this.#commitToLevel(entries, keys)
      this.#notify(stored, by)
      return stored
    }
    await this.#writer.room(this.#state.length)
    this.checkWritable()
    const c = this.#state.prepare(entries, keys)
    this.#writer.append(c.stored[0].seq, entries.map(d => d.bytes), keys)
    this.#state.apply(c)
    this.#keysStored(keys)
    this.#writer.queue(c.ops, c.bytes, c.length)
    this.#notify(c.stored, by)
    return c.stored
  }

  async #commitToLevel (entries: DecodedEntry[], keys?: ReadonlyArray<string | undefined>): Promise<LogEntry[]> {
    const c = this.#state.prepare(entries, keys)
    await this.#writer.write(this.#writer.indexed(c.ops, c.length))
    this.#state.apply(c)
    this.#keysStored(keys)
    this.#writer.flushedUpTo(c.length)
    return c.stored
  }

  #notify (stored: LogEntry[], by: object | undefined): void {
    for (const listener of this.#listeners) {
      try {
        listener(stored, by)
      } catch (err) {
        log.error('commit listener threw: %e', err)
      }
    }
  }

  /** Feed position up to which level holds the log. */
  get flushed (): number {
    return this.#writer.flushed
  }

  /** Resolves once level holds the feed up to `upTo`. */
  flushedTo (upTo: number): Promise<void> {
    return this.#writer.flushedTo(upTo)
  }

  /**
   * Stores what the write-ahead file holds beyond the feed (commits
   * acknowledged before a crash and not yet in level), then commits through
   * the file. Closes it on failure.
   */
  async useWal (wal: Wal, records: WalRecord[]): Promise<void> {
    try {
      await this.#recover(records)
      wal.reset()
    } catch (err) {
      wal.close()
      throw err
    }
    this.#writer.useWal(wal)
  }

  async #recover (records: WalRecord[]): Promise<void> {
    const entries: DecodedEntry[] = []
    // the emit key of each entry, with it: a retry after the crash finds it
    const keys: Array<string | undefined> = []
    let next = this.#state.length + 1
    for (const record of records) {
      record.entries.forEach((bytes, i) => {
        const seq = record.firstSeq + i
        if (seq < next) return
        if (seq > next) throw new StorageError(`the write-ahead file skips from feed position ${next} to ${seq}: it is damaged`)
        let entry: Entry
        try {
          entry = readEntry(bytes)
        } catch (err) {
          throw new StorageError(`entry ${seq} of the write-ahead file does not decode: it is damaged`, { cause: err })
        }
        entries.push({ id: entryId(bytes), bytes, entry })
        keys.push(record.keys?.[i])
        next++
      })
    }
    const keyed = keys.some(key => key != null)
    for (let i = 0; i < entries.length; i += MAX_GROUP) await this.#commitToLevel(entries.slice(i, i + MAX_GROUP), keyed ? keys.slice(i, i + MAX_GROUP) : undefined)
    if (entries.length > 0) log('recovered %d entries from the write-ahead file', entries.length)
  }

  checkWritable (): void {
    this.#writer.checkWritable()
  }

  onCommit (listener: CommitListener): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /**
   * Refuses what is queued, waits for the writes under way and for level to
   * have them, and writes a checkpoint so that the next open replays nothing.
   */
  async close (): Promise<void> {
    const queued = this.#queue.slice(this.#queueHead)
    this.#queue = []
    this.#queueHead = 0
    this.#refuse(queued, new ClosedError('the log was closed before this emit was stored'))
    await this.#tail
    this.#listeners.clear()
    await this.flushedTo(this.#state.length).catch(() => {})
    const checkpoint = this.#writer.failed ? undefined : this.#state.closingCheckpoint()
    if (checkpoint != null) {
      await writeBatch(this.#db, checkpoint, false).catch((err: unknown) => { log.error('checkpoint at close failed: %e', err) })
    }
    this.#writer.closeWal()
  }
}
