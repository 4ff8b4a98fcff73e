import { Session } from './session.js'
import { blocksPeer } from './refusals.js'
import { PrunePolicy, orphanGrafts, parentPrunes, rtoOf, type LinkView } from './prune.js'
import { SyncCounters, type SyncFigures } from './counters.js'
import { LazyRepair } from './plumtree.js'
import {
  PROTOCOL, MAX_STREAMS, STREAM_WINDOW, OPEN_TIMEOUT, BLOCK_MS, DELIVERER_SILENCE, REGRAFT_MS, RECONCILE_MS, MAX_REOPEN_BACKOFF, REPLACE_AFTER_MS, REFUSE, FEATURES, refuseName
} from './constants.js'
import { ProtocolError, RefusedError } from '../errors.js'
import { toHex } from '../log/entry.js'
import type { SyncComponents, SyncInit } from './types.js'
import type { IngestInit } from '../log/ingest.js'
import { CheckPool } from '../log/check-pool.js'
import type { Connection, Logger, Startable, Stream, PeerId } from '@libp2p/interface'

interface Entry {
  session: Session
  /** the remote's author key (hex) */
  remoteKey: string
  /** peer id of the side that opened the stream */
  initiator: string
  ready: Promise<void>
  /** when the handshake passed */
  readyAt?: number
}

/** Sessions with a peer that were refused, in a row, and when the next may be opened. */
interface Failures {
  count: number
  until: number
}

/** The /hyperemitter/sync/1.0.0 service: one sync session per connected peer. */
export class SyncService implements Startable {
  readonly #components: SyncComponents
  readonly #init: SyncInit
  readonly #log: Logger
  readonly #sessions = new Map<string, Entry>()
  readonly #blocked = new Map<string, number>()
  readonly #waiting = new Map<string, Set<() => void>>()
  /** peers a stream is being opened to: one at a time per peer */
  readonly #opening = new Set<string>()
  readonly #failures = new Map<string, Failures>()
  readonly #pruning: PrunePolicy
  readonly #repair: LazyRepair
  readonly #features: readonly string[]
  readonly #counters = new SyncCounters()
  /** what every session's Ingester takes: one pool, so that a store pass completes held entries across sessions */
  readonly #ingest: IngestInit
  #repairTimer: ReturnType<typeof setTimeout> | undefined
  #repairAt: number | undefined
  #regraft: ReturnType<typeof setInterval> | undefined
  #reconcile: ReturnType<typeof setInterval> | undefined
  #topology: string | undefined
  #running = false
  /** hashes and checks the signatures of long Entries frames for every session */
  readonly #checks: CheckPool

  constructor (components: SyncComponents, init: SyncInit) {
    this.#components = components
    this.#init = init
    this.#log = components.logger.forComponent('hyperemitter:sync')
    this.#pruning = new PrunePolicy(toHex(init.log.identity.publicKey))
    this.#repair = new LazyRepair({ timeout: init.graftTimeout, retry: init.graftRetry })
    this.#features = init.lazy === false ? [] : FEATURES
    this.#ingest = { ...init.ingest, pool: new Set() }
    this.#checks = new CheckPool()
  }

  readonly [Symbol.toStringTag] = '@hyperemitter/sync'

