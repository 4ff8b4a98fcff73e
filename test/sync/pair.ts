// Sync sessions without a network: SessionCores (src/sync/core.ts) on Logs on
// MemoryLevel, wired to each other or to a scripted peer. Every frame goes as
// bytes through the real framing and decoding; time is a virtual clock that
// moves only when a test says so. Storage is the real Log and Ingester, so
// `settle()` awaits what they do, and nothing else.
import { MemoryLevel } from 'memory-level'
import { Uint8ArrayList } from 'uint8arraylist'
import { Log } from '../../src/log/log.js'
import { Schema } from '../../src/schema/index.js'
import { SyncMessage } from '../../src/pb/sync.js'
import { SessionCore } from '../../src/sync/core.js'
import { SessionStorage } from '../../src/sync/storage.js'
import { FrameReader } from '../../src/sync/framing.js'
import { LocalDescriptor } from '../../src/sync/schemas.js'
import { fixture } from '../helpers.js'
import type { IngestInit } from '../../src/log/ingest.js'
import type { CheckPool } from '../../src/log/check-pool.js'
import type { Action } from '../../src/sync/actions.js'

/** A frame on a wire: decoded, or undefined where its bytes are not a SyncMessage. */
export interface Seen {
  /** the virtual time */
  at: number
  /** the order of all frames sent and received in the pair */
  n: number
  msg: SyncMessage | undefined
}

/** One side of a wire. */
interface End {
  /** bytes from the other side */
  deliver: (bytes: Uint8Array) => void
  /** the other side closed (or reset) its end */
  closed: (reset: boolean) => void
}

/** Bytes in flight from one end to the other, in order, then maybe the end of the stream. */
class Wire {
  readonly #queue: Uint8Array[] = []
  #end: { reset: boolean } | undefined
  #endDelivered = false
  to: End | undefined
  /** split bytes into chunks of at most this many (to exercise the frame reader) */
  chunk = Infinity
  /** bytes wait on the wire until this is false again */
  held = false

