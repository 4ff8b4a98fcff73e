import { lpStream } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { MismatchError, ProtocolError } from '../errors.js'
import { Ingester, type IngestInit } from '../log/ingest.js'
import { authorHex, equalBytes, toHex } from '../log/entry.js'
import { PUBLIC_KEY_LENGTH } from '../log/identity.js'
import { SyncMessage } from '../pb/sync.js'
import {
  PROTOCOL_VERSION, MAX_FRAME_BYTES, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES, WINDOW, RECEIVE_PART, RETRY_MS,
  HANDSHAKE_TIMEOUT, LIVE_QUEUE, MAX_INVALID, MAX_HAVE, REFUSE, refuseName
} from './constants.js'
import { MAX_GROUP, type Log, type LogEntry } from '../log/log.js'
import type { Stream, Logger } from '@libp2p/interface'

export interface SessionInit {
  log: Log
  fingerprint: Uint8Array
  topic: string
  ingest: IngestInit
  logger: Logger
  /** called once the remote sent everything this node lacked at handshake */
  onSynced: () => void
  /** called for each batch of entries the remote sent that were refused */
  onInvalid: (count: number, reason: string) => void
  /** called once both Hellos agree */
  onHandshake?: () => void
  /** told of the authors (hex) whose entries this session stored first */
  onStored?: (authors: Set<string>) => void
  /**
   * Whether the remote may be asked to stop pushing an author (hex) whose
   * entry it sent again: only while another live session delivers that
   * author first. @default never
   */
  mayPrune?: (author: string) => boolean
}

/** An entry to send: its bytes, author (hex) and author seq. */
interface Outgoing {
  bytes: Uint8Array
  author: string
  authorSeq: number
}

/** How a session ended badly: refused by either side, or broken. */
export class SessionError extends ProtocolError {
  readonly refuseCode: number
  constructor (message: string, refuseCode: number) {
    super(message)
    this.refuseCode = refuseCode
  }
}

/**
 * One sync session over one stream: handshake, then each side sends what
 * the other lacks (catch-up), then new entries as they are stored (live),
 * with a window of unacknowledged batches in each direction.
 */
export class Session {
  readonly #stream: Stream
  readonly #init: SessionInit
  readonly #lp
  /** aborts the read loop when a store pass fails */
  readonly #reading = new AbortController()
  /** Entries frames sent and not yet acknowledged */
  #outstanding = 0
  readonly #log: Log
  readonly #ingester: Ingester
  /** what the remote is known to hold: author (hex) to highest seq */
  readonly #remoteHave = new Map<string, number>()
  #credits = WINDOW
  #wake: (() => void) | undefined
  #closed = false
  #invalid = 0
  #unacked = 0
  #remoteSynced = false
  #storing: Promise<void> = Promise.resolve()
  /** the store pass before the last one: a part is decoded at most one ahead of the store */
  #storingBefore: Promise<void> = Promise.resolve()
  /** the Entries frames read and not yet decoded, in order: they wait encoded */
  #decoding: Promise<void> = Promise.resolve()
  #storeFailure: Error | undefined
  #queue: LogEntry[] = []
  #queueOverflow = false
  /** authors (hex) the remote asked not to be pushed: it gets them from another peer */
  readonly #pruned = new Set<string>()
  /** authors (hex) this side asked the remote not to push */
  readonly #prunedByMe = new Set<string>()
  /** a store pass for held entries is queued */
  #retrying = false
  readonly #synced = Promise.withResolvers<void>()
  readonly #ready = Promise.withResolvers<void>()
  /** entries sent and received */
  sent = 0
  received = 0

