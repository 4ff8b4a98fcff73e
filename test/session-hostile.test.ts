// The hostile frames of test/hostile.test.ts, sent to a session's core
// in-process by a scripted peer (test/sync/pair.ts): what the core must do
// (the Refuse it sends, close or reset, whether the peer is blocked, what is
// stored), with no network and no sleeps. hostile.test.ts sends the same
// over real libp2p streams.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Pair, type Node, type Session, type Script } from './sync/pair.js'
import { Author, hello, entriesMessage, varint } from './sync/author.js'
import { RefusedError } from '../src/errors.js'
import { blocksPeer } from '../src/sync/refusals.js'
import { SyncMessage } from '../src/pb/sync.js'
import { Identity } from '../src/log/identity.js'
import { MAX_PENDING_BYTES } from '../src/log/ingest.js'
import { MAX_FRAME_BYTES, MAX_INVALID, WINDOW, MAX_BATCH_ENTRIES, MAX_HAVE, REFUSE, SESSION_MAX_PENDING, HANDSHAKE_TIMEOUT, FEATURE_LAZY, type RefuseName } from '../src/sync/constants.js'

let pair: Pair
test.before.each(() => { pair = new Pair() })
test.after.each(async () => { await pair.close() })

/** A session whose Hellos are exchanged; the node holds `own` entries of its own. */
async function opened (own = 0): Promise<{ node: Node, s: Session, p: Script, hi: Uint8Array }> {
  const node = await pair.node()
  if (own > 0) await node.emit(own)
  const [s, p] = pair.script(node)
  p.send(hello(node))
  await pair.settle()
  assert.ok(s.ready, 'the handshake passed')
  return { node, s, p, hi: node.schema.encode('Hello', { from: 'hostile' }) }
}

/** The node refused with `code`: a Refuse frame with it, then a close; blocked for misbehaving or not. */
function assertRefused (s: Session, p: Script, code: RefuseName): void {
  const err = s.ending?.error
  assert.ok(err instanceof RefusedError, `refused with ${code}, not ${String(err)}`)
  assert.is(err.refuseCode, REFUSE[code])
  assert.is(err.remote, false)
  assert.is(s.ending?.reset, false, 'closed after the Refuse')
  assert.is(p.of('refuse').at(-1)?.code, REFUSE[code], `the last Refuse frame says ${code}`)
  assert.is(p.ended, 'eof')
  assert.is(blocksPeer(err), code === 'PROTOCOL' || code === 'LIMIT' || code === 'INVALID_ENTRY')
}

/** The node reset the stream without a Refuse, and blocks nobody. */
function assertReset (s: Session, p: Script): void {
  assert.ok(s.ending != null, 'the session ended')
  assert.is(s.ending.reset, true)
  assert.is(p.of('refuse').length, 0)
  assert.not.ok(blocksPeer(s.ending.error))
  assert.is(p.ended, 'reset')
}

// xorshift32: the same bytes every run
function bytes (seed: number, n: number): Uint8Array {
  let x = seed
  return Uint8Array.from({ length: n }, () => {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    return x & 0xff
  })
}

function decodes (b: Uint8Array): boolean {
  try {
    SyncMessage.decode(b)
    return true
  } catch {
    return false
  }
}

// ---------------------------------------------------------------- handshake

