// One sync session as a state machine: bytes from the peer, storage results
// and the time come in as method calls; frames to send, storage work and
// what happened go out as Actions (`poll`). No stream, timer or promise
// inside: the libp2p adapter (session.ts) and the in-memory pair of the tests
// drive the same code, each with its own clock.
import { ProtocolError, RefusedError } from '../errors.js'
import { toHex } from '../log/entry.js'
import { PUBLIC_KEY_LENGTH } from '../log/identity.js'
import { EntryList, FrameReader, decodeFrame, encodeEntriesFrame, encodeFrame, readContext, readEntriesFrame } from './framing.js'
import { Handshake, ownHello } from './handshake.js'
import { frameRefusal, refusedBy, saysWhy } from './refusals.js'
import type { LocalDescriptor } from './schemas.js'
import { readGraft, readIHave, readPrune } from './prune.js'
import { TreeLink } from './tree-link.js'
import { Receiver } from './receiver.js'
import { Sender } from './sender.js'
import { SyncCounters } from './counters.js'
import { SessionTimers } from './timers.js'
import { FEATURES, FEATURE_LAZY, HANDSHAKE_TIMEOUT, MAX_FEATURE_LENGTH, REFUSE } from './constants.js'
import type { Action, CoreStorage, Outgoing, StoreResult } from './actions.js'
import type { Hello, SyncMessage } from '../pb/sync.js'
import type { Change } from '../schema/compat.js'
import type { LogEntry } from '../log/log.js'
import type { Checked } from '../log/check-pool.js'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface CoreInit {
  storage: CoreStorage
  /** the older fingerprint of the events' schema (Hello.schema, protocols/README.md §5.1) */
  fingerprint: Uint8Array
  /**
   * The schema's canonical descriptor: with it, a peer that sends one too
   * may run another schema, compatible with this one. Without it the core
   * compares `fingerprint` only, as nodes did before descriptors.
   */
  descriptor?: LocalDescriptor
  /** cluster name */
  topic: string
  /**
   * Whether the remote may be asked to stop pushing an author (hex) whose
   * entry it sent again (see PrunePolicy). @default never
   */
  mayPrune?: (author: string) => boolean
  /**
   * The features this side names in its Hello. A core with none behaves as
   * one written before features existed. @default FEATURES
   */
  features?: readonly string[]
  /**
   * This node's author key (hex). Toward a lazy/1 peer its own entries go
   * without a probe: a peer never prunes an author on the link from it.
   */
  self?: string
  /** raised as frames go and come; a node passes one for all its sessions. @default a counter of its own */
  counters?: SyncCounters
  /** debug logging */
  log?: (format: string, ...args: unknown[]) => void
}

export class SessionCore {
  readonly #init: CoreInit
  readonly #storage: CoreStorage
  readonly #reader = new FrameReader()
  readonly #actions: Action[] = []
  #head = 0
  #phase: 'new' | 'handshake' | 'open' | 'ended' = 'new'
  /** what the peer owes of the handshake, while it lasts */
  #handshake: Handshake | undefined
  #changes: readonly Change[] = []
  readonly #timers: SessionTimers
  readonly #features: readonly string[]
  #remoteFeatures: readonly string[] = []
  readonly #sender: Sender
  readonly #tree: TreeLink
  readonly #receiver: Receiver
  readonly #counters: SyncCounters

