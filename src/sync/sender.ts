// The sending half of a session (protocols/README.md §5.2-5.6): what the
// remote lacks, in feed order, in Entries frames under a window of credits.
// Catch-up reads from the log (the next read already under way while the
// frames of the last one wait for credits); once caught up, the node's
// commits are pushed as they come, unless there is a gap. Toward a lazy/1
// peer, entries of the authors it pruned are announced by IHave instead, and
// the first live entries of an author it has not taken yet go as a probe
// (§5.8).
import { RefusedError } from '../errors.js'
import { authorHex, endsSigned } from '../log/entry.js'
import { MAX_GROUP } from '../log/log.js'
import { LIVE_QUEUE, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, MAX_CONTEXT, MAX_HAVE, PROBE_ENTRIES, READ_BATCH, FIRST_READ, REFUSE, WINDOW } from './constants.js'
import { RttEstimator } from './rtt.js'
import type { Outgoing } from './actions.js'
import type { LogEntry } from '../log/log.js'

/** What the sender does outside itself; the core turns these into frames and actions. */
export interface SenderOutput {
  /** send an Entries frame, with the context entries its entries need */
  entries: (frame: Uint8Array[], context: Uint8Array[]) => void
  /** send Synced: everything the remote lacked is sent */
  synced: () => void
  /** read from the log the entries a peer with vector `have` lacks, at most `limit` */
  read: (have: Map<string, number>, limit: number) => void
  /** send IHave: this node holds these authors' entries up to these seqs (a lazy/1 peer only) */
  ihave: (have: Array<[string, number]>) => void
  /** entries were left out for a lazy/1 peer: call `announce` soon (the driver's delay gathers them into one IHave) */
  announcing: () => void
  /** this node's highest stored seq of `author` */
  holds: (author: string) => number
  /** the dropped entries a peer may need to store this one (protocols/README.md §5.9) */
  context?: (author: string, e: LogEntry) => Uint8Array[] | undefined
  /** the time (ms, any clock): given it, the round trips of Entries frames to their Acks are measured (`rtt`) */
  now?: () => number
}

/** An Entries frame being built, or waiting for a credit. */
class Frame {
  readonly entries: Uint8Array[] = []
  readonly context: Uint8Array[] = []
  bytes = 0
}

export class Sender {
  /** what the remote is known to hold: author (hex) to highest seq */
  readonly remoteHave = new Map<string, number>()
  /** authors (hex) the remote asked not to be pushed: it gets them from another peer */
  readonly #pruned = new Set<string>()
  readonly #out: SenderOutput
  #started = false
  #credits = WINDOW
  /** Entries frames sent and not yet acknowledged */
  #outstanding = 0
  /** the first read that found nothing to send is done: Synced went, commits are pushed live */
  #caughtUp = false
  /** the node's commits since the last read was started, for live push */
  #queue: LogEntry[] = []
  /** the queue overflowed, or a Graft came: the next batch is read from the log */
  #reread = false
  /** frames built, waiting for credits */
  #frames: Frame[] = []
  #reading = false
  /** a read's result, not yet framed */
  #read: Outgoing[] | undefined
  /**
   * Both sides named lazy/1: entries of the authors the remote pruned are
   * announced by IHave instead of being left out silently, and live entries
   * of an author it has not taken yet are probed. Set before `start`.
   */
  lazy = false
  /** pruned authors to announce at the end of this round: the highest seq held that the remote lacks */
  readonly #announce = new Map<string, number>()
  /** the highest seq announced of each pruned author */
  readonly #announced = new Map<string, number>()
  /** this node's author key (hex): a remote never prunes it on the link from it, so it is never probed */
  self: string | undefined
  /** authors whose live entries a lazy remote took without a Prune: pushed freely */
  readonly #confirmed = new Set<string>()
  /** the probe out: the number of its (last) Entries frame, and its authors, each with whether its last entry there is signed */
  #probe: { frame: number, authors: Map<string, boolean> } | undefined
  /**
   * authors whose probe ended on an unsigned entry, which the remote holds
   * until the signed one comes and so cannot judge: the next probe runs to
   * a signed entry
   */
  readonly #unsure = new Set<string>()
  /** entries of unconfirmed authors wait for the probe's Ack (or Prune) */
  #heldBack = false
  #framesSent = 0
  #reads = 0
  #readLimit = READ_BATCH
  #framesAcked = 0
  /** when each unacknowledged frame was sent, oldest first (with a clock) */
  readonly #sentAt: number[] = []
  /** round trips of frames to their Acks */
  readonly rtt = new RttEstimator()
  /** entries sent, in Entries frames */
  sent = 0

