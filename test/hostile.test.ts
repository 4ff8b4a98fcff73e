// A hand-made hostile peer against a HyperEmitter node, over real libp2p
// streams on 127.0.0.1: garbage, wrong frame order, oversized frames, forged
// and malformed entries, entries whose parents never come, floods, silent and
// surplus streams. Each test checks what the node must do (Refuse code and/or
// stream end, peer blocked or not, nothing stored) and that it then still
// serves an honest HyperEmitter. Assertions use refuse codes, error names,
// counts and lengths, never message text.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import v8 from 'node:v8'
import { runInNewContext } from 'node:vm'
import { randomBytes } from 'node:crypto'
import { HyperEmitter, type HyperEmitterOptions } from '../src/index.js'
import { Log } from '../src/log/log.js'
import { Ingester } from '../src/log/ingest.js'
import { Schema } from '../src/schema/index.js'
import { SyncMessage } from '../src/pb/sync.js'
import {
  MAX_FRAME_BYTES, MAX_INVALID, WINDOW, MAX_BATCH_ENTRIES, MAX_STREAMS, HANDSHAKE_TIMEOUT, REFUSE, PROTOCOL, SESSION_MAX_PENDING
} from '../src/sync/constants.js'
import { MAX_PENDING_BYTES } from '../src/log/ingest.js'
import { fixture, Cluster, collect } from './helpers.js'
import { HostilePeer, type RawStream, Author, hello, entriesMessage, varint, lengthPrefixed, newIdentity } from './hostile-peer.js'
import type { RefuseName } from '../src/sync/index.js'
import type { Multiaddr } from '@multiformats/multiaddr'

v8.setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const messages = await fixture('messages.proto')
const schema = new Schema(messages)
const FAST: HyperEmitterOptions = { reconnectTimeout: 100 }
const cluster = new Cluster()
const HELLO = schema.encode('Hello', { from: 'hostile' })

function track<T extends { close: () => Promise<void> }> (x: T): T {
  return cluster.add(x)
}

