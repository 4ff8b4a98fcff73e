// A hand-made hostile peer against a HyperEmitter node, over real libp2p
// streams on 127.0.0.1: garbage, oversized frames, wrong frame order, silent
// and surplus streams (hostile-entries.test.ts sends bad entries and floods).
// Each test checks what the node must do (Refuse code and/or stream end, peer
// blocked or not, nothing stored) and that it then still serves an honest
// HyperEmitter. test/session-hostile.test.ts sends the same frames to a
// session's core in-process.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { SyncMessage } from '../src/pb/sync.js'
import { MAX_FRAME_BYTES, MAX_STREAMS, HANDSHAKE_TIMEOUT, REFUSE, PROTOCOL } from '../src/sync/constants.js'
import { Author, hello, entriesMessage, varint, lengthPrefixed } from './hostile-peer.js'
import {
  HELLO, cluster, gc, hostile, sleep, target, assertRefusedWith, session, sync, servesHonest, assertEnded, nodeStreams, assertKeptAway
} from './hostile-target.js'

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
  ['a Prune whose author is not a 32-byte key', { prune: { authors: [new Uint8Array(5)] } }],
  ['a Graft whose author is not a 32-byte key', { graft: { have: [{ author: new Uint8Array(31), seq: 1 }] } }],
  ['an IHave from a peer whose Hello did not name lazy/1', { ihave: { have: [{ author: new Uint8Array(32), seq: 1 }] } }]
] as const) {
  test(`${what} ends the session with PROTOCOL; the honest peer is still served`, async () => {
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
  // the handler options are only reachable through libp2p's components
  type Registrar = { getHandler: (protocol: string) => { options: { maxInboundStreams?: number } } }
  const registrar = (e.node as unknown as { components: { registrar: Registrar } }).components.registrar
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