  constructor (stream: Stream, init: SessionInit) {
    this.#stream = stream
    this.#init = init
    this.#log = init.log
    this.#lp = lpStream(stream, { maxDataLength: MAX_FRAME_BYTES, lengthDecoder: frameLength })
    // the remote has what it sends: noted before storing, so that the commit
    // does not echo it back
    this.#ingester = new Ingester(init.log, {
      ...init.ingest,
      // every frame the window allows may wait, and an unsigned group tail
      maxPendingEntries: WINDOW * MAX_BATCH_ENTRIES + 2 * MAX_GROUP,
      onSeen: (author, seq) => { if (seq > (this.#remoteHave.get(author) ?? 0)) this.#remoteHave.set(author, seq) }
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

  /** Runs the session until either side closes it; rejects on a protocol error. */
  async run (): Promise<void> {
    const unsubscribe = this.#log.onCommit(entries => { this.#onCommit(entries) })
    try {
      await this.#handshake()
      this.#ready.resolve()
      this.#init.onHandshake?.()
      await Promise.all([this.#sendLoop(), this.#receiveLoop()])
      // the peer closed its end: close ours, so that the stream does not linger
      // half-open and count against MAX_STREAMS
      await this.#stream.close({ signal: AbortSignal.timeout(1000) }).catch((err: Error) => { this.#stream.abort(err) })
    } catch (err) {
      this.#closed = true
      this.#synced.reject(err)
      this.#ready.reject(err)
      if (err instanceof SessionError && err.refuseCode !== REFUSE.UNKNOWN) {
        // tell the remote why, then close our side; it may already be gone
        await this.#write({ refuse: { code: err.refuseCode, reason: err.message } }).catch(() => {})
        await this.#stream.close({ signal: AbortSignal.timeout(1000) }).catch(() => { this.#stream.abort(err) })
      } else {
        this.#stream.abort(err as Error)
      }
      throw err
    } finally {
      this.#closed = true
      this.#ready.reject(new SessionError('the session closed', REFUSE.UNKNOWN))
      this.#synced.reject(new SessionError('the session closed before the peer was synced', REFUSE.UNKNOWN))
      unsubscribe()
      this.#ingester.clear()
      this.#wake?.()
    }
  }

  /** Ends the session from this side. */
  close (): void {
    if (this.#closed) return
    this.#closed = true
    this.#wake?.()
    this.#stream.close({ signal: AbortSignal.timeout(1000) }).catch(err => { this.#stream.abort(err) })
  }

  async #write (msg: SyncMessage): Promise<void> {
    await this.#lp.write(SyncMessage.encode(msg))
  }

  async #handshake (): Promise<void> {
    // past MAX_HAVE authors the peer sends some entries twice, which is harmless
    const have = [...this.#log.vector()].slice(0, MAX_HAVE).map(([author, seq]) => ({ author: Buffer.from(author, 'hex'), seq }))
    await this.#write({ hello: { version: PROTOCOL_VERSION, schema: this.#init.fingerprint as Uint8Array<ArrayBuffer>, topic: this.#init.topic, have } })
    // a timeout, an EOF or a reset end the session quietly; bytes that are not a frame are the peer's fault
    const frame = await this.#lp.read({ signal: AbortSignal.timeout(HANDSHAKE_TIMEOUT) })
    let msg: SyncMessage
    try {
      msg = SyncMessage.decode(frame, { limits: { hello: { have: MAX_HAVE }, entries: { entries: MAX_BATCH_ENTRIES } } } as never)
    } catch (err) {
      throw new SessionError(`bad first frame: ${(err as Error).message}`, REFUSE.PROTOCOL)
    }
    if (msg.refuse != null) throw refused(msg.refuse.code, msg.refuse.reason)
    const hello = msg.hello
    if (hello == null) throw new SessionError('the first frame must be Hello', REFUSE.PROTOCOL)
    if (hello.version !== PROTOCOL_VERSION) {
      throw new SessionError(`protocol version ${hello.version} is not ${PROTOCOL_VERSION}`, REFUSE.VERSION)
    }
    if (!equalBytes(hello.schema, this.#init.fingerprint)) {
      throw new SessionError('the peer runs another schema', REFUSE.SCHEMA)
    }
    if (hello.topic !== this.#init.topic) {
      throw new SessionError(`the peer's topic "${hello.topic}" is not "${this.#init.topic}"`, REFUSE.TOPIC)
    }
    for (const h of hello.have) {
      if (h.author.byteLength === PUBLIC_KEY_LENGTH && Number.isSafeInteger(h.seq)) this.#remoteHave.set(toHex(h.author), h.seq)
    }
  }

  #onCommit (entries: LogEntry[]): void {
    // entries held for parents that another session may just have stored:
    // tried again soon, at most once per RETRY_MS however busy the node is
    if (this.#ingester.verified > 0 && !this.#retrying) {
      this.#retrying = true
      setTimeout(() => {
        this.#retrying = false
        if (this.#closed) return
        this.#storing = this.#storing.then(async () => { await this.#store(Infinity, false) }).catch((err: Error) => {
          this.#storeFailure ??= err
          this.#reading.abort(err)
        })
      }, RETRY_MS).unref?.()
    }
    if (this.#queue.length + entries.length > LIVE_QUEUE) {
      this.#queueOverflow = true
      this.#queue = []
    } else if (!this.#queueOverflow) {
      for (const e of entries) this.#queue.push(e)
    }
    this.#wake?.()
  }

  #sleep (): Promise<void> {
    return new Promise(resolve => {
      this.#wake = () => { this.#wake = undefined; resolve() }
    })
  }

  // Sends what the remote lacks, in feed order. Until the first time there is
  // nothing to send (and whenever the live queue cannot be trusted) the gaps
  // are found from the version vector; after that, from the commits queued.
  async #sendLoop (): Promise<void> {
    let caughtUp = false
    // catch-up reads the next batch while the frames of this one wait for
    // credits, so that the db read is not on the critical path
    let prefetch: Promise<Outgoing[]> | undefined
    while (!this.#closed) {
      let batch: Outgoing[] | undefined
      if (caughtUp && !this.#queueOverflow) {
        batch = this.#fromQueue()
      }
      if (batch == null) {
        this.#queue = []
        this.#queueOverflow = false
        batch = await (prefetch ?? this.#readMissing())
        prefetch = undefined
        if (batch.length === 0 && !caughtUp) {
          caughtUp = true
          await this.#write({ synced: { length: this.#log.length } })
          continue
        }
      }
      if (batch.length === 0) {
        if (this.#queue.length === 0 && !this.#queueOverflow && !this.#closed) await this.#sleep()
        continue
      }
      const frames = this.#frames(batch)
      if (!caughtUp && frames.length > 0) {
        prefetch = this.#readMissing()
        prefetch.catch(() => {})
      }
      await this.#sendFrames(frames)
    }
  }

  // What the remote lacks after what is already framed for it, in feed order.
  async #readMissing (): Promise<Outgoing[]> {
    let have = this.#remoteHave
    if (this.#pruned.size > 0) {
      have = new Map(have)
      for (const author of this.#pruned) have.set(author, Infinity)
    }
    const missing = await this.#log.missing(have, 4 * MAX_BATCH_ENTRIES)
    const bytes = await this.#log.readBytes(missing.map(m => m.seq))
    return missing.map((m, i) => ({ bytes: bytes[i], author: m.author, authorSeq: m.authorSeq }))
  }

  // The queued commits the remote lacks, or undefined where there is a gap.
  #fromQueue (): Outgoing[] | undefined {
    const queued = this.#queue
    this.#queue = []
    const next = new Map<string, number>()
    const out: Outgoing[] = []
    const hexOf = authorHex()
    for (const e of queued) {
      const author = hexOf(e.entry.author)
      const have = next.get(author) ?? this.#remoteHave.get(author) ?? 0
      if (e.entry.seq <= have) continue
      if (e.entry.seq !== have + 1) return undefined
      next.set(author, e.entry.seq)
      out.push({ bytes: e.bytes, author, authorSeq: e.entry.seq })
    }
    return out
  }

  // Entries frames of what the remote lacks; the remote is taken to have
  // them from here on.
  #frames (entries: Outgoing[]): Array<Array<Uint8Array<ArrayBuffer>>> {
    const frames: Array<Array<Uint8Array<ArrayBuffer>>> = []
    let frame: Array<Uint8Array<ArrayBuffer>> = []
    let bytes = 0
    for (const e of entries) {
      // the remote may have got it from another peer meanwhile, or get it
      // from another peer
      if (e.authorSeq <= (this.#remoteHave.get(e.author) ?? 0) || this.#pruned.has(e.author)) continue
      if (frame.length >= MAX_BATCH_ENTRIES || (frame.length > 0 && bytes + e.bytes.byteLength > MAX_BATCH_BYTES)) {
        frames.push(frame)
        frame = []
        bytes = 0
      }
      frame.push(e.bytes as Uint8Array<ArrayBuffer>)
      bytes += e.bytes.byteLength
      this.#remoteHave.set(e.author, e.authorSeq)
    }
    if (frame.length > 0) frames.push(frame)
    return frames
  }

  async #sendFrames (frames: Array<Array<Uint8Array<ArrayBuffer>>>): Promise<void> {
    for (const frame of frames) {
      while (this.#credits <= 0 && !this.#closed) await this.#sleep()
      if (this.#closed) return
      this.#credits--
      this.#outstanding++
      this.sent += frame.length
      await this.#write({ entries: { entries: frame } })
    }
  }

  async #receiveLoop (): Promise<void> {
    while (!this.#closed) {
      let frame: Uint8ArrayList
      try {
        frame = await this.#lp.read({ signal: this.#reading.signal })
      } catch (err) {
        if (this.#storeFailure != null) throw this.#storeFailure
        if (err instanceof SessionError) throw err
        // a length the peer sent is its fault, even when the stream is gone by now
        const name = (err as Error).name
        if (name === 'InvalidDataLengthError') throw new SessionError(`bad frame: ${(err as Error).message}`, REFUSE.LIMIT)
        if (name === 'InvalidDataLengthLengthError' || name === 'InvalidMessageLengthError') throw new SessionError(`bad frame: ${(err as Error).message}`, REFUSE.PROTOCOL)
        // the stream ended or broke under us: a transport fault, not the peer's
        this.#closed = true
        this.#wake?.()
        return
      }
      // a frame that does not decode is the peer's fault, whatever the stream did since
      let msg: SyncMessage
      try {
        msg = SyncMessage.decode(frame, { limits: { entries: { entries: MAX_BATCH_ENTRIES }, hello: { have: 0 }, prune: { authors: MAX_HAVE }, graft: { have: MAX_HAVE } } } as never)
      } catch (err) {
        throw new SessionError(`bad frame: ${(err as Error).message}`, REFUSE.PROTOCOL)
      }
      if (msg.entries != null) {
        if (++this.#unacked > WINDOW) throw new SessionError('more Entries frames than the window allows', REFUSE.LIMIT)
        // counted at once, decoded later: a frame's entries wait encoded,
        // several times smaller than decoded
        const entries = msg.entries.entries
        this.#decoding = this.#decoding.then(async () => { await this.#receiveEntries(entries) }).catch((err: Error) => {
          this.#storeFailure ??= err
          this.#reading.abort(err)
        })
      } else if (msg.ack != null) {
        if (msg.ack.batches > this.#outstanding) throw new SessionError('an Ack for Entries frames that were not sent', REFUSE.PROTOCOL)
        this.#outstanding -= msg.ack.batches
        this.#credits = Math.min(WINDOW, this.#credits + msg.ack.batches)
        this.#wake?.()
      } else if (msg.synced != null) {
        // synced once what came before it is stored
        if (!this.#remoteSynced) {
          this.#remoteSynced = true
          void this.#decoding.then(async () => { await this.#storing }).then(() => {
            if (this.#storeFailure != null) return
            this.#synced.resolve()
            this.#init.onSynced()
          })
        }
      } else if (msg.refuse != null) {
        if (msg.refuse.code === REFUSE.INVALID_ENTRY) {
          this.#init.logger('the peer refused entries: %s', msg.refuse.reason)
        } else {
          throw refused(msg.refuse.code, msg.refuse.reason)
        }
      } else if (msg.prune != null) {
        for (const author of msg.prune.authors) {
          if (author.byteLength !== PUBLIC_KEY_LENGTH) throw new SessionError('a Prune author is not a 32-byte key', REFUSE.PROTOCOL)
          // past the bound the remote gets some entries twice, which is harmless
          if (this.#pruned.size < MAX_HAVE) this.#pruned.add(toHex(author))
        }
      } else if (msg.graft != null) {
        for (const h of msg.graft.have) {
          if (h.author.byteLength !== PUBLIC_KEY_LENGTH) throw new SessionError('a Graft author is not a 32-byte key', REFUSE.PROTOCOL)
          const author = toHex(h.author)
          this.#pruned.delete(author)
          if (Number.isSafeInteger(h.seq) && h.seq > (this.#remoteHave.get(author) ?? 0)) this.#remoteHave.set(author, h.seq)
        }
        // what the remote lacks of them is read from the db
        this.#queueOverflow = true
        this.#wake?.()
      } else {
        throw new SessionError('unexpected frame after the handshake', REFUSE.PROTOCOL)
      }
    }
  }

  // Checks a frame's entries a part at a time and stores each part after the
  // ones before it, so that the next part is checked while this one is
  // written. The Ack goes out once the frame is stored: the receiver's disk
  // paces the sender.
  async #receiveEntries (entries: Uint8Array[]): Promise<void> {
    // decoded a part at a time, at most one part ahead of the store, so that
    // decoding overlaps the write and few entries are held decoded
    for (let from = 0; from < entries.length || from === 0; from += RECEIVE_PART) {
      const last = from + RECEIVE_PART >= entries.length
      await this.#storingBefore
      if (this.#storeFailure != null || this.#closed) return
      let res: ReturnType<Ingester['accept']>
      try {
        res = this.#ingester.accept(from === 0 && last ? entries : entries.slice(from, from + RECEIVE_PART))
      } catch (err) {
        if (err instanceof ProtocolError) throw new SessionError(err.message, REFUSE.LIMIT)
        throw err
      }
      if (res.invalid.length > 0) await this.#refuseEntries(res.invalid)
      if (res.duplicateAuthors.size > 0) await this.#prune(res.duplicateAuthors)
      this.#storingBefore = this.#storing
      this.#storing = this.#storing.then(async () => {
        // the frame is done with once its last part is stored
        await this.#store(res.upTo, last)
        if (!last) return
        // the Ack goes once the whole frame is stored
        this.#unacked--
        await this.#write({ ack: { batches: 1 } })
      }).catch((err: Error) => {
        this.#storeFailure ??= err
        // end the read loop, so that run() sends the Refuse, closes, and the peer is blocked
        this.#reading.abort(err)
      })
      if (last) return
    }
  }

  // Stores the held entries that are ready, of the batches accepted up to `upTo`.
  async #store (upTo: number, detach: boolean): Promise<void> {
    const { stored, invalid } = await this.#ingester.storeReady(upTo, detach)
    this.received += stored.length
    if (stored.length > 0 && this.#init.onStored != null) {
      const hexOf = authorHex()
      const authors = new Set<string>()
      for (const e of stored) authors.add(hexOf(e.entry.author))
      this.#init.onStored(authors)
    }
    if (invalid.length > 0) await this.#refuseEntries(invalid)
  }

  // The remote sent entries this node had: of those authors that another
  // session delivers first, it is asked to push no more.
  async #prune (authors: Set<string>): Promise<void> {
    const prune: Array<Uint8Array<ArrayBuffer>> = []
    for (const author of authors) {
      if (this.#prunedByMe.has(author) || this.#prunedByMe.size >= MAX_HAVE || this.#init.mayPrune?.(author) !== true) continue
      this.#prunedByMe.add(author)
      prune.push(Buffer.from(author, 'hex') as Uint8Array<ArrayBuffer>)
    }
    if (prune.length > 0) await this.#write({ prune: { authors: prune } })
  }

  /**
   * Asks the remote to push again the authors this side pruned (those `which`
   * picks, or all), from what this node holds now: another session ended, and
   * may have been the one that delivered them.
   */
  graft (which?: (author: string) => boolean): void {
    if (this.#closed || this.#prunedByMe.size === 0) return
    const authors = which == null ? [...this.#prunedByMe] : [...this.#prunedByMe].filter(which)
    if (authors.length === 0) return
    const have = authors.map(author => ({ author: Buffer.from(author, 'hex') as Uint8Array<ArrayBuffer>, seq: this.#log.authorSeq(author) }))
    for (const author of authors) this.#prunedByMe.delete(author)
    this.#write({ graft: { have } }).catch(err => { this.#init.logger('could not send a Graft: %e', err) })
  }

  // Tells the peer which entries were refused; past MAX_INVALID the session ends.
  async #refuseEntries (invalid: Error[]): Promise<void> {
    this.#invalid += invalid.length
    const reason = invalid[0].message
    this.#init.onInvalid(invalid.length, reason)
    if (this.#invalid > MAX_INVALID) throw new SessionError(`${this.#invalid} invalid entries: ${reason}`, REFUSE.INVALID_ENTRY)
    await this.#write({ refuse: { code: REFUSE.INVALID_ENTRY, reason: `${invalid.length} entries refused: ${reason}` } })
  }
}

function refused (code: number, reason: string): Error {
  if (code === REFUSE.SCHEMA || code === REFUSE.TOPIC || code === REFUSE.VERSION) {
    const err = new MismatchError(`the peer refused: ${reason}`)
    return Object.assign(err, { refuseCode: code, remote: true })
  }
  // codes this version does not know are kept, not fatal
  return Object.assign(new SessionError(`the peer refused: ${reason}`, refuseName(code) !== 'UNKNOWN' ? code : REFUSE.UNKNOWN), { remote: true })
}

/** Bytes of the longest frame length prefix: the varint of MAX_FRAME_BYTES. */
const MAX_PREFIX_BYTES = 3

// lpStream reads a length prefix byte by byte until it decodes, and takes a
// RangeError for "more bytes needed"; uint8-varint throws one for 8 and more
// continuation bytes too, so without this a peer that sends 0x80 forever is
// read forever, at about 120 bytes of heap per byte.
function frameLength (buf: Uint8ArrayList): number {
  let value = 0
  for (let i = 0; i < Math.min(buf.byteLength, MAX_PREFIX_BYTES); i++) {
    const b = buf.get(i)
    value += (b & 0x7f) * 2 ** (7 * i)
    if (b < 0x80) return value
  }
  if (buf.byteLength >= MAX_PREFIX_BYTES) throw new SessionError(`a frame length prefix over ${MAX_PREFIX_BYTES} bytes`, REFUSE.PROTOCOL)
  throw new RangeError('more bytes needed')
}