async function hostile (): Promise<HostilePeer> {
  const p = await HostilePeer.create()
  track({ close: async () => { await p.stop() } })
  return p
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

interface Refusal { peer: string, code: string, remote: boolean }

/** Sessions the node ended with a Refuse, as its peer:refused status events tell. */
const refusals = new WeakMap<HyperEmitter, Refusal[]>()

/** A listening node to attack, and its address; its log holds its EventPeer. */
async function target (options: HyperEmitterOptions = FAST): Promise<{ e: HyperEmitter, addr: Multiaddr, base: number }> {
  const e = track(new HyperEmitter(new MemoryLevel(), messages, options))
  const list: Refusal[] = []
  refusals.set(e, list)
  e.status.on('peer:refused', (ev: Refusal) => { list.push(ev) })
  const [addr] = await e.listen(0)
  return { e, addr, base: e.log.length }
}

/**
 * The node ended the session with a Refuse of `code`: its own peer:refused
 * event says so, the stream ended, and if the Refuse frame reached the peer
 * it carries that code. (The node closes the connection right after a block,
 * which can drop the frame before the peer reads it: see the report.)
 */
async function assertRefusedWith (e: HyperEmitter, p: HostilePeer, s: RawStream, code: RefuseName): Promise<void> {
  const mine = (): Refusal[] => (refusals.get(e) ?? []).filter(r => r.peer === p.peerId && !r.remote)
  await s.waitFor(() => s.ending != null && mine().length > 0, 3000)
  assert.ok(s.ending != null, `${code}: the stream ended`)
  assert.equal(mine().map(r => r.code), [code], `the node refused with ${code}`)
  const last = s.frames.filter(f => f.refuse != null).at(-1)?.refuse
  if (last != null) assert.is(last.code, REFUSE[code], `the Refuse frame carries ${code}`)
}

/** A hostile peer past the handshake: it said Hello and got the node's. */
async function session (e: HyperEmitter, addr: Multiaddr, peer?: HostilePeer): Promise<{ p: HostilePeer, s: RawStream }> {
  const p = peer ?? await hostile()
  const s = await p.open(addr)
  assert.ok(await s.send(hello(e)), 'the Hello was written')
  assert.ok(await s.remoteHello() != null, 'the node said Hello')
  return { p, s }
}

function sync (e: HyperEmitter): NonNullable<HyperEmitter['node']>['services']['sync'] {
  return e.node!.services.sync
}

/** An honest emitter connects, and an event goes each way. */
async function servesHonest (e: HyperEmitter, addr: Multiaddr): Promise<void> {
  const honest = track(new HyperEmitter(new MemoryLevel(), messages, FAST))
  await honest.connect(addr)
  // each side hears its own event and the other's
  const atNode = collect<{ value: number }>(e, 'Integer', 2, 5000)
  const atHonest = collect<{ value: number }>(honest, 'Integer', 2, 5000)
  await honest.emit('Integer', { value: 7 })
  await e.emit('Integer', { value: 8 })
  assert.equal((await atNode).map(m => m.value).sort(), [7, 8])
  assert.equal((await atHonest).map(m => m.value).sort(), [7, 8])
}

/** The node refused the stream: a Refuse with one of `codes`, and/or the stream ended. */
function assertEnded (s: RawStream, codes: number[], what: string): void {
  assert.ok(s.ending != null, `${what}: the stream ended`)
  if (s.refused != null) assert.ok(codes.includes(s.refused.code), `${what}: Refuse code ${s.refused.code} is one of ${codes.join(', ')}`)
}

/** Sync streams the node holds on its connections from `peer`. */
function nodeStreams (e: HyperEmitter, peer: string): number {
  return e.node!.getConnections().filter(c => c.remotePeer.toString() === peer)
    .reduce((n, c) => n + c.streams.filter(st => st.protocol === PROTOCOL).length, 0)
}

/** After a block: a new dial or stream from the peer gets nowhere. */
async function assertKeptAway (e: HyperEmitter, addr: Multiaddr, p: HostilePeer): Promise<void> {
  assert.ok(sync(e).isBlocked(p.peerId), 'the peer is blocked')
  let s: RawStream | undefined
  try {
    s = await p.open(addr, 2000)
  } catch {
    return // the dial or the stream was refused
  }
  await s.send(hello(e))
  await s.waitEnd(2000)
  assert.ok(s.ending != null, 'a stream from a blocked peer ends')
  assert.not.ok(s.frames.some(f => f.hello != null), 'a blocked peer gets no Hello')
}

test.after.each(async () => { await cluster.closeAll() })

// ---------------------------------------------------------------- garbage

test('random bytes before the Hello: the stream ends, nothing is stored, the node still serves', async () => {
  const { e, addr, base } = await target()
  for (let i = 0; i < 4; i++) {
    const s = await (await hostile()).open(addr)
    // a one-byte length prefix, so the frame completes and is decoded
    const raw = Buffer.concat([Buffer.from([0x60]), randomBytes(0x60 + 64)])
    await s.sendRaw(raw)
    await s.waitEnd(3000)
    assertEnded(s, [REFUSE.PROTOCOL, REFUSE.VERSION, REFUSE.SCHEMA, REFUSE.TOPIC], `random bytes #${i}`)
  }
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('an undecodable first frame is a PROTOCOL error: Refuse{PROTOCOL}, and the peer is blocked (spec §5.1, §5.7)', async () => {
  const { e, addr, base } = await target()
  const p = await hostile()
  const s = await p.open(addr)
  // field 1 (hello), 5 bytes long, but only one follows
  await s.sendFrame(Uint8Array.from([0x0a, 0x05, 0x01]))
  await s.waitEnd(3000)
  assert.ok(s.ending != null, 'the stream ended')
  assert.is(e.log.length, base)
  // as for any first frame that is not a Hello
  await assertRefusedWith(e, p, s, 'PROTOCOL')
  assert.ok(sync(e).isBlocked(p.peerId), 'blocked like a peer whose first frame is Entries')
})

test('random bytes after the Hello: Refuse{PROTOCOL}, the peer is blocked, nothing is stored', async () => {
  const { e, addr, base } = await target()
  for (let i = 0; i < 3; i++) {
    const { p, s } = await session(e, addr)
    let junk: Uint8Array
    do junk = randomBytes(200); while (decodes(junk))
    await s.sendFrame(junk)
    await s.waitEnd(3000)
    await assertRefusedWith(e, p, s, 'PROTOCOL')
    assert.ok(sync(e).isBlocked(p.peerId))
  }
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

function decodes (bytes: Uint8Array): boolean {
  try {
    SyncMessage.decode(bytes)
    return true
  } catch {
    return false
  }
}

test('a frame whose protobuf is cut short: Refuse{PROTOCOL}, blocked, nothing stored', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  const a = new Author(p.identity)
  const whole = SyncMessage.encode(entriesMessage([a.next('Hello', HELLO).bytes]))
  await s.sendFrame(whole.subarray(0, whole.byteLength - 20))
  await s.waitEnd(3000)
  await assertRefusedWith(e, p, s, 'PROTOCOL')
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('a frame cut short on the wire, then the peer closes: the node ends the session and closes the stream', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  const a = new Author(p.identity)
  const whole = lengthPrefixed(SyncMessage.encode(entriesMessage([a.next('Hello', HELLO).bytes])))
  await s.sendRaw(whole.subarray(0, whole.byteLength - 20))
  await s.close()
  await s.waitEnd(3000)
  assert.is(e.log.length, base)
  assert.not.ok(sync(e).peers.includes(p.peerId), 'the session is over')
  assert.ok(s.ending != null, 'the node closed its end of the stream too')
  assert.is(nodeStreams(e, p.peerId), 0, 'the node holds no half-closed sync stream')
  await servesHonest(e, addr)
})

// ---------------------------------------------------------------- frame size

test('frames over MAX_FRAME_BYTES: LIMIT after the handshake; a length prefix over 3 bytes is PROTOCOL', async () => {
  const { e, addr, base } = await target()
  {
    const { p, s } = await session(e, addr)
    // the prefix alone is enough: the node must not wait for the megabyte
    await s.sendRaw(varint(MAX_FRAME_BYTES + 1))
    await s.waitEnd(3000)
    await assertRefusedWith(e, p, s, 'LIMIT')
    assert.ok(sync(e).isBlocked(p.peerId))
  }
  {
    const { p, s } = await session(e, addr)
    await s.sendRaw(Uint8Array.from([0x80, 0x80, 0x80, 0x01]))
    await s.waitEnd(3000)
    await assertRefusedWith(e, p, s, 'PROTOCOL')
    assert.ok(sync(e).isBlocked(p.peerId))
  }
  {
    // in the handshake: a reset (documented), nothing stored
    const s = await (await hostile()).open(addr)
    const big = new Uint8Array(MAX_FRAME_BYTES + 1)
    await s.sendFrame(big)
    await s.waitEnd(3000)
    assert.ok(s.ending != null, 'an oversized Hello ends the stream')
  }
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('a length prefix that never ends (0x80 0x80 ...) is refused at once and costs no memory', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  gc()
  const before = process.memoryUsage().heapUsed
  const chunk = new Uint8Array(64 * 1024).fill(0x80)
  for (let i = 0; i < 4 && s.ending == null; i++) await s.sendRaw(chunk)
  await s.waitEnd(3000)
  gc()
  const grown = process.memoryUsage().heapUsed - before
  assert.ok(s.ending != null, 'the stream ended: a prefix longer than 3 bytes is a PROTOCOL error')
  assert.ok(grown < 8 * 1024 * 1024, `256 KiB of prefix bytes grew the heap by ${(grown / 1e6).toFixed(1)} MB`)
  await assertRefusedWith(e, p, s, 'PROTOCOL')
  assert.is(e.log.length, base)
})

// ---------------------------------------------------------------- frame order

test('Entries before the Hello: Refuse{PROTOCOL}, blocked, nothing stored', async () => {
  const { e, addr, base } = await target()
  const p = await hostile()
  const s = await p.open(addr)
  await s.send(entriesMessage([new Author(p.identity).next('Hello', HELLO).bytes]))
  await assertRefusedWith(e, p, s, 'PROTOCOL')
  await assertKeptAway(e, addr, p)
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('a second Hello: Refuse{PROTOCOL}, blocked', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  await s.send(hello(e))
  await assertRefusedWith(e, p, s, 'PROTOCOL')
  await assertKeptAway(e, addr, p)
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('an Ack storm (more Acks than Entries frames were sent) ends the session with PROTOCOL', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  // the node sent one Entries frame (its EventPeer); acknowledge a thousand
  await s.waitFor(() => s.frames.some(f => f.entries != null), 2000)
  for (let i = 0; i < 200 && s.ending == null; i++) await s.send({ ack: { batches: 1000 } })
  await s.waitEnd(3000)
  assert.is(e.log.length, base)
  assert.ok(s.ending != null, 'the stream ended')
  await assertRefusedWith(e, p, s, 'PROTOCOL')
  assert.ok(sync(e).isBlocked(p.peerId))
})

for (const [what, msg] of [
  ['a Prune', { prune: { authors: [new Uint8Array(5)] } }],
  ['a Graft', { graft: { have: [{ author: new Uint8Array(31), seq: 1 }] } }]
] as const) {
  test(`${what} whose author is not a 32-byte key ends the session with PROTOCOL; the honest peer is still served`, async () => {
    const { e, addr, base } = await target()
    const { p, s } = await session(e, addr)
    await s.waitFor(() => s.frames.some(f => f.entries != null), 2000)
    await s.send(msg as never)
    await s.waitEnd(3000)
    await assertRefusedWith(e, p, s, 'PROTOCOL')
    assert.ok(sync(e).isBlocked(p.peerId))
    assert.is(e.log.length, base)
    await servesHonest(e, addr)
  })
}

test('a bad frame followed at once by a reset still gets the peer blocked', async () => {
  const { e, addr } = await target()
  const blocked: boolean[] = []
  for (let i = 0; i < 3; i++) {
    const { p, s } = await session(e, addr)
    await sleep(50)
    // the frame and the reset leave in the same tick
    s.stream.send(lengthPrefixed(Uint8Array.from([0x12, 0x50, 0x01])))
    s.abort()
    await sleep(300)
    blocked.push(sync(e).isBlocked(p.peerId))
  }
  assert.equal(blocked, [true, true, true], 'a reset right after a PROTOCOL error does not undo the block')
})

// ---------------------------------------------------------------- invalid entries

test('invalid entries are refused with INVALID_ENTRY and reported by peer:invalid; nothing is stored', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  const reports: Array<{ peer: string, count: number }> = []
  e.status.on('peer:invalid', ev => { reports.push(ev) })
  const own = (): Author => new Author(p.identity)
  const tampered = own().next('Hello', HELLO).bytes
  tampered[tampered.byteLength - 66 - 2] ^= 0x01 // a byte of the payload text: the id and the signature no longer match
  const forged = own().next('Hello', HELLO).bytes
  forged.set(randomBytes(64), forged.byteLength - 64)
  const kinds: Array<[string, Uint8Array]> = [
    ['tampered byte', tampered],
    ['forged signature', forged],
    ['author is not the signer', own().next('Hello', HELLO, { sign: newIdentity() }).bytes],
    ['unknown event name', own().next('NoSuchEvent', HELLO).bytes],
    ['payload that does not decode', own().next('Hello', Uint8Array.from([0x0f, 0x01])).bytes],
    ['seq 0', own().next('Hello', HELLO, { fields: { seq: 0 } }).bytes],
    ['author of 31 bytes', own().next('Hello', HELLO, { sign: false, fields: { author: new Uint8Array(31) } }).bytes],
    ['over 64 KiB', own().next('Hello', schema.encode('Hello', { from: 'x'.repeat(70_000) }), { sign: false }).bytes]
  ]
  let frames = 0
  for (const [what, bytes] of kinds) {
    const refusals = s.frames.filter(f => f.refuse != null).length
    await s.send(entriesMessage([bytes]))
    frames++
    await s.waitFor(() => s.acks >= frames || s.ending != null, 3000)
    const now = s.frames.filter(f => f.refuse != null)
    assert.is(now.length, refusals + 1, `${what}: one Refuse`)
    assert.is(now[now.length - 1].refuse!.code, REFUSE.INVALID_ENTRY, `${what}: INVALID_ENTRY`)
    assert.is(reports.length, frames, `${what}: peer:invalid`)
    assert.equal({ peer: reports[frames - 1].peer, count: reports[frames - 1].count }, { peer: p.peerId, count: 1 })
  }
  assert.is(s.ending, undefined, 'below MAX_INVALID the session goes on')
  assert.not.ok(sync(e).isBlocked(p.peerId))
  // an unsigned entry tampered with, then the signed one that covers the original
  const a = own()
  const [first, second] = [a.next('Hello', HELLO, { sign: false }).bytes, a.next('Hello', HELLO).bytes]
  first[first.byteLength - 2] ^= 0x01
  await s.send(entriesMessage([first, second]))
  frames++
  await s.waitFor(() => s.acks >= frames, 3000)
  assert.is(e.log.length, base, 'nothing stored')
  assert.ok((await e.verify()).ok)
  await servesHonest(e, addr)
})

test('a peer that keeps sending invalid entries is dropped after MAX_INVALID and kept away', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  let counted = 0
  e.status.on('peer:invalid', ev => { counted += ev.count })
  for (let i = 0; i <= MAX_INVALID && s.ending == null; i++) {
    await s.send(entriesMessage([new Author(p.identity).next('NoSuchEvent', HELLO).bytes]))
    await s.waitFor(() => s.frames.filter(f => f.refuse != null).length > i || s.ending != null, 3000)
  }
  await assertRefusedWith(e, p, s, 'INVALID_ENTRY')
  assert.is(counted, MAX_INVALID + 1)
  const notices = s.frames.filter(f => f.refuse != null)
  // a notice for each, and a final one (which the connection close may drop)
  assert.ok(notices.length >= MAX_INVALID, `${notices.length} Refuse frames`)
  assert.ok(notices.every(f => f.refuse!.code === REFUSE.INVALID_ENTRY))
  await assertKeptAway(e, addr, p)
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('invalid entries found while storing (a wrong Lamport clock) count toward MAX_INVALID too', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  let counted = 0
  e.status.on('peer:invalid', ev => { counted += ev.count })
  // well formed and signed, but clock 5 on a first entry: refused in the store pass
  const batch = Array.from({ length: MAX_INVALID + 1 }, () => new Author().next('Hello', HELLO, { fields: { clock: 5 } }).bytes)
  await s.send(entriesMessage(batch))
  await s.waitEnd(3000)
  assert.is(counted, MAX_INVALID + 1)
  assert.is(e.log.length, base)
  assert.ok(s.ending != null, 'the stream ended')
  // with a final Refuse{INVALID_ENTRY}, and kept away, as when they are found at checking
  await assertRefusedWith(e, p, s, 'INVALID_ENTRY')
  assert.ok(sync(e).isBlocked(p.peerId), 'the peer is kept away')
})

// ---------------------------------------------------------------- pending

test('unsigned entries that no signature covers: the pending set is bounded, the session ends with LIMIT', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  let sent = 0
  for (let f = 0; s.ending == null && sent <= SESSION_MAX_PENDING + MAX_BATCH_ENTRIES; f++) {
    const batch = Array.from({ length: MAX_BATCH_ENTRIES }, () => Author.unsigned().next('Hello', HELLO, { sign: false }).bytes)
    await s.waitFor(() => f - s.acks < WINDOW || s.ending != null, 5000)
    if (!(await s.send(entriesMessage(batch)))) break
    sent += batch.length
  }
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sent > SESSION_MAX_PENDING, `${sent} sent`)
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('signed entries whose links never arrive: the pending set is bounded, LIMIT', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  for (let f = 0; s.ending == null && f * MAX_BATCH_ENTRIES <= SESSION_MAX_PENDING + MAX_BATCH_ENTRIES; f++) {
    // a chain whose first (signed) entry links an id nobody sends; signed at its tip
    const a = new Author()
    const ghost = new Uint8Array(34)
    ghost.set([0x12, 0x20], 0)
    ghost.set(randomBytes(32), 2)
    const batch = [a.next('Hello', HELLO, { links: [ghost], linkClock: 7 }).bytes]
    for (let i = 1; i < MAX_BATCH_ENTRIES; i++) batch.push(a.next('Hello', HELLO, { sign: i === MAX_BATCH_ENTRIES - 1 }).bytes)
    await s.waitFor(() => f - s.acks < WINDOW || s.ending != null, 5000)
    if (!(await s.send(entriesMessage(batch)))) break
  }
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('large unsigned entries past MAX_PENDING_BYTES: LIMIT', async () => {
  const { e, addr, base } = await target()
  const { p, s } = await session(e, addr)
  const payload = schema.encode('Hello', { from: 'x'.repeat(60_000) })
  let bytes = 0
  for (let f = 0; s.ending == null && bytes <= MAX_PENDING_BYTES + MAX_FRAME_BYTES; f++) {
    const batch = Array.from({ length: 16 }, () => Author.unsigned().next('Hello', payload, { sign: false }).bytes)
    await s.waitFor(() => f - s.acks < WINDOW || s.ending != null, 5000)
    if (!(await s.send(entriesMessage(batch)))) break
    bytes += batch.reduce((n, b) => n + b.byteLength, 0)
  }
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sync(e).isBlocked(p.peerId))
  assert.is(e.log.length, base)
})

test('pending entries keep only their own bytes, not the whole frame they came in', async () => {
  const { e, addr, base } = await target()
  const { s } = await session(e, addr)
  const frames = 48
  const pad = new Uint8Array(1000 * 1000)
  // what earlier tests left behind goes first
  for (let i = 0; i < 3; i++) {
    await sleep(150)
    gc()
  }
  const before = process.memoryUsage().arrayBuffers
  for (let i = 0; i < frames && s.ending == null; i++) {
    // one small unsigned entry, which waits, and a megabyte of a field the decoder skips
    const body = SyncMessage.encode(entriesMessage([Author.unsigned().next('Hello', HELLO, { sign: false }).bytes]))
    const frame = Buffer.concat([body, Uint8Array.from([0x7a]), varint(pad.byteLength), pad])
    await s.waitFor(() => i - s.acks < WINDOW || s.ending != null, 5000)
    await s.sendFrame(frame)
  }
  await s.waitFor(() => s.acks >= frames || s.ending != null, 5000)
  await sleep(200)
  gc()
  await sleep(50)
  gc()
  const held = process.memoryUsage().arrayBuffers - before
  assert.is(e.log.length, base)
  assert.ok(held < 8 * 1024 * 1024, `${frames} pending entries of ~100 bytes hold ${(held / 1e6).toFixed(1)} MB of buffers`)
})

test('pending entries expire after pendingTtl at the next batch; a late signature then stores nothing', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) }, pendingTtl: 150 })
  const a = new Author()
  const unsigned = a.next('Hello', HELLO, { sign: false }).bytes
  const signed = a.next('Hello', HELLO).bytes
  let res = await ingester.add([unsigned])
  assert.is(res.pending, 1)
  assert.is(res.stored.length, 0)
  await sleep(300)
  res = await ingester.add([signed])
  assert.is(res.stored.length, 0, 'the expired entry is gone, so its successor cannot be stored')
  assert.is(res.pending, 1, 'only the late signed entry waits')
  assert.is(log.length, 0)
  await sleep(300)
  res = await ingester.add([])
  assert.is(res.pending, 0)
  await log.close()
})

test('pending entries expire after pendingTtl even when the peer goes quiet', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) }, pendingTtl: 150 })
  const res = await ingester.add(Array.from({ length: 100 }, () => Author.unsigned().next('Hello', HELLO, { sign: false }).bytes))
  assert.is(res.pending, 100)
  await sleep(500)
  assert.is(ingester.pending, 0, 'a peer that parks entries and then says nothing does not keep them alive')
  await log.close()
})