  push (bytes: Uint8Array): void {
    if (this.#end == null) this.#queue.push(bytes)
  }

  end (reset: boolean): void {
    this.#end ??= { reset }
  }

  /** Hands what is queued to the receiving end; whether anything moved. */
  deliver (): boolean {
    if (this.to == null || this.held) return false
    let moved = false
    while (this.#queue.length > 0) {
      const bytes = this.#queue.shift()!
      for (let i = 0; i < bytes.byteLength; i += this.chunk) this.to.deliver(bytes.subarray(i, i + this.chunk))
      moved = true
    }
    if (this.#end != null && !this.#endDelivered) {
      this.#endDelivered = true
      this.to.closed(this.#end.reset)
      moved = true
    }
    return moved
  }
}

/** Decodes whatever one end sends, frame by frame, for the test to look at. */
class Tap {
  readonly #reader = new FrameReader()
  readonly #pair: Pair
  readonly frames: Seen[] = []

  constructor (pair: Pair) {
    this.#pair = pair
  }

  /** The frames these bytes complete. */
  push (bytes: Uint8Array): Seen[] {
    this.#reader.push(bytes)
    const out: Seen[] = []
    while (true) {
      let frame: Uint8Array | undefined
      try {
        frame = this.#reader.next()
      } catch {
        return out
      }
      if (frame == null) return out
      let msg: SyncMessage | undefined
      try {
        msg = SyncMessage.decode(frame)
      } catch {
        msg = undefined
      }
      const seen = { at: this.#pair.now, n: this.#pair.order++, msg }
      this.frames.push(seen)
      out.push(seen)
    }
  }
}

/** A node: a log on MemoryLevel, and the sessions it runs. */
export class Node {
  readonly log: Log
  readonly schema: Schema
  readonly topic: string
  readonly sessions: Session[] = []

  constructor (log: Log, schema: Schema, topic: string) {
    this.log = log
    this.schema = schema
    this.topic = topic
  }

  get key (): string {
    return Buffer.from(this.log.identity.publicKey).toString('hex')
  }

  /** as a HyperEmitter has them, for `hello()` of test/sync/author.ts */
  get options (): { topic: string } {
    return { topic: this.topic }
  }

  /** Emits `n` Hello events at once (committed in groups of up to MAX_GROUP). */
  async emit (n: number, from = 'pair'): Promise<void> {
    await Promise.all(Array.from({ length: n }, async (_, i) => this.log.append('Hello', this.schema.encode('Hello', { from, message: `#${i}` }))))
  }
}

export interface SessionOptions {
  ingest?: Partial<IngestInit>
  /** where long Entries frames of signed entries are checked */
  checks?: CheckPool
  mayPrune?: (author: string) => boolean
  fingerprint?: Uint8Array
  /** its schema descriptor (the node's by default); false: a core of a version before descriptors, that compares `fingerprint` only */
  descriptor?: LocalDescriptor | false
  /** the features of its Hello (FEATURES by default; [] for a peer written before features existed) */
  features?: readonly string[]
}

/** One side of a session: a core, its storage, and what it did. */
export class Session implements End {
  readonly node: Node
  readonly core: SessionCore
  readonly storage: SessionStorage
  readonly #pair: Pair
  readonly wire = new Wire()
  /** frames this side sent */
  readonly tap: Tap
  /** frames this side received */
  readonly inbox: Tap
  ready = false
  synced = false
  invalid: Array<{ count: number, reason: string }> = []
  stored: Array<Set<string>> = []
  /** the IHave notices taken: entries the remote holds and this node lacks */
  ihaves: Array<Array<[string, number]>> = []
  ending: { error: Error | undefined, reset: boolean } | undefined
  /** the actions it gave, in order, by type */
  readonly actions: string[] = []
  /** called for every action, before it is performed */
  onAction: ((action: Action) => void) | undefined
  /** called for every frame this side sends, and for every frame it receives */
  onSend: ((frame: Seen) => void) | undefined
  onReceive: ((frame: Seen) => void) | undefined

  constructor (pair: Pair, node: Node, init: SessionOptions) {
    this.#pair = pair
    this.node = node
    this.tap = new Tap(pair)
    this.inbox = new Tap(pair)
    this.storage = new SessionStorage(node.log, { validate: (name, payload) => { node.schema.checkEntry(name, payload) }, ...init.ingest }, init.checks)
    const descriptor = init.descriptor === false ? undefined : init.descriptor ?? new LocalDescriptor(node.schema.descriptor)
    this.core = new SessionCore({ storage: this.storage, fingerprint: init.fingerprint ?? node.schema.fingerprint, descriptor, topic: node.topic, mayPrune: init.mayPrune, features: init.features, self: node.key })
  }

  deliver (bytes: Uint8Array): void {
    for (const f of this.inbox.push(bytes)) this.onReceive?.(f)
    this.core.receive(bytes, this.#pair.now)
  }

  closed (reset: boolean): void {
    this.core.transportEnded(reset)
  }

  /** Performs the core's actions; whether there were any. */
  pump (): boolean {
    let moved = false
    for (let a = this.core.poll(); a != null; a = this.core.poll()) {
      moved = true
      this.actions.push(a.type)
      this.onAction?.(a)
      switch (a.type) {
        case 'send': {
          const bytes = a.bytes.subarray()
          for (const f of this.tap.push(bytes)) this.onSend?.(f)
          this.wire.push(bytes)
          break
        }
        case 'read': this.#pair.track(this.storage.read(a.have, a.limit).then(e => { this.core.readDone(e) }, (err: Error) => { this.core.storageFailed(err) })); break
        case 'check': this.#pair.track(this.storage.check(a.entries).then(c => { this.core.checkDone(a.frame, c) }, () => { this.core.checkDone(a.frame, undefined) })); break
        case 'store': this.#pair.track(this.storage.store(a.upTo, a.detach).then(r => { this.core.storeDone(r); this.pump() }, (err: Error) => { this.core.storageFailed(err) })); break
        case 'ready': this.ready = true; break
        case 'synced': this.synced = true; break
        case 'invalid': this.invalid.push({ count: a.count, reason: a.reason }); break
        case 'stored': this.stored.push(a.authors); break
        case 'ihave': this.ihaves.push(a.have); break
        case 'end':
          this.ending = { error: a.error, reset: a.reset }
          this.wire.end(a.reset)
          break
      }
    }
    return moved
  }

  /** The frames this side sent, decoded (undefined where they do not decode). */
  get sent (): Array<SyncMessage | undefined> {
    return this.tap.frames.map(f => f.msg)
  }
}

/** A scripted peer: sends whatever bytes a test gives it, keeps what it gets. */
export class Script implements End {
  readonly wire = new Wire()
  /** frames the other side sent, decoded */
  readonly tap: Tap
  /** how the other side's stream ended */
  ended: 'eof' | 'reset' | undefined

  constructor (pair: Pair) {
    this.tap = new Tap(pair)
  }

  deliver (bytes: Uint8Array): void {
    this.tap.push(bytes)
  }

  closed (reset: boolean): void {
    this.ended = reset ? 'reset' : 'eof'
  }

  get frames (): Array<SyncMessage | undefined> {
    return this.tap.frames.map(f => f.msg)
  }

  /** Frames of one kind the other side sent. */
  of<K extends keyof SyncMessage> (kind: K): Array<NonNullable<SyncMessage[K]>> {
    return this.frames.flatMap(m => m?.[kind] != null ? [m[kind]] : [])
  }

  send (msg: SyncMessage): void {
    this.sendFrame(SyncMessage.encode(msg))
  }

  sendFrame (body: Uint8Array): void {
    const list = new Uint8ArrayList(varint(body.byteLength), body)
    this.wire.push(list.subarray())
  }

  sendRaw (bytes: Uint8Array): void {
    this.wire.push(bytes)
  }

  close (): void {
    this.wire.end(false)
  }

  reset (): void {
    this.wire.end(true)
  }
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return Uint8Array.from(out)
}

export interface NodeOptions {
  schema?: string
  topic?: string
}

/** Something else on the virtual clock: `tick` is called once the time `due()` gives has come. */
export interface Clocked {
  due: () => number | undefined
  tick: (now: number) => void
}

/** Nodes, the sessions between them, and the virtual clock they share. */
export class Pair {
  now = 1_000_000
  /** frames sent and received so far, in the pair */
  order = 0
  readonly nodes: Node[] = []
  readonly sessions: Session[] = []
  readonly scripts: Script[] = []
  /** timers besides the cores', ticked by `advance` */
  readonly clocks: Clocked[] = []
  readonly #inflight = new Set<Promise<void>>()

  /** A node on a fresh MemoryLevel log. */
  async node (opts: NodeOptions = {}): Promise<Node> {
    const schema = new Schema(opts.schema ?? await fixture('messages.proto'))
    const node = new Node(await Log.open(new MemoryLevel()), schema, opts.topic ?? '')
    node.log.onCommit((entries, by) => { for (const s of node.sessions) s.core.committed(entries, this.now, s.storage.stores(by)) })
    this.nodes.push(node)
    return node
  }

  #session (node: Node, init: SessionOptions): Session {
    const s = new Session(this, node, init)
    node.sessions.push(s)
    this.sessions.push(s)
    return s
  }

  /** A session between two nodes; both send their Hello. */
  connect (a: Node, b: Node, init: { a?: SessionOptions, b?: SessionOptions } = {}): [Session, Session] {
    const sa = this.#session(a, init.a ?? {})
    const sb = this.#session(b, init.b ?? {})
    sa.wire.to = sb
    sb.wire.to = sa
    sa.core.start(this.now)
    sb.core.start(this.now)
    return [sa, sb]
  }

  /** A session of `node` with a scripted peer; the node sends its Hello. */
  script (node: Node, init: SessionOptions = {}): [Session, Script] {
    const s = this.#session(node, init)
    const p = new Script(this)
    this.scripts.push(p)
    s.wire.to = p
    p.wire.to = s
    s.core.start(this.now)
    return [s, p]
  }

  /** Forgets a session that ended, and its scripted peer. */
  drop (s: Session, script?: Script): void {
    for (const list of [this.sessions, s.node.sessions]) list.splice(list.indexOf(s), 1)
    if (script != null) this.scripts.splice(this.scripts.indexOf(script), 1)
  }

  track (p: Promise<void>): void {
    const tracked = p.finally(() => { this.#inflight.delete(tracked) })
    this.#inflight.add(tracked)
  }

  /** Runs until nothing moves: actions performed, bytes delivered, parts checked, storage done. No time passes. */
  async settle (): Promise<void> {
    for (let rounds = 0; ; rounds++) {
      if (rounds > 1_000_000) throw new Error('the pair does not settle')
      let moved = false
      for (const s of this.sessions) if (s.pump()) moved = true
      for (const w of [...this.sessions.map(s => s.wire), ...this.scripts.map(s => s.wire)]) if (w.deliver()) moved = true
      for (const s of this.sessions) {
        if (s.core.wantsWork) {
          s.core.work(this.now)
          moved = true
        }
      }
      if (moved) continue
      if (this.#inflight.size === 0) return
      await Promise.race(this.#inflight)
    }
  }

  /** Moves the clock on by `ms`, ticking each core (and each of `clocks`) at each of its timeouts on the way, and settles. */
  async advance (ms: number): Promise<void> {
    const target = this.now + ms
    await this.settle()
    for (let i = 0; ; i++) {
      if (i > 100_000) throw new Error('a timeout stays due after its tick')
      const due = [...this.sessions.map(s => s.core.timeout), ...this.clocks.map(c => c.due())].filter((t): t is number => t != null && t <= target)
      if (due.length === 0) break
      this.now = Math.max(this.now, Math.min(...due))
      for (const s of this.sessions) {
        const t = s.core.timeout
        if (t != null && t <= this.now) s.core.tick(this.now)
      }
      for (const c of this.clocks) {
        const t = c.due()
        if (t != null && t <= this.now) c.tick(this.now)
      }
      await this.settle()
    }
    this.now = target
    await this.settle()
  }

  /** Closes the logs, whatever the sessions are doing (a failed test may leave them anywhere). */
  async close (): Promise<void> {
    for (const n of this.nodes) await n.log.close().catch(() => {})
  }
}
