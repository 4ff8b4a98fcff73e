// One simulated node: the overlay and broadcast state machines that a real
// node runs, driven by simulated messages under virtual time.
//
// Real code, called as the node calls it:
// - `HyParView` (src/overlay/hyparview.ts): the active and passive views,
//   driven as src/overlay/service.ts does (a message per send, `failed` on a
//   send that cannot be made within SEND_TIMEOUT or on a connection that breaks);
// - `Sender` (src/sync/sender.ts), one per session: remoteHave, credits, the
//   live queue, catch-up reads, the pruned authors, IHave notices, the probes
//   toward a lazy peer of the authors it has not taken yet;
// - `Prunes` (per session, receiver side), `PrunePolicy` and `LazyRepair`
//   (per node), run as src/sync/core.ts and src/sync/service.ts run them.
//
// Modelled, not called (the receiver half of SessionCore needs real signed
// entries and a Log):
// - Entries are (author, seq) with no links to other authors' heads: a node
//   stores an author's entries in seq order, and one that comes before its
//   predecessor waits for it (node-wide, where the real Ingester holds it per
//   session and retries RETRY_MS after a commit).
// - Checking and storing a frame take no time: a frame is checked, stored,
//   committed to every session and acknowledged the moment it arrives, so
//   duplicates are always found when checked (never "late", at store time).
// - A log read takes no time either (it is answered on the next turn of the
//   scheduler) and returns the entries in emit order, which is a node's feed
//   order when authors do not link one another.
// - The session handshake is the Hello exchange alone (no schema or topic).
//   Both sides may open a stream at once; the rules of SyncService.#run pick one.
// - Connections: a message costs one link latency, dial or not. A connection
//   the overlay no longer needs is closed LINGER ms after the `down` (the
//   overlay's reaper), which the peer sees as a disconnect.
// - Every node names lazy/1, so the blind regrafts toward older peers never run.
//
// Changes the code could make can be tried (NodeOptions settledPrune,
// orphanGraft, optimize); they are off unless asked for.
// orphanGraft takes `parent` (whose copy a node stored last) for
// PrunePolicy's first deliverer, which it keeps to itself.
import { HyParView, type HyParViewInit } from '../../src/overlay/hyparview.js'
import type { OverlayMessage } from '../../src/overlay/messages.js'
import { Sender } from '../../src/sync/sender.js'
import { IHAVE_DELAY } from '../../src/sync/constants.js'
import { PrunePolicy, Prunes, orphanGrafts, parentPrunes, readGraft, readPrune, rtoOf, type LinkView } from '../../src/sync/prune.js'
import { LazyRepair, type LazyRepairInit } from '../../src/sync/plumtree.js'
import { SIGNATURE_LENGTH } from '../../src/log/identity.js'
import type { Outgoing } from '../../src/sync/actions.js'
import type { LogEntry } from '../../src/log/log.js'
import type { SyncMessage } from '../../src/pb/sync.js'
import type { Network, Scheduler } from './net.js'
import type { Counters, Group } from './stats.js'

/** The overlay service's time to dial a peer and write one message (src/overlay/service.ts). */
export const SEND_TIMEOUT = 3000
/** The overlay's reaper closes a connection no view needs after this long (src/overlay/service.ts LINGER_MS). */
export const LINGER = 1000
/** A session that ended while its peer is still wanted is opened again within this (src/sync/constants.ts RECONCILE_MS). */
export const RECONCILE = 1000
/** A session this long past its handshake gives way to a new stream from its peer (REPLACE_AFTER_MS). */
export const REPLACE_AFTER = 2000
/** Bytes of a simulated entry: only its size counts, toward a frame's MAX_BATCH_BYTES. */
const ENTRY_BYTES = 256

/** An entry's bytes, as frames carry them, pointing back to the simulated entry. */
export class EntryBytes extends Uint8Array {
  entry!: SimEntry
}

/** One entry of the simulated world: the same object wherever it is stored. */
export interface SimEntry {
  /** emit order, world-wide */
  index: number
  /** author key (hex) */
  author: string
  seq: number
  emittedAt: number
  group: Group
  bytes: EntryBytes
  /** what a Sender takes from the log's commits: only `entry.author`, `entry.seq` and `bytes` are read */
  log: LogEntry
  /** what a Sender takes from a log read */
  out: Outgoing
}