test('entries that arrive before their parents do not stall their author\'s chain for the rest of the session', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) } })
  const a = new Author()
  // a commit group of three: two unsigned entries, then the signed one
  const [one, two, three] = a.chain(3, 'Hello', () => HELLO, 3).map(b => b.bytes)
  // the middle one comes early (out of order, or as a replay); then the group, in order
  await ingester.add([two])
  const res = await ingester.add([one, two, three])
  assert.is(res.stored.length + (await ingester.add([])).stored.length, 3, 'the group is stored once all of it is there')
  assert.is(log.length, 3)
  assert.is(ingester.pending, 0)
  await log.close()
})

// ---------------------------------------------------------------- floods

test('a flood of valid signed entries at the window\'s pace: an honest peer\'s event still arrives within seconds', async () => {
  const { e, addr } = await target()
  const honest = track(new HyperEmitter(new MemoryLevel(), messages, FAST))
  await honest.connect(addr)
  const { p, s } = await session(e, addr)
  const a = new Author(p.identity)
  let frames = 0
  let stop = false
  const flood = (async () => {
    while (!stop && s.ending == null) {
      await s.waitFor(() => frames - s.acks < WINDOW || s.ending != null, 10_000)
      // a commit group: one signature covers the frame
      if (!(await s.send(entriesMessage(a.chain(MAX_BATCH_ENTRIES, 'Hello', () => HELLO, MAX_BATCH_ENTRIES).map(b => b.bytes))))) break
      frames++
    }
  })()
  await sleep(800)
  const started = Date.now()
  const got = collect<{ value: number }>(e, 'Integer', 1, 8000)
  await honest.emit('Integer', { value: 42 })
  assert.is((await got)[0].value, 42)
  const latency = Date.now() - started
  // the flood goes on meanwhile, at the pace of the node's store
  await s.waitFor(() => s.acks >= WINDOW || s.ending != null, 5000)
  stop = true
  await flood
  assert.ok(latency < 5000, `the honest event took ${latency} ms`)
  assert.ok(s.acks >= WINDOW, `the flood went on (${s.acks} frames acknowledged)`)
  assert.is(s.refused, undefined, 'a sender that keeps to the window is not refused')
  assert.ok(e.log.length > s.acks * MAX_BATCH_ENTRIES / 2, 'the flood was stored')
})

