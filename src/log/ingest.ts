import { InvalidEntryError, ProtocolError } from '../errors.js'
import { authorHex, decodeEntry, readEntry, verifyEntry, toHex, Decoded, type DecodedEntry } from './entry.js'
import type { CutEntry, Log, LogEntry } from './log.js'
import { Pending, Vouch, adoption, inClockOrder, inSeqOrder, judgeClocks, trimUnsigned, walkRound } from './held.js'
import { HeldSet } from './held-set.js'
import { PeerContext } from './peer-context.js'
import { VALID, type Checked } from './check-pool.js'

/** Entries held while they wait for a signature or their parents. */
export const MAX_PENDING_ENTRIES = 32_768
/** Bytes held while entries wait: bounds what one peer can make a node keep. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024
/** How long an entry may wait for its signature or parents before it is dropped. */
export const PENDING_TTL_MS = 60_000

export interface IngestInit {
  /**
   * Throws unless the event is acceptable: a node's schema checks that the
   * payload of an event it defines decodes, and lets events of other names
   * through unread (protocols/README.md §6).
   */
  validate: (name: string, payload: Uint8Array) => void
  /** Whether entries by this author (hex public key) are accepted. @default all */
  accept?: (author: string) => boolean
  maxPendingEntries?: number
  maxPendingBytes?: number
  pendingTtl?: number
  /** told, before anything is stored, of the highest valid seq per author (hex) in a batch */
  onSeen?: (author: string, seq: number) => void
  /**
   * Expire held entries on a timer of its own while any are held. A sync
   * session passes false and calls `expire(now)` from its own clock.
   * @default true
   */
  timer?: boolean
  /**
   * The ingesters of one node's sessions, this one among them: a store pass
   * stores, with its own held entries, the verified ones the others hold
   * that complete them (see `storeReady`).
   */
  pool?: Set<Ingester>
}

export interface IngestResult {
  stored: LogEntry[]
  duplicates: number
  /** entries refused as malformed or forged, with the reason */
  invalid: InvalidEntryError[]
  /** valid entries left out by policy: their author is not an accepted writer */
  refused: number
  /** entries still waiting for a signature or parents */
  pending: number
  /** what `storeReady(upTo)` takes to store no later batch than this one */
  upTo: number
  /** the highest seq per author (hex) among the valid entries: the sender has them */
  seen: Map<string, number>
  /** authors (hex) of the entries that were held or stored already */
  duplicateAuthors: Set<string>
}

/**
 * Takes entries from one peer, checks each one, and stores those whose
 * signature and parents are in place. An unsigned entry is accepted only
 * when a validly signed later entry of the same author reaches it through
 * `prev` links: the signature covers the hash chain.
 */
export class Ingester {
  readonly #log: Log
  readonly #init: IngestInit
  readonly #pending = new HeldSet()
  // ids vouched for by a verified entry's prev: id -> [author, seq]
  readonly #vouched = new Map<string, Vouch>()
  readonly #context: PeerContext
  #bytes = 0
  #verified = 0
  #accepted = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  /** authors of held entries that another ingester of the pool stored, since the last store pass */
  #lent = new Set<string>()
  /** the batches up to this one came in a frame done with before the last: their held entries are detached */
  #doneBefore = 0
  /** the log's length when its stored entries were last dropped from the held ones */
  #lengthSeen = -1

  constructor (log: Log, init: IngestInit) {
    this.#log = log
    this.#init = init
    this.#context = new PeerContext(log, init.maxPendingEntries ?? MAX_PENDING_ENTRIES)
    init.pool?.add(this)
  }

  /** held entries whose signature is in place: they wait for their parents only */
  get verified (): number {
    return this.#verified
  }

  get pending (): number {
    return this.#pending.size
  }

  /** How long a held entry may wait before it is dropped, in ms. */
  get pendingTtl (): number {
    return this.#init.pendingTtl ?? PENDING_TTL_MS
  }