export function makeEntry (index: number, author: string, authorBytes: Uint8Array, seq: number, emittedAt: number, group: Group): SimEntry {
  const bytes = new EntryBytes(ENTRY_BYTES)
  // every entry is signed, as a writer signs each: it ends with its
  // signature field, which is what a Sender's probe looks at
  bytes[ENTRY_BYTES - SIGNATURE_LENGTH - 2] = (15 << 3) | 2
  bytes[ENTRY_BYTES - SIGNATURE_LENGTH - 1] = SIGNATURE_LENGTH
  const entry: SimEntry = {
    index,
    author,
    seq,
    emittedAt,
    group,
    bytes,
    log: { seq: index + 1, id: new Uint8Array(0), bytes, entry: { author: authorBytes, seq } } as unknown as LogEntry,
    out: { bytes, author, authorSeq: seq }
  }
  bytes.entry = entry
  return entry
}

/** What the node needs of the world around it. */
export interface World {
  readonly clock: Scheduler
  readonly net: Network<Wire>
  readonly counters: Counters
  node: (id: string) => SimNode
  /** an author's entries, indexed by seq (index 0 unused) */
  entriesOf: (author: string) => readonly SimEntry[]
  /** a fresh stream id */
  stream: () => number
  /** `node` stored `entry` for the first time, `hops` links away from its author */
  delivered: (node: SimNode, entry: SimEntry, hops: number, grafted: boolean) => void
}

export interface NodeOptions {
  overlay?: Omit<HyParViewInit, 'self' | 'random'>
  repair?: LazyRepairInit
  /**
   * Not what the code does (a change it could make, tried here): the
   * session that delivered the author first must also have
   * been open this long (ms): a link that just opened may carry copies
   * that came over a path it is about to replace. @default 0
   */
  settledPrune?: number
  /**
   * Not what the code does (a change it could make, tried here): when the
   * session that delivered an author first ends, the next IHave of that
   * author grafts its sender at once, instead of after LazyRepair's
   * timeout: the tree lost its link here, no eager copy is coming.
   * @default false
   */
  orphanGraft?: boolean
  /**
   * Not what the code does (a change it could make, tried here): Plumtree's
   * optimization. An IHave, on a link pruned here, of an entry this node
   * stored `optimize` or more hops later than the announcer did plus the
   * link, grafts the announcer and prunes the author on the link it came
   * by. The announcer's hops are read from the simulated node; the code
   * would need them in IHave and Entries frames.
   */
  optimize?: number
}

/** What passes between nodes. Sync frames carry the id of the stream (session) they belong to. */
export type Wire =
  | { type: 'overlay', message: OverlayMessage }
  /** `reply`: the answer of the side that did not open the stream */
  | { type: 'hello', stream: number, have: Map<string, number>, reply: boolean }
  | { type: 'entries', stream: number, frame: EntryBytes[], hops: number[] }
  | { type: 'ack', stream: number }
  /** Prune or Graft, as SessionCore encodes them */
  | { type: 'sync', stream: number, msg: SyncMessage }
  | { type: 'ihave', stream: number, have: Array<[string, number]> }
  /** the stream closes: the session ends */
  | { type: 'close', stream: number }
  /** the connection closes: the peer sees a disconnect */
  | { type: 'hangup' }

/** One side of a sync session. */
class Session {
  readonly peer: string
  /** the peer's node number, and its author key */
  readonly peerIndex: number
  readonly remoteKey: string
  readonly stream: number
  /** the id of the side that opened the stream */
  readonly initiator: string
  state: 'hello' | 'open' | 'ended' = 'hello'
  openedAt = 0
  readonly sender: Sender
  /** the authors this side asked the remote not to push */
  readonly prunes = new Prunes()

  constructor (peer: SimNode, stream: number, initiator: string, sender: (s: Session) => Sender) {
    this.peer = peer.id
    this.peerIndex = peer.index
    this.remoteKey = peer.key
    this.stream = stream
    this.initiator = initiator
    this.sender = sender(this)
  }
}

/** An author's entries as one node holds them. */
interface AuthorLog {
  /** highest seq stored (all below it are) */
  seq: number
  /** hops of each stored entry, by seq */
  hops: number[]
}