test('a peer that ignores the window (more Entries frames than WINDOW without Acks) is refused with LIMIT', async () => {
  const { e, addr } = await target()
  const { p, s } = await session(e, addr)
  const a = new Author(p.identity)
  const frames = Array.from({ length: 2 * WINDOW + 1 }, () => lengthPrefixed(SyncMessage.encode(entriesMessage(a.chain(2500, 'Hello', () => HELLO, 2500).map(b => b.bytes)))))
  // all at once, without reading a single Ack
  await s.sendRaw(Buffer.concat(frames))
  await s.waitEnd(5000)
  await assertRefusedWith(e, p, s, 'LIMIT')
  assert.ok(sync(e).isBlocked(p.peerId))
  await servesHonest(e, addr)
})

test('replayed signed entries are not verified again: a duplicate costs far less than a signature check', async () => {
  const log = await Log.open(new MemoryLevel())
  const ingester = new Ingester(log, { validate: (name, payload) => { schema.check(name, payload) } })
  const a = new Author()
  const signed = a.next('Hello', HELLO).bytes
  assert.is((await ingester.add([signed])).stored.length, 1)
  // an unsigned fork of the stored entry: also a duplicate, but nothing to verify
  const fork = new Author(a.identity).next('Hello', schema.encode('Hello', { from: 'fork' }), { sign: false }).bytes
  const time = (bytes: Uint8Array): number => {
    const batch = new Array<Uint8Array>(MAX_BATCH_ENTRIES).fill(bytes)
    let best = Infinity
    for (let i = 0; i < 3; i++) {
      const t = performance.now()
      const res = ingester.accept(batch)
      best = Math.min(best, performance.now() - t)
      assert.is(res.duplicates, MAX_BATCH_ENTRIES)
    }
    return best
  }
  const unsigned = time(fork)
  const replayed = time(signed)
  assert.ok(replayed < 4 * unsigned + 20, `${MAX_BATCH_ENTRIES} replays of a stored signed entry took ${replayed.toFixed(0)} ms, ${MAX_BATCH_ENTRIES} unsigned duplicates ${unsigned.toFixed(0)} ms`)
  await log.close()
})