  constructor (init: CoreInit) {
    this.#init = init
    this.#storage = init.storage
    this.#features = init.features ?? FEATURES
    const counters = this.#counters = init.counters ?? new SyncCounters()
    this.#sender = new Sender({
      entries: (frame, context) => {
        counters.entriesSent += frame.length
        this.#act({ type: 'send', bytes: encodeEntriesFrame(frame, context) })
      },
      context: (author, e) => this.#storage.context?.(author, e),
      synced: () => { this.#send({ synced: { length: this.#storage.length } }) },
      read: (have, limit) => { this.#act({ type: 'read', have, limit }) },
      ihave: have => { this.#tree.announce(have) },
      announcing: () => { this.#timers.announcing() },
      holds: author => this.#storage.authorSeq(author),
      now: () => this.#timers.now
    })
    this.#sender.self = init.self
    this.#tree = new TreeLink({
      sender: this.#sender,
      counters,
      send: msg => { this.#send(msg) },
      act: action => { this.#act(action) },
      authorSeq: author => this.#storage.authorSeq(author),
      mayPrune: init.mayPrune
    })
    this.#timers = new SessionTimers({
      retry: () => { this.#receiver.retry() },
      expire: now => {
        this.#storage.expire(now)
        return this.#storage.pending > 0 ? this.#storage.pendingTtl : undefined
      },
      announce: () => {
        this.#sender.announce()
        return this.#sender.announcing
      }
    })
    this.#receiver = new Receiver({
      accept: (entries, now, context, checked) => this.#storage.accept(entries, now, context, checked),
      check: (frame, entries) => {
        if (this.#storage.wantsCheck?.(entries) !== true) return false
        this.#act({ type: 'check', frame, entries: entries.slice(0) })
        return true
      },
      seen: (author, seq) => { this.#sender.seen(author, seq) },
      duplicates: authors => { this.#tree.duplicates(authors) },
      holds: author => this.#storage.authorSeq(author),
      send: msg => { this.#send(msg) },
      store: (upTo, detach) => { this.#act({ type: 'store', upTo, detach }) },
      invalid: (count, reason) => { this.#act({ type: 'invalid', count, reason }) },
      stored: authors => { this.#act({ type: 'stored', authors }) },
      synced: () => { this.#act({ type: 'synced' }) }
    })
  }

  /** The session is over (an `end` action was given). */
  get ended (): boolean {
    return this.#phase === 'ended'
  }

  /** The handshake passed. */
  get open (): boolean {
    return this.#phase === 'open'
  }

  /**
   * How the remote's schema differs from this node's, all compatibly
   * (protocols/README.md §5.1.1), once the handshake passed; empty when the
   * two are the same, or were compared by fingerprint.
   */
  get schemaChanges (): readonly Change[] {
    return this.#changes
  }

  /** The features the remote named in its Hello (those of at most MAX_FEATURE_LENGTH characters), once the handshake passed. */
  get remoteFeatures (): readonly string[] {
    return this.#remoteFeatures
  }

  /**
   * Both Hellos named lazy/1: the sender announces pruned authors by IHave,
   * IHave frames are taken, and the node repairs its tree from them (no
   * blind regrafts).
   */
  get lazy (): boolean {
    return this.#tree.lazy
  }

  /** Entries frames received and not yet stored (and acknowledged). */
  get backlog (): number {
    return this.#receiver.unacked
  }

  /** A timeout for a round trip on this link at `now` (ms; see RttEstimator), or undefined before an Entries frame was acknowledged. */
  rto (now: number): number | undefined {
    return this.#sender.rtt.timeout(now)
  }

  /** Whether this side asked the remote not to push `author` (hex). */
  pruned (author: string): boolean {
    return this.#tree.pruned(author)
  }

  /** Entries sent, in Entries frames. */
  get sent (): number {
    return this.#sender.sent
  }

  /** Entries received and stored. */
  get received (): number {
    return this.#receiver.received
  }

  /** The sending half, for tests to look into. */
  get sender (): Sender {
    return this.#sender
  }

  /** The receiving half, for tests to look into. */
  get receiver (): Receiver {
    return this.#receiver
  }

  /** The next action to perform, in order, or undefined. */
  poll (): Action | undefined {
    if (this.#head >= this.#actions.length) return undefined
    const action = this.#actions[this.#head++]
    if (this.#head === this.#actions.length) {
      this.#actions.length = 0
      this.#head = 0
    }
    return action
  }

  /** When `tick` is due next (ms, on the clock the driver passes), or undefined. */
  get timeout (): number | undefined {
    if (this.#phase === 'handshake') return this.#handshake!.by
    if (this.#phase !== 'open') return undefined
    return this.#timers.next
  }

  /** Whether a part of a frame waits to be checked: call `work`, after the actions before it are performed. */
  get wantsWork (): boolean {
    return this.#phase === 'open' && this.#receiver.wantsWork
  }

  /** Sends the Hello; the peer's is due within HANDSHAKE_TIMEOUT. */
  start (now: number): void {
    if (this.#phase !== 'new') return
    this.#timers.seen(now)
    this.#phase = 'handshake'
    this.#handshake = new Handshake(this.#init, now)
    this.#send(ownHello(this.#init, this.#storage.vector(), this.#features))
  }

  /** Bytes from the peer, at `now` (by default, the latest time passed). */
  receive (bytes: Uint8Array | Uint8ArrayList, now?: number): void {
    if (this.#phase === 'ended') return
    if (now !== undefined) this.#timers.seen(now)
    this.#guard(() => {
      this.#reader.push(bytes)
      while (this.#phase === 'handshake' || this.#phase === 'open') {
        let frame: Uint8Array | undefined
        try {
          frame = this.#reader.next()
        } catch (err) {
          throw frameRefusal(err, this.#handshake?.due)
        }
        if (frame == null) return
        if (this.#phase === 'handshake') this.#handshook(frame)
        else this.#dispatch(frame)
      }
    })
  }

  /**
   * The peer's side of the stream ended: its writable end closed (EOF), or
   * the stream was reset (`reset`). Before the Hello it is a failure; after,
   * the session is over.
   */
  transportEnded (reset = false): void {
    if (this.#phase === 'ended') return
    if (this.#phase !== 'open') {
      const what = `the ${this.#handshake?.due ?? 'Hello'}`
      this.#fail(new ProtocolError(reset ? `the stream was reset before ${what}` : `the stream ended before ${what}`))
      return
    }
    this.#end(undefined, reset)
  }

  /** The time is `now`: timeouts that are due fire. */
  tick (now: number): void {
    this.#timers.seen(now)
    if (this.#phase === 'handshake' && now >= this.#handshake!.by) {
      this.#fail(new ProtocolError(`no ${this.#handshake!.due} within ${HANDSHAKE_TIMEOUT} ms`))
      return
    }
    if (this.#phase !== 'open') return
    this.#guard(() => { this.#timers.tick(now) })
  }

  /**
   * The node stored these entries (its own or from any peer); `own`: by a
   * store pass of this session, which left nothing held here that the
   * commit makes ready (its rounds go on while they store).
   */
  committed (entries: LogEntry[], now: number, own = false): void {
    if (this.#phase === 'ended') return
    if (own) this.#timers.seen(now)
    else this.#timers.committed(now, this.#storage.verified > 0)
    this.#guard(() => { this.#sender.committed(entries) })
  }

  /** A `read` action is done. */
  readDone (entries: Outgoing[]): void {
    if (this.#phase === 'ended') return
    this.#guard(() => { this.#sender.readDone(entries) })
  }

  /** A `store` action is done. */
  storeDone (res: StoreResult): void {
    this.#counters.entriesStored += res.stored.length
    if (this.#phase === 'ended') {
      this.#receiver.storedLate(res)
      return
    }
    this.#guard(() => { this.#receiver.storeDone(res) })
  }

  /** A `check` action is done: `checked` is what it found, or undefined if it failed (the core checks the frame itself). */
  checkDone (frame: number, checked: Checked | undefined): void {
    if (this.#phase === 'ended') return
    this.#receiver.checkDone(frame, checked)
  }

  /** A `read` or `store` action failed: the session ends with that error. */
  storageFailed (err: Error): void {
    this.#fail(err)
  }

  /** Checks the next part of a frame (see `wantsWork`). */
  work (now: number): void {
    if (this.#phase !== 'open') return
    this.#timers.seen(now)
    this.#guard(() => {
      this.#receiver.work(now)
      if (this.#storage.pending > 0) this.#timers.holding(now, this.#storage.pendingTtl)
    })
  }

  /**
   * Asks the remote to push again the authors this side pruned (those `which`
   * picks, or all), from what this node holds now.
   */
  graft (which?: (author: string) => boolean): void {
    if (this.#phase === 'open') this.#tree.graft(which)
  }

  /** Asks the remote to stop pushing `authors`: this node takes them by another link now. */
  prune (authors: Iterable<string>): void {
    if (this.#phase === 'open') this.#tree.prune(authors)
  }

  /** Ends the session from this side. */
  close (): void {
    if (this.#phase !== 'ended') this.#end(undefined, false)
  }

  #act (action: Action): void {
    this.#actions.push(action)
  }

  #send (msg: SyncMessage): void {
    this.#act({ type: 'send', bytes: encodeFrame(msg) })
  }

  #guard (fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#fail(err as Error)
    }
  }

  // A frame of the handshake. After the peer's descriptor either both sides
  // open or both refuse, each saying why in its own terms.
  #handshook (frame: Uint8Array): void {
    const step = this.#handshake!.take(frame)
    if ('send' in step) {
      this.#send(step.send)
      return
    }
    if (step.changes != null) {
      this.#changes = step.changes
      this.#init.log?.('the peer runs a compatible schema: %d changes', step.changes.length)
    }
    this.#open(step.open)
  }

  #open (hello: Hello): void {
    for (const h of hello.have) {
      if (h.author.byteLength === PUBLIC_KEY_LENGTH && Number.isSafeInteger(h.seq)) this.#sender.remoteHave.set(toHex(h.author), h.seq)
    }
    this.#remoteFeatures = hello.features.filter(f => f.length <= MAX_FEATURE_LENGTH)
    this.#tree.lazy = this.#features.includes(FEATURE_LAZY) && this.#remoteFeatures.includes(FEATURE_LAZY)
    this.#phase = 'open'
    this.#handshake = undefined
    this.#act({ type: 'ready' })
    this.#sender.start()
  }

  // Each kind of frame to its handler, in the order of protocols/README.md §2.
  #dispatch (frame: Uint8Array): void {
    // most frames: read with no object per entry
    const entries = readEntriesFrame(frame)
    if (entries != null) {
      this.#receiver.entries(entries)
      return
    }
    let msg: SyncMessage
    try {
      msg = decodeFrame(frame)
    } catch (err) {
      throw new RefusedError(`bad frame: ${(err as Error).message}`, { refuseCode: REFUSE.PROTOCOL })
    }
    if (msg.entries != null) this.#receiver.entries(EntryList.of(msg.entries.entries), readContext(msg.entries.entries.length, msg.entries.context))
    else if (msg.ack != null) this.#sender.ack(msg.ack.batches)
    else if (msg.synced != null) this.#receiver.synced()
    else if (msg.refuse != null) this.#refused(msg.refuse.code, msg.refuse.reason)
    else if (msg.prune != null) this.#tree.takePrune(readPrune(msg.prune))
    else if (msg.graft != null) this.#tree.takeGraft(readGraft(msg.graft))
    else if (msg.ihave != null) this.#tree.takeIHave(readIHave(msg.ihave))
    else throw new RefusedError('unexpected frame after the handshake', { refuseCode: REFUSE.PROTOCOL })
  }

  #refused (code: number, reason: string): void {
    if (code !== REFUSE.INVALID_ENTRY) throw refusedBy(code, reason)
    // a notice: the session goes on
    this.#init.log?.('the peer refused entries: %s', reason)
  }

  // This side ends the session: it says why and closes, or resets (saysWhy).
  #fail (err: Error): void {
    if (this.#phase === 'ended') return
    const says = saysWhy(err)
    if (says) this.#send({ refuse: { code: err.refuseCode, reason: err.message } })
    this.#end(err, !says)
  }

  #end (error: Error | undefined, reset: boolean): void {
    this.#phase = 'ended'
    this.#handshake = undefined
    this.#timers.clear()
    this.#storage.clear()
    this.#act({ type: 'end', error, reset })
  }
}