export class SimNode {
  readonly index: number
  readonly id: string
  /** author key (hex) */
  readonly key: string
  readonly view: HyParView
  readonly policy: PrunePolicy
  readonly repair: LazyRepair
  readonly sessions = new Map<string, Session>()
  /** for each author, the peer whose copy this node stored last */
  readonly parent = new Map<string, string>()
  alive = true
  readonly #world: World
  readonly #settledPrune: number
  readonly #orphanGraft: boolean
  readonly #optimize: number | undefined
  /** authors whose first deliverer's session ended, and that nothing delivered since (orphanGraft) */
  readonly #orphaned = new Set<string>()
  readonly #authors = new Map<string, AuthorLog>()
  /** entries waiting for their predecessor: author to seq to hops */
  readonly #held = new Map<string, Map<number, number>>()
  /** for each author, the peer last grafted for it, until it delivers (to tell the deliveries grafts bring) */
  readonly #grafted = new Map<string, string>()
  #overlayAt: number | undefined
  #overlayToken = 0
  #repairAt: number | undefined
  #repairToken = 0

  constructor (world: World, index: number, key: string, random: () => number, opts: NodeOptions = {}) {
    this.#world = world
    this.index = index
    this.id = String(index)
    this.key = key
    this.view = new HyParView({ ...opts.overlay, self: this.id, random })
    this.policy = new PrunePolicy(key)
    this.repair = new LazyRepair(opts.repair)
    this.#settledPrune = opts.settledPrune ?? 0
    this.#orphanGraft = opts.orphanGraft === true
    this.#optimize = opts.optimize
  }

  /** Whether `peer` pushes `author`'s entries here: a session runs with it and this side has not pruned the author on it. */
  eagerFrom (peer: string, author: string): boolean {
    const s = this.sessions.get(peer)
    return s !== undefined && s.state === 'open' && !s.prunes.has(author)
  }

  /** The hops of a stored entry, if stored. */
  hopsOf (author: string, seq: number): number | undefined {
    return this.#authors.get(author)?.hops[seq]
  }

  /** This node's highest stored seq of `author`. */
  seq (author: string): number {
    return this.#authors.get(author)?.seq ?? 0
  }

  /** Joins the overlay through `contact`. */
  join (contact: string): void {
    this.#overlay(v => { v.join(contact, this.#world.clock.now) })
  }

  /** Starts the overlay's timers, without a contact (the first node). */
  start (): void {
    this.#overlay(v => { v.tick(this.#world.clock.now) })
  }

  /** The process dies: its timers stop; the world drops its messages. */
  kill (): void {
    this.alive = false
    this.#overlayToken++
    this.#repairToken++
  }

  /** The connection to `peer` broke (it died): the overlay and the session learn it, as from libp2p's peer:disconnect. */
  disconnected (peer: string): void {
    if (!this.alive) return
    const s = this.sessions.get(peer)
    if (s !== undefined) this.#end(s, false)
    if (this.view.active.has(peer)) this.#overlay(v => { v.failed(peer, this.#world.clock.now) })
  }

  /** This node writes `entries` (its next seqs) in one commit. */
  write (entries: SimEntry[]): void {
    for (const e of entries) {
      if (e.author !== this.key || e.seq !== this.seq(e.author) + 1) throw new Error(`node ${this.id} cannot write ${e.author.slice(0, 8)}:${e.seq}`)
      this.#put(e, 0, undefined)
    }
    this.#commit(entries)
  }

  /** A message from `from`. */
  receive (from: string, wire: Wire): void {
    if (!this.alive) return
    switch (wire.type) {
      case 'overlay': this.#overlay(v => { v.receive(from, wire.message, this.#world.clock.now) }); return
      case 'hello': this.#hello(from, wire.stream, wire.have, wire.reply); return
      case 'close': {
        const s = this.sessions.get(from)
        if (s?.stream !== wire.stream) return
        this.#end(s, false)
        this.#reconcileLater(from)
        return
      }
      case 'hangup': this.disconnected(from); return
    }
    const s = this.sessions.get(from)
    if (s === undefined || s.stream !== wire.stream || s.state !== 'open') return
    switch (wire.type) {
      case 'entries': this.#entries(s, wire.frame, wire.hops); break
      case 'ack': s.sender.ack(1); break
      case 'ihave': this.#ihave(s, wire.have); break
      case 'sync':
        if (wire.msg.prune != null) s.sender.prune(readPrune(wire.msg.prune))
        else if (wire.msg.graft != null) s.sender.graft(readGraft(wire.msg.graft))
        break
    }
  }