  async start (): Promise<void> {
    await this.#components.registrar.handle(PROTOCOL, (stream, connection) => { this.#run(stream, connection, false) }, {
      maxInboundStreams: MAX_STREAMS,
      maxOutboundStreams: MAX_STREAMS
    })
    this.#topology = await this.#components.registrar.register(PROTOCOL, {
      onConnect: (peer, connection) => {
        // the dialer opens the stream, so a pair of nodes runs one session
        if (connection.direction === 'outbound') void this.#open(connection)
      }
    })
    this.#running = true
    // pruning can leave a node whose remaining paths to an author all run
    // through nodes that pruned them too: every so often each session asks
    // again for the pruned authors of which nothing came meanwhile (asking
    // for one that streams in would bring what is on its way a second time).
    // A lazy/1 peer announces what it holds instead, and is grafted when
    // that does not come (LazyRepair): its link is left alone here
    this.#regraft = setInterval(() => {
      const stalled = this.#pruning.stalled(Date.now(), REGRAFT_MS)
      for (const { session } of this.#sessions.values()) if (!session.lazy) session.graft(stalled)
    }, REGRAFT_MS)
    this.#regraft.unref?.()
    // a session can end while its connection stays (a transport fault on the
    // stream, a refusal, a block that expired): it is opened again
    this.#reconcile = setInterval(() => { this.#reopen() }, RECONCILE_MS)
    this.#reconcile.unref?.()
  }

  // Opens a session on every connection this node dialled that has none
  // (and that `wanted` allows: #open asks).
  #reopen (): void {
    const now = Date.now()
    for (const [peer, f] of this.#failures) if (f.until < now - MAX_REOPEN_BACKOFF) this.#failures.delete(peer)
    for (const connection of this.#components.connectionManager.getConnections()) {
      if (connection.status !== 'open' || connection.direction !== 'outbound') continue
      if ((this.#failures.get(connection.remotePeer.toString())?.until ?? 0) > now) continue
      void this.#open(connection)
    }
  }

  async stop (): Promise<void> {
    this.#running = false
    clearInterval(this.#regraft)
    clearInterval(this.#reconcile)
    clearTimeout(this.#repairTimer)
    this.#repairAt = undefined
    await this.#components.registrar.unhandle(PROTOCOL)
    if (this.#topology != null) this.#components.registrar.unregister(this.#topology)
    for (const { session } of this.#sessions.values()) session.close()
    this.#sessions.clear()
    await this.#checks.close()
  }

  /** Peers (string ids) with a running session. */
  get peers (): string[] {
    return [...this.#sessions.keys()]
  }

  /** What this node's sessions did since it started (a copy). */
  get counters (): SyncFigures {
    return this.#counters.snapshot()
  }

  /** Peers whose running session agreed on lazy/1: their links follow Plumtree (protocols/README.md §5.8). */
  get lazyPeers (): string[] {
    return [...this.#sessions].filter(([, { session }]) => session.lazy).map(([peer]) => peer)
  }

  /**
   * Ends the running session with `peer`, if any, as a clean close: the
   * peer is neither blocked nor backed off. Unless `wanted` says no to it by
   * then, a session on a connection this node dialled is opened again
   * within RECONCILE_MS.
   */
  close (peer: string): void {
    this.#sessions.get(peer)?.session.close()
  }

  /** The session with `peer`, if one runs. */
  session (peer: string): Session | undefined {
    return this.#sessions.get(peer)?.session
  }

  /** Whether `peer` was dropped for misbehaving and is still kept away. */
  isBlocked (peer: string): boolean {
    const until = this.#blocked.get(peer)
    if (until == null) return false
    if (until > Date.now()) return true
    this.#blocked.delete(peer)
    return false
  }

  /** Resolves once a session with `peer` has passed its handshake. */
  async ready (peer: string, signal: AbortSignal): Promise<void> {
    while (true) {
      signal.throwIfAborted()
      const entry = this.#sessions.get(peer)
      if (entry != null) {
        await entry.ready
        return
      }
      await new Promise<void>((resolve, reject) => {
        const set = this.#waiting.get(peer) ?? new Set()
        const wake = (): void => { set.delete(wake); signal.removeEventListener('abort', onAbort); resolve() }
        const onAbort = (): void => {
          set.delete(wake)
          if (set.size === 0 && this.#waiting.get(peer) === set) this.#waiting.delete(peer)
          reject(signal.reason)
        }
        set.add(wake)
        this.#waiting.set(peer, set)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    }
  }

  /** Opens a sync stream on a connection this node dialled (unless `wanted` says no to its peer). */
  async open (connection: Connection): Promise<void> {
    await this.#open(connection)
  }

  async #open (connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    if (!this.#running || this.#sessions.has(peer) || this.#opening.has(peer) || this.isBlocked(peer)) return
    if (this.#init.wanted != null && !this.#init.wanted(peer)) return
    this.#opening.add(peer)
    let stream: Stream
    try {
      stream = await connection.newStream(PROTOCOL, { signal: AbortSignal.timeout(OPEN_TIMEOUT) })
    } catch (err) {
      this.#log('could not open a sync stream to %s: %e', peer, err)
      return
    } finally {
      this.#opening.delete(peer)
    }
    this.#run(stream, connection, true)
  }

  #run (stream: Stream, connection: Connection, outbound: boolean): void {
    const peerId: PeerId = connection.remotePeer
    const peer = peerId.toString()
    if (this.isBlocked(peer)) {
      stream.abort(new ProtocolError('this peer is kept away'))
      return
    }
    this.#init.widenWindow?.(stream, STREAM_WINDOW)
    const initiator = outbound ? this.#components.peerId.toString() : peer
    const existing = this.#sessions.get(peer)
    if (existing != null && !existing.session.closed) {
      // two sessions for one pair: a simultaneous open, where both sides keep
      // the one whose opener has the smaller id, unless the one here is
      // established: the peer opens a stream only when it has no session
      const established = existing.readyAt != null && Date.now() - existing.readyAt > REPLACE_AFTER_MS
      if (!established && existing.initiator <= initiator) {
        stream.abort(new ProtocolError('a sync session with this peer runs already'))
        return
      }
      existing.session.close()
    }
    const emit = this.#init.onEvent ?? (() => {})
    const raw = peerId.publicKey?.raw
    const remoteKey = raw == null ? '' : toHex(raw)
    const session = new Session(stream, {
      log: this.#init.log,
      fingerprint: this.#init.fingerprint,
      descriptor: this.#init.descriptor,
      topic: this.#init.topic,
      ingest: this.#ingest,
      logger: this.#log,
      onSynced: () => { emit({ type: 'peer:synced', peer: peerId }) },
      onInvalid: (count, reason) => { emit({ type: 'peer:invalid', peer: peerId, count, reason }) },
      onHandshake: () => { emit({ type: 'peer:session', peer: peerId, connection }) },
      onStored: (authors) => { this.#stored(peer, authors) },
      mayPrune: (author) => this.#pruning.mayPrune(peer, remoteKey, author, this.#pushes(author)),
      features: this.#features,
      onIHave: (have) => { this.#announced(peer, have) },
      counters: this.#counters,
      checks: this.#checks
    })
    const entry: Entry = { session, remoteKey, initiator, ready: session.ready }
    session.ready.then(() => { entry.readyAt = Date.now() }, () => {})
    this.#sessions.set(peer, entry)
    const waiting = this.#waiting.get(peer)
    this.#waiting.delete(peer)
    for (const wake of waiting ?? []) wake()
    let refused = false
    session.run().catch((err: Error) => {
      refused = err instanceof RefusedError && err.refuseCode !== REFUSE.UNKNOWN
      this.#log('session with %s ended: %s', peer, err.message)
      if (err instanceof RefusedError && err.refuseCode !== REFUSE.UNKNOWN) {
        emit({ type: 'peer:refused', peer: peerId, code: refuseName(err.refuseCode), reason: err.message, remote: err.remote })
      }
      if (blocksPeer(err)) {
        this.#blocked.set(peer, Date.now() + (this.#init.blockTime ?? BLOCK_MS))
        void connection.close().catch(() => {})
      }
    }).finally(() => {
      this.#noteEnd(peer, refused)
      if (this.#sessions.get(peer) === entry) {
        this.#sessions.delete(peer)
        // it may have been what delivered the authors pruned on other
        // sessions: those of peers that are not lazy/1 are grafted at once;
        // of lazy ones, one is grafted for each author it delivered first
        // that no session pushes here any more (the tree is broken here)
        const orphans = this.#pruning.ended(peer)
        for (const other of this.#sessions.values()) if (!other.session.lazy) other.session.graft()
        for (const [other, authors] of orphanGrafts(orphans, this.#lazyLinks())) {
          this.#sessions.get(other)?.session.graft(author => authors.has(author))
        }
        this.#repair.peerGone(peer)
        this.#armRepair()
        emit({ type: 'peer:session-end', peer: peerId })
      }
    })
  }

  // The running lazy/1 sessions, as orphanGrafts and parentPrunes see them.
  #lazyLinks (): LinkView[] {
    return [...this.#sessions].filter(([, e]) => e.session.lazy && !e.session.closed).map(([peer, e]) => ({ peer, remoteKey: e.remoteKey, pruned: (a: string) => e.session.pruned(a) }))
  }

  // Whether the session with a peer runs and pushes `author` here (this
  // side did not prune it there), and, given `since`, the peer was heard from since then.
  #pushes (author: string, since = 0): (peer: string) => boolean {
    return peer => {
      const s = this.#sessions.get(peer)?.session
      return s != null && !s.closed && !s.pruned(author) && s.heardAt >= since
    }
  }

  // Whether the tree still delivers an author here at `now`: its first
  // deliverer pushes it and is not silent (see DELIVERER_SILENCE).
  #delivers (now: number): (author: string) => boolean {
    const heard = now - Math.max(this.#repair.wait, DELIVERER_SILENCE)
    return author => this.#pruning.delivers(author, this.#pushes(author, heard))
  }

  #stored (peer: string, authors: Set<string>): void {
    const now = Date.now()
    this.#pruning.stored(peer, authors, now)
    if (this.#repair.size === 0) return
    for (const author of authors) if (this.#repair.has(author)) this.#repair.stored(author, this.#init.log.authorSeq(author), now)
    this.#armRepair()
  }

  // A lazy/1 peer holds entries this node lacks and does not push them:
  // they are waited for a while on the tree, then grafted. Those of authors
  // this node does not accept would be waited for in vain.
  #announced (peer: string, have: Array<[string, number]>): void {
    const now = Date.now()
    const accepts = this.#init.ingest.accept ?? (() => true)
    const delivers = this.#delivers(now)
    for (const [author, seq] of have) {
      const mine = this.#init.log.authorSeq(author)
      if (mine >= seq || !accepts(author)) continue
      // where no first deliverer pushes the author any more, nothing is on
      // its way but what is already in flight: a round trip's timeout
      this.#repair.announced(peer, author, seq, mine, now, delivers(author) ? undefined : this.#rto(author, now))
    }
    this.#armRepair()
  }

  // How long a copy of `author` already on its way here may take: the
  // longest round-trip timeout (ms) of the running sessions that push it
  // here; 0 when none does (nothing can come but by a graft). A session
  // that pushes it and has no estimate (none yet, or none lately) makes it
  // the longest of all sessions, or undefined (the usual wait) when none
  // has one.
  #rto (author: string, now: number): number | undefined {
    return rtoOf([...this.#sessions.values()].flatMap(({ session }) => session.closed ? [] : [{ rto: session.rto(now), pushes: !session.pruned(author) }]))
  }

  // Keeps a timer at LazyRepair's next due time.
  #armRepair (): void {
    const at = this.#running ? this.#repair.timeout : undefined
    if (at === this.#repairAt) return
    clearTimeout(this.#repairTimer)
    this.#repairAt = at
    if (at == null) return
    this.#repairTimer = setTimeout(() => {
      this.#repairAt = undefined
      this.#repairDue()
    }, Math.max(1, at - Date.now()))
    this.#repairTimer.unref?.()
  }

  // The grafts that are due, one Graft per session.
  #repairDue (): void {
    // a session with frames queued behind the one being stored: this node
    // is behind on what it was sent, and a graft would add to it
    let busy = false
    for (const { session } of this.#sessions.values()) if (session.backlog > 1) busy = true
    const now = Date.now()
    const grafts = this.#repair.tick(now, author => this.#init.log.authorSeq(author), busy, this.#delivers(now))
    const byPeer = new Map<string, Set<string>>()
    for (const { peer, author } of grafts) {
      const authors = byPeer.get(peer) ?? new Set()
      authors.add(author)
      byPeer.set(peer, authors)
    }
    for (const [peer, authors] of byPeer) {
      const session = this.#sessions.get(peer)?.session
      if (session == null) continue
      this.#log('grafting %d authors on %s: announced, not delivered in time', authors.size, peer)
      this.#counters.repairGrafts += authors.size
      session.graft(author => authors.has(author))
    }
    if (grafts.length > 0) {
      for (const [parent, authors] of parentPrunes(grafts, this.#lazyLinks(), author => this.#pruning.first(author))) {
        this.#sessions.get(parent)?.session.prune(authors)
      }
    }
    this.#armRepair()
  }

  // A session that broke (a reset, a stream that could not open, the loser of
  // a simultaneous open) is opened again at the next round; after a refusal,
  // by either side, the next waits longer each time: the peer may refuse for good.
  #noteEnd (peer: string, refused: boolean): void {
    if (!refused) {
      this.#failures.delete(peer)
      return
    }
    const count = (this.#failures.get(peer)?.count ?? 0) + 1
    this.#failures.set(peer, { count, until: Date.now() + Math.min(MAX_REOPEN_BACKOFF, RECONCILE_MS * 2 ** (count - 1)) })
  }
}