  constructor (out: SenderOutput) {
    this.#out = out
  }

  /** Entries frames built and waiting for a credit. */
  get waiting (): number {
    return this.#frames.length
  }

  /** Entries frames sent and not yet acknowledged. */
  get outstanding (): number {
    return this.#outstanding
  }

  /** Whether the remote asked not to be pushed `author` (it gets it from another peer). */
  prunedByRemote (author: string): boolean {
    return this.#pruned.has(author)
  }

  /** Whether a read of the log is under way. */
  get reading (): boolean {
    return this.#reading
  }

  /** Starts catch-up, once the handshake passed and `remoteHave` holds the remote's vector. */
  start (): void {
    this.#started = true
    this.#pump()
  }

  /** The node stored these entries: they may go to the remote live. */
  committed (entries: LogEntry[]): void {
    if (this.#queue.length + entries.length > LIVE_QUEUE) {
      this.#reread = true
      this.#queue = []
    } else if (!this.#reread) {
      for (let i = 0; i < entries.length; i++) this.#queue.push(entries[i])
    }
    this.#pump()
  }

  /** The remote acknowledged `batches` Entries frames; more than were sent is a PROTOCOL error. */
  ack (batches: number): void {
    if (batches > this.#outstanding) throw new RefusedError('an Ack for Entries frames that were not sent', { refuseCode: REFUSE.PROTOCOL })
    this.#outstanding -= batches
    this.#credits = Math.min(WINDOW, this.#credits + batches)
    this.#framesAcked += batches
    const now = this.#out.now?.()
    if (now !== undefined) {
      const sent = this.#sentAt.splice(0, batches)
      if (sent.length > 0) this.rtt.sample(now - sent[sent.length - 1], now)
    }
    if (this.#probe != null && this.#framesAcked >= this.#probe.frame) this.#probed(this.#probe.authors)
    this.#pump()
  }

  /** A read of the log is done. */
  readDone (entries: Outgoing[]): void {
    this.#reading = false
    this.#read = entries
    this.#pump()
  }

  /** The remote sent entries of `author` up to `seq`: it has them. */
  seen (author: string, seq: number): void {
    if (seq > (this.remoteHave.get(author) ?? 0)) this.remoteHave.set(author, seq)
  }

  /** The remote asked not to be pushed these authors. */
  prune (authors: string[]): void {
    for (const author of authors) {
      // past the bound the remote gets some entries twice, which is harmless
      if (this.#pruned.has(author) || this.#pruned.size >= MAX_HAVE) continue
      this.#pruned.add(author)
      this.#confirmed.delete(author)
      this.#unsure.delete(author)
      // what is held beyond what it has would be read or taken from the queue
      // and left out: it is announced instead
      this.#lacks(author, this.#out.holds(author))
    }
  }

  /** The remote asked to be pushed these authors again, after the given seqs. */
  graft (have: Array<[string, number]>): void {
    for (const [author, seq] of have) {
      this.#pruned.delete(author)
      this.#announce.delete(author)
      this.#announced.delete(author)
      // it asked for them: no probe
      this.#unsure.delete(author)
      if (this.#confirmed.size < MAX_HAVE) this.#confirmed.add(author)
      if (Number.isSafeInteger(seq)) this.seen(author, seq)
    }
    // what the remote lacks of them is read from the log
    this.#reread = true
    this.#pump()
  }

  /** Whether entries left out wait to be announced (see `announce`). */
  get announcing (): boolean {
    return this.#announce.size > 0
  }

  /**
   * One IHave for the authors left out since the last, each with its highest
   * seq; past MAX_HAVE the rest stay for the next. It costs no credit, and
   * the remote is not taken to have what it announces.
   */
  announce (): void {
    const have: Array<[string, number]> = []
    for (const [author, seq] of this.#announce) {
      if (have.length >= MAX_HAVE) break
      this.#announce.delete(author)
      if (!this.#pruned.has(author) || seq <= (this.remoteHave.get(author) ?? 0) || seq <= (this.#announced.get(author) ?? 0)) continue
      this.#announced.set(author, seq)
      have.push([author, seq])
    }
    if (have.length > 0) this.#out.ihave(have)
  }

  // Sends what credits allow, then finds the next batch: a read's result
  // first; else, once caught up, the commits queued (unless there is a gap);
  // else a new read of the log.
  #pump (): void {
    while (this.#started) {
      while (this.#frames.length > 0 && this.#credits > 0) {
        const frame = this.#frames.shift()!
        this.#credits--
        this.#outstanding++
        this.sent += frame.entries.length
        this.#framesSent++
        if (this.#out.now != null) this.#sentAt.push(this.#out.now())
        this.#out.entries(frame.entries, frame.context)
      }
      if (this.#frames.length > 0 || this.#reading) return
      // everything waits for the probe's answer, which may be a Prune
      if (this.#heldBack && this.#probe != null) return
      const batch = this.#read
      this.#read = undefined
      if (batch == null) {
        const queued = this.#caughtUp && !this.#reread ? this.#fromQueue() : undefined
        if (queued == null) {
          this.#startRead()
          return
        }
        if (queued.length === 0) return
        this.#frames = this.#frame(queued)
        continue
      }
      if (batch.length === 0) {
        if (!this.#caughtUp) {
          this.#caughtUp = true
          this.#out.synced()
        }
        continue
      }
      this.#frames = this.#frame(batch)
      // the next read runs while these frames wait for credits; once caught
      // up, a read that filled its batch is followed by another
      if (!this.#caughtUp && this.#frames.length > 0) this.#startRead()
      else if (batch.length >= this.#readLimit) this.#reread = true
    }
  }

  // Commits from here on are queued: what the read finds and what is queued
  // overlap, never leave a gap.
  #startRead (): void {
    this.#queue = []
    this.#reread = false
    this.#reading = true
    let have = this.remoteHave
    if (this.#pruned.size > 0) {
      have = new Map(have)
      for (const author of this.#pruned) {
        have.set(author, Infinity)
        this.#lacks(author, this.#out.holds(author))
      }
    }
    // a catch-up's first reads are small and grow: the first frame crosses
    // in one stream window, and the remote checks it while the next read runs
    this.#readLimit = this.#caughtUp ? READ_BATCH : Math.min(READ_BATCH, FIRST_READ * 4 ** this.#reads++)
    this.#out.read(have, this.#readLimit)
  }

  // The queued commits the remote lacks, or undefined where there is a gap.
  #fromQueue (): Outgoing[] | undefined {
    const queued = this.#queue
    this.#queue = []
    const next = new Map<string, number>()
    const out: Outgoing[] = []
    const hexOf = authorHex()
    // commits come in runs of one author (its key, one object): the run's
    // lookups are made once, and what it reached is noted when it ends
    let key: Uint8Array | undefined
    let author = ''
    let pruned = false
    let have = 0
    for (let i = 0; i < queued.length; i++) {
      const e = queued[i]
      if (e.entry.author !== key) {
        if (key != null) next.set(author, have)
        key = e.entry.author
        author = hexOf(key)
        pruned = this.#pruned.has(author)
        have = next.get(author) ?? this.remoteHave.get(author) ?? 0
      }
      if (pruned) {
        // left out, so remoteHave stays behind: not a gap
        this.#lacks(author, e.entry.seq)
        continue
      }
      if (e.entry.seq <= have) continue
      if (e.entry.seq !== have + 1) return undefined
      have = e.entry.seq
      out.push({ bytes: e.bytes, author, authorSeq: e.entry.seq, context: this.#out.context?.(author, e) })
    }
    return out
  }

  // The probe's frame was acknowledged: the authors it carried that the
  // remote did not prune on the way are pushed freely from now on (those
  // whose probe ended unsigned after one more probe), and what waited is
  // read again.
  #probed (authors: Map<string, boolean>): void {
    this.#probe = undefined
    for (const [author, signed] of authors) {
      if (this.#pruned.has(author)) continue
      if (signed || this.#unsure.has(author) || this.#unsure.size >= MAX_HAVE) {
        this.#unsure.delete(author)
        if (this.#confirmed.size < MAX_HAVE) this.#confirmed.add(author)
      } else {
        this.#unsure.add(author)
      }
    }
    if (this.#heldBack) {
      this.#heldBack = false
      this.#reread = true
    }
  }

  // Entries frames of what the remote lacks; the remote is taken to have
  // them from here on. Once caught up with a lazy remote, the entries of an
  // author it has not taken yet go as a probe: at most PROBE_ENTRIES of each
  // such author, one probe at a time, the rest held back until its Ack. A
  // remote that has them from another peer prunes the author before it
  // acknowledges, and only the probe was sent twice. A remote holds an
  // unsigned entry until its signed cover comes, and cannot tell yet: after
  // a probe that ended unsigned, the next runs to the first signed entry.
  #frame (entries: Outgoing[]): Frame[] {
    const frames: Frame[] = []
    let frame = new Frame()
    const probing = this.lazy && this.#caughtUp
    let probe: Map<string, { n: number, signed: boolean }> | undefined
    let probeFrame = 0
    const held = new Set<string>()
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]
      // the remote may have got it from another peer meanwhile, or get it
      // from another peer
      if (e.authorSeq <= (this.remoteHave.get(e.author) ?? 0)) continue
      if (this.#pruned.has(e.author)) {
        this.#lacks(e.author, e.authorSeq)
        continue
      }
      const probes = probing && e.author !== this.self && !this.#confirmed.has(e.author) && this.#confirmed.size < MAX_HAVE
      const taken = probes ? probe?.get(e.author) : undefined
      if (probes && (held.has(e.author) || this.#probe != null || (taken != null && (taken.signed || taken.n >= (this.#unsure.has(e.author) ? MAX_GROUP : PROBE_ENTRIES))))) {
        // with every later entry of its author, so that it leaves no gap
        held.add(e.author)
        this.#heldBack = true
        continue
      }
      const context = e.context?.filter(c => !frame.context.includes(c))
      let size = e.bytes.byteLength
      if (context != null) for (let j = 0; j < context.length; j++) size += context[j].byteLength
      if (frame.entries.length >= MAX_BATCH_ENTRIES || frame.context.length + (context?.length ?? 0) > MAX_CONTEXT ||
          (frame.entries.length > 0 && frame.bytes + size > MAX_BATCH_BYTES)) {
        frames.push(frame)
        frame = new Frame()
      }
      frame.entries.push(e.bytes)
      // in a new frame too: the entries it was sent with are in another
      if (e.context != null) for (let j = 0; j < e.context.length; j++) if (!frame.context.includes(e.context[j])) frame.context.push(e.context[j])
      frame.bytes += size
      this.remoteHave.set(e.author, e.authorSeq)
      if (probes) {
        probe ??= new Map()
        probe.set(e.author, { n: (taken?.n ?? 0) + 1, signed: endsSigned(e.bytes) })
        probeFrame = frames.length
      }
    }
    if (frame.entries.length > 0) frames.push(frame)
    if (probe != null) this.#probe = { frame: this.#framesSent + probeFrame + 1, authors: new Map([...probe].map(([author, p]) => [author, p.signed])) }
    return frames
  }

  // A pruned author's entries up to `seq` are held here and left out: a lazy
  // remote is told, unless it has them or was told already.
  #lacks (author: string, seq: number): void {
    if (!this.lazy || seq <= (this.remoteHave.get(author) ?? 0) || seq <= (this.#announced.get(author) ?? 0)) return
    if (seq <= (this.#announce.get(author) ?? 0)) return
    if (this.#announce.size === 0) this.#out.announcing()
    this.#announce.set(author, seq)
  }
}