  // ------------------------------------------------------------ overlay

  /** Calls the view, then carries out its actions and keeps its timer. */
  #overlay (f: (view: HyParView) => void): void {
    if (!this.alive) return
    f(this.view)
    for (let a = this.view.poll(); a !== undefined; a = this.view.poll()) {
      if (a.type === 'send') this.#sendOverlay(a.to, a.message)
      else if (a.type === 'up') this.#up(a.peer)
      else this.#down(a.peer)
    }
    const at = this.view.timeout
    if (at === this.#overlayAt) return
    const token = ++this.#overlayToken
    this.#overlayAt = at
    if (at === undefined) return
    this.#world.clock.at(at, () => {
      if (token !== this.#overlayToken) return
      this.#overlayAt = undefined
      this.#overlay(v => { v.tick(this.#world.clock.now) })
    })
  }

  #sendOverlay (to: string, message: OverlayMessage): void {
    this.#world.counters.overlay++
    this.#send(to, { type: 'overlay', message })
  }

  /** A message to `to` could not be delivered: an overlay send fails once its dial or write times out. */
  lost (to: string, wire: Wire, sentAt: number): void {
    if (wire.type !== 'overlay') return
    const world = this.#world
    world.clock.at(sentAt + SEND_TIMEOUT, () => {
      world.counters.overlayFailures++
      this.#overlay(v => { v.failed(to, world.clock.now) })
    })
  }

  // The peer entered the active view: a session, unless one runs.
  #up (peer: string): void {
    if (!this.sessions.has(peer)) this.#open(peer)
  }

  // It left: the session ends, and the reaper closes the connection later.
  #down (peer: string): void {
    const s = this.sessions.get(peer)
    if (s !== undefined) this.#end(s, true)
    this.#reapLater(peer)
  }

  // The overlay's reaper: a connection to a peer that is not active is closed
  // after LINGER. Whatever session runs on it ends, and the peer, if it still
  // counts this node active, sees a disconnect.
  #reapLater (peer: string): void {
    this.#world.clock.after(LINGER, () => {
      if (!this.alive || this.view.active.has(peer)) return
      const s = this.sessions.get(peer)
      if (s !== undefined) this.#end(s, false)
      this.#send(peer, { type: 'hangup' })
    })
  }

  // A session that the peer ended while it is still active here: opened
  // again by the service's reconcile round.
  #reconcileLater (peer: string): void {
    if (!this.view.active.has(peer)) return
    this.#world.clock.after(RECONCILE, () => {
      if (this.alive && this.view.active.has(peer) && !this.sessions.has(peer)) this.#open(peer)
    })
  }

  // ------------------------------------------------------------ sessions

  #send (to: string, wire: Wire): void {
    this.#world.net.send(this.index, Number(to), wire)
  }

  #newSession (peer: string, stream: number, initiator: string): Session {
    const s = new Session(this.#world.node(peer), stream, initiator, s => new Sender({
      entries: frame => { this.#sendEntries(s, frame as EntryBytes[]) },
      synced: () => {},
      read: (have, limit) => { this.#read(s, have, limit) },
      ihave: have => {
        this.#world.counters.ihaves++
        this.#world.counters.ihaveItems += have.length
        this.#world.net.send(this.index, s.peerIndex, { type: 'ihave', stream: s.stream, have })
      },
      // as SessionCore does: what was left out is announced IHAVE_DELAY later, in one IHave
      announcing: () => {
        this.#world.clock.after(IHAVE_DELAY, () => {
          if (this.alive && this.sessions.get(peer) === s) s.sender.announce()
        })
      },
      holds: author => this.seq(author),
      now: () => this.#world.clock.now
    }))
    // its own entries go without a probe (SessionCore's `self`)
    s.sender.self = this.key
    this.sessions.set(peer, s)
    return s
  }

  #open (peer: string): void {
    const s = this.#newSession(peer, this.#world.stream(), this.id)
    this.#send(peer, { type: 'hello', stream: s.stream, have: this.#vector(), reply: false })
  }

  #vector (): Map<string, number> {
    const have = new Map<string, number>()
    for (const [author, log] of this.#authors) have.set(author, log.seq)
    return have
  }

  // A Hello: the answer to this side's, or a stream the peer opened. Of two
  // streams opened at once, the one of the smaller opener id is kept, unless
  // the running session is established: the peer opens a stream only when it
  // has none, so this one is dead on its side (SyncService.#run).
  #hello (peer: string, stream: number, have: Map<string, number>, reply: boolean): void {
    const cur = this.sessions.get(peer)
    if (reply) {
      // the answer on a stream this node opened, unless it closed it since
      if (cur?.stream === stream && cur.state === 'hello') this.#ready(cur, have)
      return
    }
    if (cur !== undefined) {
      const established = cur.state === 'open' && this.#world.clock.now - cur.openedAt > REPLACE_AFTER
      if (!established && cur.initiator <= peer) {
        this.#send(peer, { type: 'close', stream })
        return
      }
      this.#end(cur, true)
    }
    const s = this.#newSession(peer, stream, peer)
    this.#send(peer, { type: 'hello', stream, have: this.#vector(), reply: true })
    this.#ready(s, have)
    // a session this node did not ask for: the reaper closes its connection
    // unless the overlay takes the peer by then
    if (!this.view.active.has(peer)) this.#reapLater(peer)
  }

  #ready (s: Session, have: Map<string, number>): void {
    for (const [author, seq] of have) s.sender.remoteHave.set(author, seq)
    s.sender.lazy = true
    s.state = 'open'
    s.openedAt = this.#world.clock.now
    this.#world.counters.sessionsOpened++
    s.sender.start()
  }

  // The node's side of a session's end (SyncService.#run's finally): its
  // peer delivers nothing first any more, and is grafted no more; an author
  // it delivered first that no other session pushes is grafted on one
  // (orphanGrafts). (The blind grafts of the other sessions that follow
  // there are for peers that are not lazy/1; here every peer is.)
  #end (s: Session, notify: boolean): void {
    if (s.state === 'ended') return
    if (s.state === 'open') this.#world.counters.sessionsEnded++
    s.state = 'ended'
    if (this.sessions.get(s.peer) === s) this.sessions.delete(s.peer)
    if (notify) this.#send(s.peer, { type: 'close', stream: s.stream })
    const orphans = this.policy.ended(s.peer)
    for (const [peer, authors] of orphanGrafts(orphans, this.#links())) this.#graft(this.sessions.get(peer)!, authors)
    this.repair.peerGone(s.peer)
    this.#armRepair()
    if (this.#orphanGraft) for (const [author, peer] of this.parent) if (peer === s.peer) this.#orphaned.add(author)
  }

  #sendEntries (s: Session, frame: EntryBytes[]): void {
    const counters = this.#world.counters
    counters.frames++
    counters.entrySends += frame.length
    const hops: number[] = []
    for (const b of frame) {
      b.entry.group.sends++
      hops.push(this.#authors.get(b.entry.author)?.hops[b.entry.seq] ?? 0)
    }
    this.#world.net.send(this.index, s.peerIndex, { type: 'entries', stream: s.stream, frame, hops })
  }

  // A log read for a sender: what a peer with vector `have` lacks, at most
  // `limit`, answered on the next turn.
  #read (s: Session, have: Map<string, number>, limit: number): void {
    this.#world.counters.reads++
    let out: SimEntry[] | undefined
    let authors = 0
    for (const [author, log] of this.#authors) {
      const from = have.get(author) ?? 0
      if (from >= log.seq) continue
      const entries = this.#world.entriesOf(author)
      out ??= []
      authors++
      for (let seq = from + 1; seq <= log.seq; seq++) out.push(entries[seq])
    }
    if (out !== undefined && authors > 1) out.sort((a, b) => a.index - b.index)
    if (out !== undefined && out.length > limit) out.length = limit
    const batch = out === undefined ? [] : out.map(e => e.out)
    this.#world.clock.after(0, () => {
      if (s.state === 'open') s.sender.readDone(batch)
    })
  }

  // An Entries frame, as Receiver.work and Ingester.accept take it: the
  // remote is known to hold what it sent; entries held already are
  // duplicates, and may prune their authors on this link; the new ones are
  // stored and committed to every session; then the Ack.
  #entries (s: Session, frame: EntryBytes[], hops: number[]): void {
    let duplicates: Set<string> | undefined
    const fresh: number[] = []
    for (let i = 0; i < frame.length; i++) {
      const e = frame[i].entry
      if (e.seq <= this.seq(e.author) || this.#held.get(e.author)?.has(e.seq) === true) {
        duplicates ??= new Set()
        duplicates.add(e.author)
      } else {
        fresh.push(i)
      }
    }
    // the highest seq of each author in the frame (Ingester.accept's `seen`):
    // the remote holds them
    if (frame.length === 1) {
      s.sender.seen(frame[0].entry.author, frame[0].entry.seq)
    } else {
      const seen = new Map<string, number>()
      for (const b of frame) if (b.entry.seq > (seen.get(b.entry.author) ?? 0)) seen.set(b.entry.author, b.entry.seq)
      for (const [author, seq] of seen) s.sender.seen(author, seq)
    }
    if (duplicates !== undefined) this.#prune(s, duplicates)
    const stored: SimEntry[] = []
    for (const i of fresh) {
      const e = frame[i].entry
      const log = this.#authors.get(e.author)
      if (e.seq !== (log?.seq ?? 0) + 1) {
        let held = this.#held.get(e.author)
        if (held === undefined) {
          held = new Map()
          this.#held.set(e.author, held)
        }
        held.set(e.seq, hops[i] + 1)
        this.#world.counters.held++
        continue
      }
      this.#put(e, hops[i] + 1, s.peer)
      stored.push(e)
      const held = this.#held.get(e.author)
      if (held === undefined) continue
      const entries = this.#world.entriesOf(e.author)
      for (let next = e.seq + 1, h = held.get(next); h !== undefined; next++, h = held.get(next)) {
        held.delete(next)
        this.#put(entries[next], h, s.peer)
        stored.push(entries[next])
      }
      if (held.size === 0) this.#held.delete(e.author)
    }
    if (stored.length > 0) {
      const authors = new Set<string>()
      for (const e of stored) authors.add(e.author)
      const now = this.#world.clock.now
      this.policy.stored(s.peer, authors, now)
      // SyncService.#stored
      for (const author of authors) if (this.repair.has(author)) this.repair.stored(author, this.seq(author), now)
      this.#armRepair()
      this.#commit(stored)
    }
    this.#world.net.send(this.index, s.peerIndex, { type: 'ack', stream: s.stream })
  }

  // The Prune that `authors` call for on this session, as the service's
  // mayPrune allows it (SessionCore's `duplicates`).
  #prune (s: Session, authors: Iterable<string>): void {
    const now = this.#world.clock.now
    // SyncService's mayPrune: the first deliverer still pushes the author here
    const running = (author: string) => (p: string) => this.eagerFrom(p, author) && now - (this.sessions.get(p)?.openedAt ?? now) >= this.#settledPrune
    const prune = s.prunes.prune(authors, author => this.policy.mayPrune(s.peer, s.remoteKey, author, running(author)))
    if (prune == null) return
    this.#world.counters.prunes++
    this.#world.counters.prunedAuthors += prune.prune?.authors.length ?? 0
    this.#send(s.peer, { type: 'sync', stream: s.stream, msg: prune })
  }

  #put (e: SimEntry, hops: number, from: string | undefined): void {
    let log = this.#authors.get(e.author)
    if (log === undefined) {
      log = { seq: 0, hops: [0] }
      this.#authors.set(e.author, log)
    }
    log.seq = e.seq
    log.hops[e.seq] = hops
    if (from !== undefined) {
      this.parent.set(e.author, from)
      this.#orphaned.delete(e.author)
      const grafted = this.#grafted.get(e.author) === from
      if (grafted) this.#grafted.delete(e.author)
      this.#world.delivered(this, e, hops, grafted)
    }
  }

  // The log's commit reaches every session (Log's commit listener, then
  // SessionCore.committed), the one the entries came from included.
  #commit (entries: SimEntry[]): void {
    const logs = entries.map(e => e.log)
    for (const s of this.sessions.values()) {
      s.sender.committed(logs)
      if (s.sender.waiting > 0) this.#world.counters.windowFull++
    }
  }

  // ------------------------------------------------------------ lazy repair

  // SessionCore.#ihave, then SyncService.#announced: only the authors pruned
  // on this link are waited for (one that is not is pushed here, or was just
  // grafted).
  #ihave (s: Session, have: Array<[string, number]>): void {
    const now = this.#world.clock.now
    for (const [author, seq] of have) {
      s.sender.seen(author, seq)
      if (this.#optimize !== undefined && s.prunes.has(author) && this.seq(author) >= seq) {
        this.#swap(s, author, seq, this.#optimize)
        continue
      }
      if (!s.prunes.has(author) || this.seq(author) >= seq) continue
      if (this.#orphaned.delete(author)) this.#graft(s, new Set([author]))
      else this.repair.announced(s.peer, author, seq, this.seq(author), now, this.policy.delivers(author, p => this.eagerFrom(p, author)) ? undefined : this.#rto(author))
    }
    this.#armRepair()
  }

  // SyncService.#rto: how long a copy of `author` on its way here may take.
  #rto (author: string): number | undefined {
    const now = this.#world.clock.now
    return rtoOf([...this.sessions.values()].flatMap(s => s.state === 'open' ? [{ rto: s.sender.rtt.timeout(now), pushes: !s.prunes.has(author) }] : []))
  }

  // The optimize change: the announcer on `s` had `author`'s `seq` at least
  // `threshold` hops sooner than this node, counting the link: it becomes
  // the tree link, and the link that delivered it is pruned.
  #swap (s: Session, author: string, seq: number, threshold: number): void {
    const mine = this.#authors.get(author)?.hops[seq]
    const theirs = this.#world.node(s.peer).hopsOf(author, seq)
    const parent = this.parent.get(author)
    const ps = parent === undefined ? undefined : this.sessions.get(parent)
    if (mine === undefined || theirs === undefined || theirs + 1 + threshold > mine) return
    if (ps === undefined || ps === s || ps.state !== 'open' || ps.prunes.has(author) || author === ps.remoteKey) return
    this.#world.counters.swaps++
    this.#graft(s, new Set([author]))
    const prune = ps.prunes.prune([author], () => true)
    if (prune != null) this.#send(ps.peer, { type: 'sync', stream: ps.stream, msg: prune })
    this.parent.set(author, s.peer)
  }

  #armRepair (): void {
    const at = this.alive ? this.repair.timeout : undefined
    if (at === this.#repairAt) return
    const token = ++this.#repairToken
    this.#repairAt = at
    if (at === undefined) return
    this.#world.clock.at(at, () => {
      if (token !== this.#repairToken) return
      this.#repairAt = undefined
      this.#repairDue()
    })
  }

  // SyncService.#repairDue: the grafts due, one Graft per session.
  #repairDue (): void {
    const world = this.#world
    const grafts = this.repair.tick(world.clock.now, author => this.seq(author), false, author => this.policy.delivers(author, p => this.eagerFrom(p, author)))
    world.counters.dueGrafts += grafts.length
    const byPeer = new Map<string, Set<string>>()
    for (const { peer, author } of grafts) {
      const authors = byPeer.get(peer) ?? new Set()
      authors.add(author)
      byPeer.set(peer, authors)
    }
    for (const [peer, authors] of byPeer) {
      const s = this.sessions.get(peer)
      if (s?.state === 'open') this.#graft(s, authors)
    }
    if (grafts.length > 0) {
      for (const [parent, authors] of parentPrunes(grafts, this.#links(), author => this.policy.first(author))) {
        const ps = this.sessions.get(parent)!
        const prune = ps.prunes.prune(authors, () => true)
        if (prune != null) this.#send(ps.peer, { type: 'sync', stream: ps.stream, msg: prune })
      }
    }
    this.#armRepair()
  }

  // The open sessions, as orphanGrafts and parentPrunes see them.
  #links (): LinkView[] {
    return [...this.sessions.values()].filter(o => o.state === 'open').map(o => ({ peer: o.peer, remoteKey: o.remoteKey, pruned: (a: string) => o.prunes.has(a) }))
  }

  #graft (s: Session, authors: Set<string>): void {
    const graft = s.prunes.graft(author => this.seq(author), author => authors.has(author))
    if (graft == null) return
    this.#world.counters.grafts++
    for (const author of authors) this.#grafted.set(author, s.peer)
    this.#send(s.peer, { type: 'sync', stream: s.stream, msg: graft })
  }
}
