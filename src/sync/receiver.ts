// The receiving half of a session (protocols/README.md §5.3, §5.4, §6): Entries
// frames are counted against the window as they come, checked a part
// (RECEIVE_PART entries) at a time at most one part ahead of the store, and
// acknowledged once a store pass has stored what their entries made ready.
// Store passes run one at a time, in order; checking is the core's `work`,
// storing is the driver's.
import { ProtocolError, RefusedError, type InvalidEntryError } from '../errors.js'
import { authorHex, type DecodedEntry } from '../log/entry.js'
import { MAX_INVALID, RECEIVE_PART, REFUSE, WINDOW } from './constants.js'
import type { Accepted, StoreResult } from './actions.js'
import type { SyncMessage } from '../pb/sync.js'
import type { Checked } from '../log/check-pool.js'
import { ACK_ONE, type EntryList } from './framing.js'

/** What the receiver does outside itself; the core turns these into frames and actions. */
export interface ReceiverOutput {
  /** checks a part of a frame against the log and holds its valid entries; `checked` is what a check pool found for the part */
  accept: (entries: Uint8Array[], now: number, context?: DecodedEntry[], checked?: Checked) => Accepted
  /**
   * Whether the entries of frame number `frame` are hashed and their
   * signatures checked elsewhere first; if so, `checkDone` gets the result.
   */
  check?: (frame: number, entries: EntryList) => boolean
  /** the remote holds entries of `author` up to `seq` */
  seen: (author: string, seq: number) => void
  /** the remote sent entries of these authors (hex) that this node had, or that another session stored first */
  duplicates: (authors: Set<string>) => void
  /** this node's highest stored seq of `author` */
  holds: (author: string) => number
  send: (msg: SyncMessage) => void
  /** runs a store pass; its result comes back to `storeDone` */
  store: (upTo: number, detach: boolean) => void
  invalid: (count: number, reason: string) => void
  stored: (authors: Set<string>) => void
  synced: () => void
}

/** An Entries frame waiting to be checked. */
interface Frame {
  /** its number, from 0 */
  n: number
  entries: EntryList
  /** its context entries (protocols/README.md §5.9) */
  context: DecodedEntry[] | undefined
  /** while its check elsewhere is under way */
  checking: boolean
  /** what that check found, if it did */
  checked?: Checked
}

/** A store pass queued: of the parts checked up to `upTo`. */
interface Pass {
  upTo: number
  /** the last part of its frame: the frame is done with once stored, and acknowledged */
  last: boolean
  /** made for a part (not a retry of held entries) */
  part: boolean
  /** of a part: the highest seq of each author (hex) among its valid entries */
  seen?: Map<string, number>
}

export class Receiver {
  readonly #out: ReceiverOutput
  /** Entries frames counted and not yet acknowledged */
  #unacked = 0
  /** invalid entries so far */
  #invalid = 0
  /** Entries frames waiting to be checked, in order; the first from `#from` on */
  readonly #frames: Frame[] = []
  #from = 0
  /** store passes queued; the first runs while `#storing` */
  readonly #passes: Pass[] = []
  #storing = false
  /** passes of parts not yet done: a part is checked at most one pass ahead of the store */
  #partPasses = 0
  #framesIn = 0
  #framesChecked = 0
  #passesQueued = 0
  #passesDone = 0
  /** the first Synced came after this many Entries frames */
  #syncedAfter: number | undefined
  /** ... and is due once this many store passes are done */
  #syncedAt: number | undefined
  #synced = false
  /** entries stored */
  received = 0

  constructor (out: ReceiverOutput) {
    this.#out = out
  }

  /** Entries frames read and not yet acknowledged. */
  get unacked (): number {
    return this.#unacked
  }

