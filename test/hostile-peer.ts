// A hand-made peer for the hostile tests: a bare libp2p node (TCP, Noise,
// Yamux, identify, no sync service) that dials a HyperEmitter, opens
// /hyperemitter/sync/1.0.0 streams and reads and writes raw frames, so that
// it can send what an honest node never would. Entries are built byte by
// byte with the same encoder the log uses (test/sync/author.ts), then
// tampered with at will.
import '../src/polyfill.js'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { SyncMessage } from '../src/pb/sync.js'
import { Identity } from '../src/log/identity.js'
import { PROTOCOL } from '../src/sync/constants.js'
import { lengthPrefixed } from './sync/author.js'
import type { Connection, Stream } from '@libp2p/interface'

export { type Target, hello, varint, lengthPrefixed, encodeMessage, entriesMessage, type Built, type BuildOptions, Author } from './sync/author.js'

/** How a stream ended, seen from the hostile side. */
export interface Ending {
  /** 'eof': the node closed its writable end; 'reset': it reset (or aborted) the stream */
  how: 'eof' | 'reset'
  error?: string
  at: number
}

/** A raw sync stream: frames in and out, with every incoming frame kept. */
export class RawStream {
  readonly stream: Stream
  readonly #lp
  /** every frame the node sent, decoded */
  readonly frames: SyncMessage[] = []
  /** the first Refuse frame the node sent */
  refused: { code: number, reason: string } | undefined
  /** set when the stream ended */
  ending: Ending | undefined
  readonly #waiters = new Set<() => void>()
  readonly #ended = Promise.withResolvers<Ending>()
  /** Acks received */
  acks = 0

  constructor (stream: Stream) {
    this.stream = stream
    this.#lp = lpStream(stream, { maxDataLength: 8 * 1024 * 1024 })
    // the read loop sees the end only after every frame before it: a Refuse
    // is read before the eof that follows it
    void this.#readLoop()
  }

  #end (how: Ending['how'], error?: string): void {
    if (this.ending == null) {
      this.ending = { how, error, at: Date.now() }
      this.#ended.resolve(this.ending)
    }
    this.#wakeAll()
  }

  #wakeAll (): void {
    for (const w of [...this.#waiters]) w()
  }

  async #readLoop (): Promise<void> {
    while (true) {
      let msg: SyncMessage
      try {
        const buf = await this.#lp.read()
        msg = SyncMessage.decode(buf)
      } catch (err) {
        const name = (err as Error).name
        this.#end(name === 'UnexpectedEOFError' ? 'eof' : 'reset', name)
        return
      }
      if (msg.refuse != null && this.refused == null) this.refused = { code: msg.refuse.code, reason: msg.refuse.reason }
      if (msg.ack != null) this.acks += msg.ack.batches
      this.frames.push(msg)
      this.#wakeAll()
    }
  }

  /** Resolves when the stream ended (eof or reset). */
  get ended (): Promise<Ending> {
    return this.#ended.promise
  }

  /** Waits until `check` is true (checked after each frame and at the end); false on timeout. */
  async waitFor (check: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms
    while (!check()) {
      const left = end - Date.now()
      if (left <= 0) return false
      await new Promise<void>(resolve => {
        const done = (): void => { clearTimeout(timer); this.#waiters.delete(done); resolve() }
        const timer = setTimeout(done, left)
        this.#waiters.add(done)
      })
    }
    return true
  }

  #cursor = 0

  /** The next frame not yet returned by `next`, or undefined after `ms` or at the end of the stream. */
  async next (ms: number): Promise<SyncMessage | undefined> {
    await this.waitFor(() => this.frames.length > this.#cursor || this.ending != null, ms)
    return this.frames.length > this.#cursor ? this.frames[this.#cursor++] : undefined
  }

  /** The node's Hello, once it came. */
  async remoteHello (ms = 5000): Promise<SyncMessage['hello']> {
    await this.waitFor(() => this.frames.some(f => f.hello != null) || this.ending != null, ms)
    return this.frames.find(f => f.hello != null)?.hello
  }

  /** Waits for the stream to end; undefined on timeout. */
  async waitEnd (ms: number): Promise<Ending | undefined> {
    await this.waitFor(() => this.ending != null, ms)
    return this.ending
  }

  /** Writes one SyncMessage as a frame; false when the stream no longer takes writes. */
  async send (msg: SyncMessage): Promise<boolean> {
    return this.sendFrame(SyncMessage.encode(msg))
  }

  /** Writes `bytes` as one frame (adds the length prefix); false when the stream is closed. */
  async sendFrame (bytes: Uint8Array): Promise<boolean> {
    return this.sendRaw(lengthPrefixed(bytes))
  }

  /** Writes raw bytes, no framing; false when the stream is closed. */
  async sendRaw (bytes: Uint8Array): Promise<boolean> {
    try {
      if (!this.stream.send(bytes)) await this.stream.onDrain({ signal: AbortSignal.timeout(10_000) })
      return true
    } catch {
      return false
    }
  }

  /** Closes the writable end. */
  async close (): Promise<void> {
    await this.stream.close({ signal: AbortSignal.timeout(2000) }).catch(() => { this.stream.abort(new Error('close timed out')) })
  }

  abort (): void {
    this.stream.abort(new Error('the hostile peer aborts'))
  }
}

/** A bare libp2p node that speaks the sync protocol by hand. */
export class HostilePeer {
  readonly node: Libp2p
  readonly identity: Identity

  private constructor (node: Libp2p, identity: Identity) {
    this.node = node
    this.identity = identity
  }

  /** A started node; its peer id is `identity`'s key, like a HyperEmitter's. */
  static async create (identity: Identity = Identity.generate()): Promise<HostilePeer> {
    const node = await createLibp2p({
      privateKey: privateKeyFromRaw(identity.rawPrivateKey),
      addresses: { listen: [] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    return new HostilePeer(node, identity)
  }

  get peerId (): string {
    return this.node.peerId.toString()
  }

  async dial (addr: Multiaddr | string, ms = 5000): Promise<Connection> {
    return this.node.dial(multiaddr(addr.toString()), { signal: AbortSignal.timeout(ms) })
  }

  /** Opens a sync stream, on `target`'s connection or a new dial. */
  async open (target: Multiaddr | string | Connection, ms = 5000): Promise<RawStream> {
    const conn = typeof target === 'string' || !('newStream' in target) ? await this.dial(target, ms) : target
    const stream = await conn.newStream(PROTOCOL, { signal: AbortSignal.timeout(ms) })
    return new RawStream(stream)
  }

  async stop (): Promise<void> {
    try {
      await this.node.stop()
    } catch {
      // stopped already
    }
  }
}

/** A fresh Identity, for a hostile peer that needs a new peer id after a block. */
export function newIdentity (): Identity {
  return Identity.generate()
}
