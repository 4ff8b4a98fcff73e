// A sync session over a libp2p stream: pumps the stream's bytes through a
// SessionCore, performs the core's storage actions against the Log and the
// session's Ingester, and keeps its timer on the wall clock.
import { ProtocolError } from '../errors.js'
import { toHex } from '../log/entry.js'
import { SessionCore } from './core.js'
import { SessionStorage } from './storage.js'
import { CLOSE_TIMEOUT } from './constants.js'
import type { Action } from './actions.js'
import type { SyncCounters } from './counters.js'
import type { LocalDescriptor } from './schemas.js'
import type { IngestInit } from '../log/ingest.js'
import type { CheckPool } from '../log/check-pool.js'
import type { Log } from '../log/log.js'
import type { Logger, Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SessionInit {
  log: Log
  fingerprint: Uint8Array
  /** the schema's descriptor, compared with the peer's (see CoreInit) */
  descriptor?: LocalDescriptor
  topic: string
  ingest: IngestInit
  logger: Logger
  /** called once the remote sent everything this node lacked at handshake */
  onSynced: () => void
  /** called for each batch of entries the remote sent that were refused */
  onInvalid: (count: number, reason: string) => void
  /** called once both Hellos agree */
  onHandshake?: () => void
  /** told of the authors (hex) whose entries this session stored */
  onStored?: (authors: Set<string>) => void
  /**
   * Whether the remote may be asked to stop pushing an author (hex) whose
   * entry it sent again: only while another live session delivers that
   * author first. @default never
   */
  mayPrune?: (author: string) => boolean
  /** the features named in this side's Hello. @default FEATURES */
  features?: readonly string[]
  /**
   * told that the remote (lazy/1) holds entries of these authors (hex) up to
   * these seqs, which this node lacks, and does not push them
   */
  onIHave?: (have: Array<[string, number]>) => void
  /** the node's counters, raised by this session too */
  counters?: SyncCounters
  /** where long Entries frames are checked (SessionStorage) */
  checks?: CheckPool
}

/**
 * One sync session over one stream: handshake, then each side sends what
 * the other lacks (catch-up), then new entries as they are stored (live),
 * with a window of unacknowledged batches in each direction.
 */
export class Session {
  readonly #stream: Stream
  readonly #init: SessionInit
  readonly #storage: SessionStorage
  readonly #core: SessionCore
  readonly #ready = Promise.withResolvers<void>()
  readonly #synced = Promise.withResolvers<void>()
  readonly #done = Promise.withResolvers<void>()
  #closed = false
  #started = false
  #heardAt = 0
  #unsubscribe: (() => void) | undefined
  /** bytes waiting for the stream's drain */
  readonly #unsent: Uint8ArrayList[] = []
  #draining = false
  #timer: ReturnType<typeof setTimeout> | undefined
  #timerAt: number | undefined
  #working = false

  constructor (stream: Stream, init: SessionInit) {
    this.#stream = stream
    this.#init = init
    this.#storage = new SessionStorage(init.log, init.ingest, init.checks)
    this.#core = new SessionCore({
      storage: this.#storage,
      fingerprint: init.fingerprint,
      descriptor: init.descriptor,
      topic: init.topic,
      mayPrune: init.mayPrune,
      features: init.features,
      self: toHex(init.log.identity.publicKey),
      counters: init.counters,
      log: init.logger
    })
    this.#synced.promise.catch(() => {})
    this.#ready.promise.catch(() => {})
  }

  /** Resolves when the handshake is done and the peers agree. */
  get ready (): Promise<void> {
    return this.#ready.promise
  }

  /** Resolves when the remote has sent everything this node lacked. */
  get synced (): Promise<void> {
    return this.#synced.promise
  }

  get closed (): boolean {
    return this.#closed
  }

  /** When bytes last came from the peer (ms; 0 before any). */
  get heardAt (): number {
    return this.#heardAt
  }

  /** Both Hellos named lazy/1 (see SessionCore.lazy); false until the handshake passed. */
  get lazy (): boolean {
    return this.#core.lazy
  }

  /** Entries frames received and not yet stored (and acknowledged). */
  get backlog (): number {
    return this.#core.backlog
  }

  /** A timeout for a round trip on this link at `now` (ms; see RttEstimator), or undefined before an Entries frame was acknowledged. */
  rto (now: number): number | undefined {
    return this.#core.rto(now)
  }

  /** Whether this side asked the remote not to push `author` (hex). */
  pruned (author: string): boolean {
    return this.#core.pruned(author)
  }

  /** The features the remote named in its Hello. */
  get remoteFeatures (): readonly string[] {
    return this.#core.remoteFeatures
  }

  /**
   * What the remote is known to hold, author (hex) to highest seq: its
   * Hello's vector, raised by what crossed since (read-only). `pruned` are
   * the authors the remote asked this side not to push, as it gets them
   * from another peer: for those `have` lags.
   */
  remoteVector (): { have: ReadonlyMap<string, number>, pruned: (author: string) => boolean } {
    const sender = this.#core.sender
    return { have: sender.remoteHave, pruned: author => sender.prunedByRemote(author) }
  }

  /** Entries sent, in Entries frames. */
  get sent (): number {
    return this.#core.sent
  }

  /** Entries received and stored. */
  get received (): number {
    return this.#core.received
  }

  /** Runs the session until either side closes it; rejects when it ends with an error (a refusal, a reset, a timeout). */
  async run (): Promise<void> {
    if (this.#started) return this.#done.promise
    this.#started = true
    const stream = this.#stream
    this.#unsubscribe = this.#init.log.onCommit((entries, by) => {
      this.#core.committed(entries, Date.now(), this.#storage.stores(by))
      this.#pump()
    })
    stream.addEventListener('message', evt => {
      this.#heardAt = Date.now()
      this.#core.receive(evt.data, this.#heardAt)
      this.#pump()
    })
    // the peer's end closed once every byte before it was delivered
    stream.addEventListener('end', () => {
      this.#core.transportEnded(false)
      this.#pump()
    })
    stream.addEventListener('close', evt => {
      this.#core.transportEnded(evt.error != null)
      this.#pump()
    })
    stream.addEventListener('drain', () => { this.#drain() })
    this.#core.start(Date.now())
    this.#pump()
    return this.#done.promise
  }

  /** Ends the session from this side. */
  close (): void {
    if (!this.#started) {
      this.#closed = true
      this.#stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT) }).catch((err: Error) => { this.#stream.abort(err) })
      return
    }
    this.#core.close()
    this.#pump()
  }

  /**
   * Asks the remote to push again the authors this side pruned (those `which`
   * picks, or all), from what this node holds now: another session ended, and
   * may have been the one that delivered them, or the remote announced
   * entries that did not come otherwise.
   */
  graft (which?: (author: string) => boolean): void {
    this.#core.graft(which)
    this.#pump()
  }

  /** Asks the remote to stop pushing `authors`: this node takes them by another link now. */
  prune (authors: Iterable<string>): void {
    this.#core.prune(authors)
    this.#pump()
  }

  // Performs what the core asks, then schedules its checking work and its timer.
  #pump (): void {
    for (let action = this.#core.poll(); action != null; action = this.#core.poll()) this.#perform(action)
    if (this.#core.ended) return
    if (this.#core.wantsWork && !this.#working) {
      this.#working = true
      // after the actions before it: an Ack is written before the next part
      // is checked. In a later turn of the event loop, not a microtask: a
      // catch-up's parts and store passes would otherwise run back to back
      // for whole frames, with the socket unread and V8's GC tasks waiting
      // (B's peak RSS in a catch-up of 100,000: median 225 -> 201 MB)
      setImmediate(() => {
        this.#working = false
        this.#core.work(Date.now())
        this.#pump()
      })
    }
    const at = this.#core.timeout
    if (at !== this.#timerAt) {
      clearTimeout(this.#timer)
      this.#timerAt = at
      if (at != null) {
        this.#timer = setTimeout(() => {
          this.#timerAt = undefined
          this.#core.tick(Date.now())
          this.#pump()
        }, Math.max(1, at - Date.now()))
        this.#timer.unref?.()
      }
    }
  }

  #perform (action: Action): void {
    switch (action.type) {
      case 'send': this.#write(action.bytes); break
      case 'read':
        this.#storage.read(action.have, action.limit).then(
          entries => { this.#core.readDone(entries) },
          (err: Error) => { this.#core.storageFailed(err) }
        ).finally(() => { this.#pump() })
        break
      case 'check':
        // a failed check leaves the frame to be checked here
        this.#storage.check(action.entries).then(
          checked => { this.#core.checkDone(action.frame, checked) },
          () => { this.#core.checkDone(action.frame, undefined) }
        ).finally(() => { this.#pump() })
        break
      case 'store':
        // what the pass gives (its `stored`, a Prune) is acted on at once:
        // another session's pass that ends next asks the node which session
        // delivered first
        this.#storage.store(action.upTo, action.detach).then(
          res => { this.#core.storeDone(res); this.#pump() },
          (err: Error) => { this.#core.storageFailed(err); this.#pump() }
        )
        break
      case 'ready':
        this.#ready.resolve()
        this.#init.onHandshake?.()
        break
      case 'synced':
        this.#synced.resolve()
        this.#init.onSynced()
        break
      case 'invalid': this.#init.onInvalid(action.count, action.reason); break
      case 'stored': this.#init.onStored?.(action.authors); break
      case 'ihave': this.#init.onIHave?.(action.have); break
      case 'end': void this.#end(action.error, action.reset); break
    }
  }

  #write (bytes: Uint8ArrayList): void {
    if (this.#draining) this.#unsent.push(bytes)
    else this.#send(bytes)
  }

  #send (bytes: Uint8ArrayList): void {
    try {
      // the bytes are taken either way; false asks to wait for 'drain'
      if (!this.#stream.send(bytes)) this.#draining = true
    } catch {
      // the stream no longer takes writes: its 'close' ends the session
    }
  }

  #drain (): void {
    this.#draining = false
    while (this.#unsent.length > 0 && !this.#draining) this.#send(this.#unsent.shift()!)
  }

  async #end (error: Error | undefined, reset: boolean): Promise<void> {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#unsubscribe?.()
    this.#ready.reject(error ?? new ProtocolError('the session closed'))
    this.#synced.reject(error ?? new ProtocolError('the session closed before the peer was synced'))
    const stream = this.#stream
    if (reset) {
      stream.abort(error ?? new ProtocolError('the session ended'))
    } else {
      // after the last frames (a Refuse among them), so that the stream does
      // not linger half-open and count against MAX_STREAMS
      try {
        const signal = AbortSignal.timeout(CLOSE_TIMEOUT)
        while (this.#draining) {
          await stream.onDrain({ signal })
          this.#drain()
        }
        await stream.close({ signal })
      } catch (err) {
        stream.abort(err as Error)
      }
    }
    if (error != null) this.#done.reject(error)
    else this.#done.resolve()
  }
}