test('before the Hello: random bytes, an undecodable frame, Entries, an Ack are each a PROTOCOL error (or a mismatch)', async () => {
  for (let i = 0; i < 6; i++) {
    const node = await pair.node()
    const [s, p] = pair.script(node)
    p.sendRaw(Uint8Array.from([0x60, ...bytes(i + 1, 0x60 + 64)]))
    await pair.settle()
    const code = (s.ending?.error as RefusedError | undefined)?.refuseCode
    assert.ok(code != null && ([REFUSE.PROTOCOL, REFUSE.VERSION, REFUSE.SCHEMA, REFUSE.TOPIC] as number[]).includes(code), `random bytes #${i}: ${String(code)}`)
    assert.is(node.log.length, 0)
  }
  for (const first of [Uint8Array.from([0x0a, 0x05, 0x01]), SyncMessage.encode(entriesMessage([new Author().next('Hello', new Uint8Array(0)).bytes])), SyncMessage.encode({ ack: { batches: 1 } }), new Uint8Array(0)]) {
    const [s, p] = pair.script(await pair.node())
    p.sendFrame(first)
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
})

test('the Hello: a wrong version is VERSION; a Hello over MAX_FRAME_BYTES, an EOF and silence are resets', async () => {
  {
    const node = await pair.node()
    const [s, p] = pair.script(node)
    const h = hello(node)
    h.hello!.version = 2
    p.send(h)
    await pair.settle()
    assertRefused(s, p, 'VERSION')
  }
  {
    const [s, p] = pair.script(await pair.node())
    p.sendRaw(varint(MAX_FRAME_BYTES + 1))
    await pair.settle()
    assertReset(s, p)
  }
  {
    const [s, p] = pair.script(await pair.node())
    p.close()
    await pair.settle()
    assertReset(s, p)
  }
  {
    const [s, p] = pair.script(await pair.node())
    await pair.advance(HANDSHAKE_TIMEOUT - 1)
    assert.is(s.ending, undefined, 'waits for the Hello')
    await pair.advance(1)
    assertReset(s, p)
  }
})

// ---------------------------------------------------------------- frames

test('after the Hello: bytes that do not decode, a protobuf cut short, a second Hello, an empty frame are PROTOCOL', async () => {
  let seed = 7
  let junk: Uint8Array
  do junk = bytes(seed++, 200); while (decodes(junk))
  const cut = SyncMessage.encode(entriesMessage([new Author().next('Hello', new Uint8Array(0)).bytes]))
  for (const frame of [junk, cut.subarray(0, cut.byteLength - 20), undefined, new Uint8Array(0)]) {
    const { node, s, p } = await opened()
    if (frame == null) p.send(hello(node))
    else p.sendFrame(frame)
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
    assert.is(node.log.length, 0)
  }
})

test('frame lengths: over MAX_FRAME_BYTES is LIMIT at once; a prefix over 3 bytes is PROTOCOL, even one that never ends', async () => {
  {
    const { s, p } = await opened()
    p.sendRaw(varint(MAX_FRAME_BYTES + 1))
    await pair.settle()
    assertRefused(s, p, 'LIMIT')
  }
  {
    const { s, p } = await opened()
    p.sendRaw(Uint8Array.from([0x80, 0x80, 0x80, 0x01]))
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
  {
    const { s, p } = await opened()
    p.sendRaw(new Uint8Array(64 * 1024).fill(0x80))
    p.sendRaw(new Uint8Array(64 * 1024).fill(0x80))
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
})

test('a frame cut short on the wire, then the peer closes: the session ends quietly and closes', async () => {
  const { node, s, p, hi } = await opened()
  const whole = SyncMessage.encode(entriesMessage([new Author().next('Hello', hi).bytes]))
  p.sendRaw(Uint8Array.from([...varint(whole.byteLength), ...whole.subarray(0, whole.byteLength - 20)]))
  p.close()
  await pair.settle()
  assert.equal(s.ending, { error: undefined, reset: false })
  assert.is(p.ended, 'eof')
  assert.is(node.log.length, 0)
})

test('Acks beyond the Entries frames sent, and a Prune or Graft whose author is not a 32-byte key, are PROTOCOL', async () => {
  for (const msgs of [
    [{ ack: { batches: 1000 } }],
    [{ ack: { batches: 1 } }, { ack: { batches: 1 } }],
    [{ prune: { authors: [new Uint8Array(5)] } }],
    [{ graft: { have: [{ author: new Uint8Array(31), seq: 1 }] } }]
  ] as SyncMessage[][]) {
    const { s, p } = await opened(1)
    assert.is(p.of('entries').length, 1, 'the node sent its entry')
    for (const m of msgs) p.send(m)
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
})

test('an IHave from a peer whose Hello did not name lazy/1, or before the Hello, is PROTOCOL; from a lazy/1 peer, one whose author is not a 32-byte key or with more than MAX_HAVE items is PROTOCOL too', async () => {
  const ihave = (author: Uint8Array, n = 1): SyncMessage => ({ ihave: { have: Array.from({ length: n }, () => ({ author: author as Uint8Array<ArrayBuffer>, seq: 1 })) } })
  {
    const { s, p } = await opened(1)
    assert.not.ok(s.core.lazy)
    p.send(ihave(new Uint8Array(32)))
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
  {
    const [s, p] = pair.script(await pair.node())
    p.send(ihave(new Uint8Array(32)))
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
  for (const [what, msg] of [['a 31-byte author', ihave(new Uint8Array(31))], ['MAX_HAVE + 1 items', ihave(new Uint8Array(32), MAX_HAVE + 1)]] as const) {
    const node = await pair.node()
    const [s, p] = pair.script(node)
    p.send(hello(node, [], [FEATURE_LAZY]))
    await pair.settle()
    assert.ok(s.core.lazy, what)
    p.send(msg)
    await pair.settle()
    assertRefused(s, p, 'PROTOCOL')
  }
})

test('a bad frame and a reset in one delivery: the PROTOCOL error stands, and blocks', async () => {
  const { s, p } = await opened()
  p.sendFrame(Uint8Array.from([0x12, 0x50, 0x01]))
  p.reset()
  await pair.settle()
  const err = s.ending?.error
  assert.ok(err instanceof RefusedError && err.refuseCode === REFUSE.PROTOCOL)
  assert.ok(blocksPeer(err))
})

test('a Refuse notice, Synced again and a Graft of what is not pruned: the session goes on', async () => {
  const { s, p } = await opened(1)
  p.send({ refuse: { code: REFUSE.INVALID_ENTRY, reason: '1 entries refused: no' } })
  p.send({ synced: { length: 0 } })
  p.send({ synced: { length: 5 } })
  p.send({ graft: { have: [{ author: new Uint8Array(32), seq: 3 }] } })
  p.send({ ack: { batches: 1 } })
  await pair.settle()
  assert.is(s.ending, undefined)
  assert.ok(s.synced)
  assert.is(s.actions.filter(t => t === 'synced').length, 1)
})

// ---------------------------------------------------------------- entries

test('invalid entries: one Refuse{INVALID_ENTRY} notice and one report per frame, each frame acknowledged; nothing stored', async () => {
  const { node, s, p, hi } = await opened()
  const id = Identity.generate()
  const own = (): Author => new Author(id)
  const tampered = own().next('Hello', hi).bytes
  tampered[tampered.byteLength - 66 - 2] ^= 0x01
  const forged = own().next('Hello', hi).bytes
  forged.set(bytes(3, 64), forged.byteLength - 64)
  const kinds: Array<[string, Uint8Array]> = [
    ['tampered byte', tampered],
    ['forged signature', forged],
    ['author is not the signer', own().next('Hello', hi, { sign: Identity.generate() }).bytes],
    ['an event name no schema can define', own().next('no such event', hi).bytes],
    ['payload that does not decode', own().next('Hello', Uint8Array.from([0x0f, 0x01])).bytes],
    ['seq 0', own().next('Hello', hi, { fields: { seq: 0 } }).bytes],
    ['author of 31 bytes', own().next('Hello', hi, { sign: false, fields: { author: new Uint8Array(31) } }).bytes],
    ['over 64 KiB', own().next('Hello', node.schema.encode('Hello', { from: 'x'.repeat(70_000) }), { sign: false }).bytes],
    ['a wrong clock (found when storing)', own().next('Hello', hi, { fields: { clock: 5 } }).bytes]
  ]
  for (const [i, [what, entry]] of kinds.entries()) {
    p.send(entriesMessage([entry]))
    await pair.settle()
    assert.is(p.of('refuse').length, i + 1, `${what}: one Refuse`)
    assert.is(p.of('refuse')[i].code, REFUSE.INVALID_ENTRY)
    assert.is(p.of('ack').length, i + 1, `${what}: acknowledged`)
    assert.equal(s.invalid.map(r => r.count), Array(i + 1).fill(1), `${what}: reported`)
  }
  assert.is(s.ending, undefined, 'below MAX_INVALID the session goes on')
  // an unsigned entry tampered with, then the signed one that covers the original
  const a = own()
  const [first, second] = [a.next('Hello', hi, { sign: false }).bytes, a.next('Hello', hi).bytes]
  first[first.byteLength - 2] ^= 0x01
  p.send(entriesMessage([first, second]))
  await pair.settle()
  assert.is(node.log.length, 0, 'nothing stored')
})

test('past MAX_INVALID invalid entries, checked or found when storing, a final INVALID_ENTRY ends the session', async () => {
  for (const clock of [false, true]) {
    const { node, s, p, hi } = await opened()
    const batch = Array.from({ length: MAX_INVALID + 1 }, () => clock ? new Author().next('Hello', hi, { fields: { clock: 5 } }).bytes : new Author().next('no such event', hi).bytes)
    p.send(entriesMessage(batch))
    await pair.settle()
    assertRefused(s, p, 'INVALID_ENTRY')
    assert.is(s.invalid.reduce((n, r) => n + r.count, 0), MAX_INVALID + 1)
    assert.is(node.log.length, 0)
  }
})

/** Sends `frames` Entries frames at the window's pace, until the session ends. */
async function flood (s: Session, p: Script, frames: number, frame: () => Uint8Array[]): Promise<number> {
  let sent = 0
  for (let i = 0; i < frames && s.ending == null; i++) {
    while (sent - p.of('ack').length >= WINDOW && s.ending == null) await pair.settle()
    p.send(entriesMessage(frame()))
    sent++
    await pair.settle()
  }
  return sent
}

test('the pending set is bounded: unsigned entries no signature covers, signed ones whose links never come, big unsigned ones: LIMIT', async () => {
  const ghost = Uint8Array.from([0x12, 0x20, ...bytes(9, 32)])
  const frames = Math.ceil(SESSION_MAX_PENDING / MAX_BATCH_ENTRIES) + 1
  const plans: Array<[string, number, (node: Node, hi: Uint8Array) => Uint8Array[]]> = [
    ['unsigned', frames, (_, hi) => Array.from({ length: MAX_BATCH_ENTRIES }, () => Author.unsigned().next('Hello', hi, { sign: false }).bytes)],
    ['links never come', frames, (_, hi) => {
      // a chain whose first entry links an id nobody sends; signed at its tip
      const a = new Author()
      return [a.next('Hello', hi, { links: [ghost], linkClock: 7, sign: false }).bytes, ...a.chain(MAX_BATCH_ENTRIES - 1, 'Hello', () => hi, MAX_BATCH_ENTRIES - 1).map(b => b.bytes)]
    }],
    ['big unsigned', Math.ceil(MAX_PENDING_BYTES / (16 * 60_000)) + 2, node => {
      const big = node.schema.encode('Hello', { from: 'x'.repeat(60_000) })
      return Array.from({ length: 16 }, () => Author.unsigned().next('Hello', big, { sign: false }).bytes)
    }]
  ]
  for (const [what, most, frame] of plans) {
    const { node, s, p, hi } = await opened()
    const sent = await flood(s, p, most, () => frame(node, hi))
    assertRefused(s, p, 'LIMIT')
    assert.ok(sent > 1, `${what}: ${sent} frames`)
    assert.is(node.log.length, 0)
    assert.is(s.storage.pending, 0, 'the pending set is dropped')
  }
})

test('more Entries frames than WINDOW without an Ack: LIMIT, before any is checked', async () => {
  const { node, s, p, hi } = await opened()
  const a = new Author()
  for (let i = 0; i <= WINDOW; i++) p.send(entriesMessage(a.chain(100, 'Hello', () => hi, 100).map(b => b.bytes)))
  await pair.settle()
  assertRefused(s, p, 'LIMIT')
  assert.is(node.log.length, 0)
})

test('held entries expire after pendingTtl even when the peer says nothing more', async () => {
  const { node, s, p, hi } = await opened()
  const a = new Author()
  const unsigned = a.next('Hello', hi, { sign: false }).bytes
  const signed = a.next('Hello', hi).bytes
  p.send(entriesMessage([unsigned]))
  await pair.settle()
  assert.is(s.storage.pending, 1)
  const ttl = s.storage.pendingTtl
  await pair.advance(ttl)
  assert.is(s.storage.pending, 1, 'not at the first expiry tick: it is not older than the TTL yet')
  await pair.advance(ttl)
  assert.is(s.storage.pending, 0, 'gone within twice the TTL')
  p.send(entriesMessage([signed]))
  await pair.settle()
  assert.is(node.log.length, 0, 'its late signature stores nothing')
  assert.is(s.storage.pending, 1)
})

test.run()