  /** An Entries frame came: counted at once, checked later (it waits encoded, several times smaller than decoded). */
  entries (entries: EntryList, context?: DecodedEntry[]): void {
    if (++this.#unacked > WINDOW) throw new RefusedError('more Entries frames than the window allows', { refuseCode: REFUSE.LIMIT })
    const frame: Frame = { n: this.#framesIn++, entries, context, checking: false }
    this.#frames.push(frame)
    frame.checking = this.#out.check?.(frame.n, entries) ?? false
  }

  /** Synced came: the remote is synced once what came before it is stored. Only the first counts. */
  synced (): void {
    if (this.#syncedAfter != null) return
    this.#syncedAfter = this.#framesIn
    this.#checkSynced()
  }

  /** Whether a part waits to be checked and may be now. */
  get wantsWork (): boolean {
    return this.#frames.length > 0 && !this.#frames[0].checking && this.#partPasses <= 1
  }

  /** Checks the next part, and queues its store pass. */
  work (now: number): void {
    if (!this.wantsWork) return
    const { entries, context, checked } = this.#frames[0]
    const from = this.#from
    const last = from + RECEIVE_PART >= entries.length
    let res: Accepted
    try {
      // the frame's context comes with its first part
      const whole = from === 0 && last
      const to = from + RECEIVE_PART
      res = this.#out.accept(entries.slice(from, to), now, from === 0 ? context : undefined, whole ? checked : checked?.slice(from, to))
    } catch (err) {
      if (err instanceof ProtocolError) throw new RefusedError(err.message, { refuseCode: REFUSE.LIMIT })
      throw err
    }
    if (last) {
      this.#frames.shift()
      this.#from = 0
    } else {
      this.#from = from + RECEIVE_PART
    }
    // before anything is stored, so that the commit does not echo them back
    for (const [author, seq] of res.seen) this.#out.seen(author, seq)
    if (res.invalid.length > 0) this.#refuse(res.invalid)
    if (res.duplicateAuthors.size > 0) this.#out.duplicates(res.duplicateAuthors)
    this.#queue({ upTo: res.upTo, last, part: true, seen: res.seen })
    if (last) {
      this.#framesChecked++
      this.#checkSynced()
    }
  }

  /** The check of frame `n` elsewhere is done: `checked` is what it found, or undefined if it failed (the frame is then checked here). */
  checkDone (n: number, checked: Checked | undefined): void {
    const frame = this.#frames.find(f => f.n === n)
    if (frame == null) return
    frame.checking = false
    frame.checked = checked
  }

  /** Stores held entries again: their parents may have come through another session. */
  retry (): void {
    this.#queue({ upTo: Infinity, last: false, part: false })
  }

  /** The running store pass is done. */
  storeDone (res: StoreResult): void {
    const pass = this.#passes.shift()
    if (pass == null) return
    this.#storing = false
    this.#passesDone++
    if (pass.part) this.#partPasses--
    this.received += res.stored.length
    const authors = new Set<string>()
    if (res.stored.length > 0) {
      const hexOf = authorHex()
      for (let i = 0; i < res.stored.length; i++) authors.add(hexOf(res.stored[i].entry.author))
      this.#out.stored(authors)
    }
    if (pass.seen != null) this.#lateDuplicates(pass.seen, authors, res.lent)
    if (res.invalid.length > 0) this.#refuse(res.invalid)
    if (pass.last) {
      this.#unacked--
      this.#out.send(ACK_ONE)
    }
    this.#checkSynced()
    this.#next()
  }

  /** A store pass that ended after the session did: its entries count as received all the same. */
  storedLate (res: StoreResult): void {
    this.received += res.stored.length
  }

  // Entries that were new when their part was checked, but that another
  // session stored before this pass could: copies that came by two paths at
  // once. Found only here, they count as duplicates for pruning all the same,
  // unless another session's pass stored them from what waited here.
  #lateDuplicates (seen: Map<string, number>, stored: Set<string>, lent?: Set<string>): void {
    let late: Set<string> | undefined
    for (const [author, seq] of seen) {
      if (stored.has(author) || lent?.has(author) === true || this.#out.holds(author) < seq) continue
      late ??= new Set()
      late.add(author)
    }
    if (late != null) this.#out.duplicates(late)
  }

  #queue (pass: Pass): void {
    this.#passes.push(pass)
    this.#passesQueued++
    if (pass.part) this.#partPasses++
    this.#next()
  }

  #next (): void {
    if (this.#storing || this.#passes.length === 0) return
    this.#storing = true
    const pass = this.#passes[0]
    this.#out.store(pass.upTo, pass.last)
  }

  #checkSynced (): void {
    if (this.#synced || this.#syncedAfter == null) return
    if (this.#syncedAt == null) {
      if (this.#framesChecked < this.#syncedAfter) return
      this.#syncedAt = this.#passesQueued
    }
    if (this.#passesDone < this.#syncedAt) return
    this.#synced = true
    this.#out.synced()
  }

  // Tells the peer which entries were refused; past MAX_INVALID the session ends.
  #refuse (invalid: InvalidEntryError[]): void {
    this.#invalid += invalid.length
    const reason = invalid[0].message
    this.#out.invalid(invalid.length, reason)
    if (this.#invalid > MAX_INVALID) throw new RefusedError(`${this.#invalid} invalid entries: ${reason}`, { refuseCode: REFUSE.INVALID_ENTRY })
    this.#out.send({ refuse: { code: REFUSE.INVALID_ENTRY, reason: `${invalid.length} entries refused: ${reason}` } })
  }
}