  /** Checks and stores a batch of encoded entries, in the sender's order. */
  async add (batch: Uint8Array[]): Promise<IngestResult> {
    const accepted = this.accept(batch)
    const { stored, invalid } = await this.storeReady()
    return { ...accepted, invalid: [...accepted.invalid, ...invalid], stored, pending: this.#pending.size }
  }

  /**
   * Checks a batch and holds its valid entries; `storeReady` stores them. A
   * receiver checks the next batch while the last one is being written.
   * `now` (ms) stamps the held entries and expires older ones. `checked`,
   * what a CheckPool found for the batch, gives each entry's id and says
   * which signatures verify. Throws ProtocolError when the pending set is
   * over its bounds.
   */
  accept (batch: Uint8Array[], now = Date.now(), context?: DecodedEntry[], checked?: Checked): Omit<IngestResult, 'stored' | 'pending'> {
    const invalid: InvalidEntryError[] = []
    if (context != null) this.#context.take(context, now)
    const seen = new Map<string, number>()
    // entries come in runs of one author: the run's highest seq goes to
    // `seen` when the run ends, not one Map write per entry
    let seenAuthor = ''
    let seenSeq = 0
    const saw = (author: string, seq: number): void => {
      if (author !== seenAuthor) {
        if (seenAuthor !== '') seen.set(seenAuthor, seenSeq)
        seenAuthor = author
        seenSeq = seen.get(author) ?? 0
      }
      if (seq > seenSeq) seenSeq = seq
    }
    const duplicateAuthors = new Set<string>()
    let duplicates = 0
    let refused = 0
    const hexOf = authorHex()
    this.expire(now)
    for (let i = 0; i < batch.length; i++) {
      const bytes = batch[i]
      let d: DecodedEntry
      let author: string
      try {
        // the signature is checked below, once the entry is known to be new
        d = decodeEntry(bytes, { verify: false, id: checked?.id(i) })
        author = hexOf(d.entry.author)
        if (this.#init.accept != null && !this.#init.accept(author)) {
          // not an offence: a relay may hold entries of writers this node refuses
          refused++
          continue
        }
        // a replay of what is held or stored costs no signature check
        if (this.#pending.has(d.id) || d.entry.seq <= this.#log.authorSeq(author)) {
          saw(author, d.entry.seq)
          duplicates++
          duplicateAuthors.add(author)
          continue
        }
        // one that failed the pool's check is checked here again, for the reason
        if (checked?.signatures[i] !== VALID) verifyEntry(d)
        this.#check(d)
      } catch (err) {
        invalid.push(err instanceof InvalidEntryError ? err : new InvalidEntryError((err as Error).message))
        continue
      }
      saw(author, d.entry.seq)
      const framed = bytes.byteOffset !== 0 || bytes.byteLength !== bytes.buffer.byteLength
      const p = new Pending(d, author, now, ++this.#accepted, framed)
      this.#pending.add(p)
      this.#bytes += bytes.byteLength
      const vouch = this.#vouched.size === 0 ? undefined : this.#vouched.get(p.hex)
      if (d.entry.signature.byteLength > 0 || (vouch != null && vouch.author === author && vouch.seq === d.entry.seq)) {
        this.#markVerified(p)
      }
    }
    if (seenAuthor !== '') seen.set(seenAuthor, seenSeq)
    // before anything is stored, so that the commit does not echo them back
    if (this.#init.onSeen != null) for (const [a, seq] of seen) this.#init.onSeen(a, seq)
    if (this.#pending.size > (this.#init.maxPendingEntries ?? MAX_PENDING_ENTRIES) ||
        this.#bytes > (this.#init.maxPendingBytes ?? MAX_PENDING_BYTES)) {
      this.clear()
      throw new ProtocolError('too many entries wait for a signature or their parents')
    }
    this.#schedule()
    return { duplicates, invalid, refused, seen, duplicateAuthors, upTo: this.#accepted }
  }

  /**
   * Stores every held entry whose signature and parents are in place, of the
   * batches accepted up to `upTo` (all by default): a receiver acknowledges
   * each batch as soon as it is stored, not once later ones are too. With
   * `detach`, the entries of the batches of the frame done with before this
   * one that still wait get bytes of their own: pass it once the frame they
   * came in is done with. A frame is let go one frame later so that the
   * tail of a group, whose signature comes in the next frame, is stored
   * from it uncopied (a sixth of a catch-up's entries were copied and read
   * again); a session keeps one frame more alive at most.
   *
   * With a `pool`, a pass also stores the verified entries other sessions
   * hold that its own wait for, and that wait for its own: after a
   * partition, peers send the two sides of an interleaved history over two
   * links, and each session alone could store one layer of it per pass.
   * `lent` names the authors of this session's held entries that such a
   * pass of another session stored since this one's last pass: they were not
   * sent here twice.
   */
  async storeReady (upTo = Infinity, detach = true): Promise<{ stored: LogEntry[], invalid: InvalidEntryError[], lent: Set<string> }> {
    const stored: LogEntry[] = []
    const invalid: InvalidEntryError[] = []
    // what one round stores can make more entries ready; what still waits
    // then may wait for entries that other sessions hold
    let borrow = false
    while (true) {
      const round = await this.#storeRound(upTo, borrow)
      stored.push(...round.stored)
      invalid.push(...round.invalid)
      if (round.stored.length > 0 && round.again && this.#pending.size > 0) continue
      if (borrow || this.#verified === 0 || !this.#othersHold()) break
      borrow = true
    }
    if (detach) {
      this.#detach(this.#doneBefore)
      this.#doneBefore = upTo
    }
    const lent = this.#lent
    this.#lent = new Set()
    return { stored, invalid, lent }
  }

  // Whether another ingester of the pool holds verified entries.
  #othersHold (): boolean {
    for (const other of this.#init.pool ?? []) if (other !== this && other.#verified > 0) return true
    return false
  }

  // The verified entries the other ingesters of the pool hold that this
  // node lacks and this one does not hold, each once, with its holder; none
  // when no other holds any.
  #borrowable (): Map<Pending, Ingester> | undefined {
    const pool = this.#init.pool
    if (pool == null || pool.size < 2) return undefined
    let out: Map<Pending, Ingester> | undefined
    const seen = new Set<string>()
    for (const other of pool) {
      if (other === this || other.#verified === 0) continue
      for (const p of other.#pending.values()) {
        if (!p.verified || this.#pending.has(p.d.id) || seen.has(p.hex) || p.d.entry.seq <= this.#log.authorSeq(p.author)) continue
        seen.add(p.hex)
        out ??= new Map()
        out.set(p, other)
      }
    }
    return out
  }

  // An entry read from a frame is a view into it, and is stored (and let go)
  // most of the time without a copy. One that still waits a frame later
  // gets bytes of its own: it must not keep a whole frame alive.
  #detach (upTo: number): void {
    const held = this.#pending.values()
    for (let i = 0; i < held.length; i++) {
      const p = held[i]
      if (!p.framed || p.n > upTo) continue
      const bytes = p.d.bytes.slice()
      p.d = new Decoded(p.d.id, bytes, readEntry(bytes))
      p.framed = false
    }
  }

  #check (d: DecodedEntry): void {
    try {
      this.#init.validate(d.entry.name, d.entry.payload)
    } catch (err) {
      throw new InvalidEntryError(`event "${d.entry.name}" is not valid: ${(err as Error).message}`)
    }
  }

  // A verified entry vouches for its prev, and so on down the chain.
  #markVerified (p: Pending): void {
    let current: Pending | undefined = p
    while (current != null && !current.verified) {
      current.verified = true
      this.#verified++
      const entry: DecodedEntry['entry'] = current.d.entry
      if (entry.seq === 1) break
      if (entry.seq - 1 <= this.#log.authorSeq(current.author)) break
      // the one before, held: no vouch is needed for an entry already here
      const prev = this.#pending.get(entry.prev)
      if (prev != null && prev.author === current.author && prev.d.entry.seq === entry.seq - 1) {
        current = prev
        continue
      }
      // not held: a vouch for when it arrives, bounded like the pending set
      if (this.#vouched.size >= (this.#init.maxPendingEntries ?? MAX_PENDING_ENTRIES)) this.#vouched.clear()
      this.#vouched.set(toHex(entry.prev), new Vouch(current.author, entry.seq - 1))
      current = undefined
    }
  }

  // Stores every verified entry whose parents are stored or go in the same
  // batch, in arrival order (a causal order), once its clock is checked: one
  // more than the highest clock of its parents. An entry whose parent is
  // missing waits, with every later entry that depends on it. With `borrow`,
  // the verified entries other sessions hold go in too, all in clock order.
  async #storeRound (upTo: number, borrow: boolean): Promise<{ stored: LogEntry[], invalid: InvalidEntryError[], again: boolean }> {
    this.#dropStored()
    const borrowed = borrow ? this.#borrowable() : undefined
    const candidates = borrowed == null ? inSeqOrder(this.#pending.values(), upTo) : inClockOrder([...inSeqOrder(this.#pending.values(), upTo), ...borrowed.keys()])
    const walk = walkRound(candidates, author => this.#log.authorHead(author), (p, inRound) => this.#context.floorFor(p, inRound, 0))
    const { heads, outside, floors, linked } = walk
    let ready = walk.ready
    if (ready.length === 0) return { stored: [], invalid: [], again: false }
    // cut entries the peer sent that links of this round resolve to
    const cut = new Map<string, CutEntry>()
    const clocks = new Map<string, number | undefined>()
    const found = await this.#log.clocks(outside)
    outside.forEach((l, i) => {
      const hex = toHex(l)
      if (found[i] != null) {
        clocks.set(hex, found[i])
        return
      }
      const c = this.#context.cutLink(hex, floors, heads)
      if (c != null) {
        cut.set(hex, c)
        clocks.set(hex, c.entry.clock)
      }
    })
    const { keep, invalid, forged, waiting } = judgeClocks(ready, clocks, linked, borrowed)
    for (const p of forged) this.#forget(p)
    ready = trimUnsigned(keep)
    if (ready.length === 0) return { stored: [], invalid, again: false }
    const before = this.#log.length
    const stored = await this.#log.store(ready.map(p => p.d), adoption(ready, floors, cut), this)
    // when this store was all the log took since the last look, the look
    // after it would find nothing to drop: what it stored is let go below
    if (before === this.#lengthSeen && this.#log.length === before + stored.length) this.#lengthSeen = this.#log.length
    for (let i = 0; i < ready.length; i++) {
      const p = ready[i]
      const holder = borrowed?.get(p)
      if (holder == null) {
        this.#forget(p)
      } else {
        holder.#forget(p)
        holder.#lent.add(p.author)
      }
    }
    return { stored, invalid, again: walk.again || waiting }
  }

  // Held entries that the log has by now (another session stored them) are
  // duplicates: they would wait for nothing until they expire.
  #dropStored (): void {
    // nothing was stored since the last look
    if (this.#log.length === this.#lengthSeen) return
    const held = this.#pending.values()
    for (let i = 0; i < held.length; i++) {
      if (held[i].d.entry.seq <= this.#log.authorSeq(held[i].author)) this.#forget(held[i])
    }
    this.#lengthSeen = this.#log.length
  }

  #forget (p: Pending): void {
    if (this.#pending.delete(p.d.id)) {
      this.#bytes -= p.d.bytes.byteLength
      if (p.verified) this.#verified--
    }
    if (this.#vouched.size > 0) this.#vouched.delete(p.hex)
  }

  /** Drops the held entries older than the pending TTL, as of `now` (ms). */
  expire (now = Date.now()): void {
    const oldest = now - this.pendingTtl
    // held in the order they came, so the oldest first (a clock set back
    // meanwhile makes a later entry wait for the earlier ones to expire)
    for (let p = this.#pending.first(); p !== undefined && p.at < oldest; p = this.#pending.first()) this.#forget(p)
    this.#context.expire(oldest)
    if (this.#pending.size === 0) this.#vouched.clear()
  }

  // Entries expire even when no batch comes: a peer that parks entries and
  // goes quiet does not keep them.
  #schedule (): void {
    if (this.#timer != null || this.#pending.size === 0 || this.#init.timer === false) return
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      this.expire()
      this.#schedule()
    }, this.pendingTtl)
    this.#timer.unref?.()
  }

  /** Drops everything pending (the session ended). */
  clear (): void {
    this.#init.pool?.delete(this)
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#pending.clear()
    this.#vouched.clear()
    this.#context.clear()
    this.#bytes = 0
    this.#verified = 0
  }
}