// ---------------------------------------------------------------- streams

test('a stream that never says Hello is freed after HANDSHAKE_TIMEOUT', async () => {
  const { e, addr, base } = await target()
  const p = await hostile()
  const started = Date.now()
  const s = await p.open(addr)
  await sleep(300)
  assert.ok(sync(e).peers.includes(p.peerId), 'the node waits for the Hello')
  await s.waitEnd(HANDSHAKE_TIMEOUT + 1500)
  const took = Date.now() - started
  assert.ok(s.ending != null, 'the node gave up on the silent stream')
  assert.ok(took >= HANDSHAKE_TIMEOUT - 500, `not before the timeout (${took} ms)`)
  assert.not.ok(sync(e).peers.includes(p.peerId), 'no session is left')
  assert.is(nodeStreams(e, p.peerId), 0)
  assert.is(e.log.length, base)
  await servesHonest(e, addr)
})

test('more streams than maxInboundStreams on one connection: the extra ones are refused', async () => {
  const { e, addr } = await target()
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const registrar = (e.node as any).components.registrar
  assert.is(registrar.getHandler(PROTOCOL).options.maxInboundStreams, MAX_STREAMS)
  const p = await hostile()
  const conn = await p.dial(addr)
  const opened = await Promise.allSettled(Array.from({ length: 8 }, async () => p.open(conn)))
  const streams = opened.flatMap(r => r.status === 'fulfilled' ? [r.value] : [])
  for (const s of streams) await s.send(hello(e))
  await sleep(1000)
  const served = streams.filter(s => s.frames.some(f => f.hello != null) && s.ending == null)
  assert.is(served.length, 1, 'one session')
  assert.ok(streams.filter(s => s !== served[0]).every(s => s.ending != null), 'every other stream was refused')
  assert.ok(nodeStreams(e, p.peerId) <= MAX_STREAMS, `${nodeStreams(e, p.peerId)} sync streams held by the node`)
  assert.is(sync(e).peers.filter(id => id === p.peerId).length, 1)
  await servesHonest(e, addr)
})

test.run()
