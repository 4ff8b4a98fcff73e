// Schemas in the sync handshake (protocols/README.md §5.1), on session cores
// in-process (test/sync/pair.ts): nodes on compatible schemas sync, and store
// and relay the events they do not know; incompatible ones are refused on
// both sides with the reason; a core of the version before descriptors
// still syncs with the same schema and is refused with another one; and what
// a hostile peer can do with the new frames.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import protobuf from 'protobufjs'
import { Pair, type Node, type Session, type Script } from './sync/pair.js'
import { Author, hello, entriesMessage } from './sync/author.js'
import { MismatchError, RefusedError } from '../src/errors.js'
import { blocksPeer } from '../src/sync/refusals.js'
import { LocalDescriptor } from '../src/sync/schemas.js'
import { SyncMessage } from '../src/pb/sync.js'
import { createHash } from 'node:crypto'
import { Label, Type, encodeDescriptor } from '../src/schema/descriptor.js'
import { Schema } from '../src/schema/index.js'
import { toHex } from '../src/log/entry.js'
import { HANDSHAKE_TIMEOUT, REFUSE, type RefuseName } from '../src/sync/constants.js'
import { fixture } from './helpers.js'

const v1 = await fixture('upgrade-v1.proto')
const v2 = await fixture('upgrade-v2.proto')
const incompatible = await fixture('upgrade-incompatible.proto')

let pair: Pair
test.before.each(() => { pair = new Pair() })
test.after.each(async () => { await pair.close() })

const kinds = (frames: Array<SyncMessage | undefined>): string[] => frames.map(m => m == null ? 'undecodable' : Object.keys(m).filter(k => m[k as keyof SyncMessage] != null).join('+'))

function descriptorOf (node: Node): LocalDescriptor {
  return new LocalDescriptor(node.schema.descriptor)
}

/** The ids of a node's entries in feed order: the hashes of their bytes. */
async function idsOf (node: Node): Promise<string[]> {
  return (await node.log.read(1, node.log.length)).map(e => toHex(e.id))
}

function assertRefused (s: Session, code: RefuseName, remote = false): RefusedError {
  const err = s.ending?.error
  assert.ok(err instanceof RefusedError, `refused with ${code}, not ${String(err)}`)
  assert.is(err.refuseCode, REFUSE[code])
  assert.is(err.remote, remote)
  return err
}

test('the same schema: each Hello carries the descriptor fingerprint, no descriptor is sent, the session opens', async () => {
  const a = await pair.node({ schema: v2 })
  const b = await pair.node({ schema: v2 })
  await a.emit(2)
  const [sa, sb] = pair.connect(a, b)
  await pair.settle()
  assert.ok(sa.ready && sb.ready)
  assert.equal(new Uint8Array(sa.sent[0]!.hello!.descriptorFingerprint!), new Uint8Array(descriptorOf(a).fingerprint))
  assert.equal(sa.sent[0]?.hello?.schema, new Uint8Array(a.schema.fingerprint))
  for (const s of [sa, sb]) assert.not.ok(kinds(s.sent).includes('descriptor'))
  assert.equal(sa.core.schemaChanges, [])
  assert.is(b.log.length, 2)
})

test('schemas that differ compatibly (a new field, a new event): each side sends its descriptor once, both open, and sync both ways', async () => {
  const old = await pair.node({ schema: v1 })
  const up = await pair.node({ schema: v2 })
  await old.emit(3)
  await up.log.append('Hello', up.schema.encode('Hello', { from: 'up', message: 'hi', mood: 'glad' }))
  await up.log.append('Farewell', up.schema.encode('Farewell', { from: 'up', after: 7 }))
  const [so, su] = pair.connect(old, up)
  await pair.settle()
  assert.ok(so.ready && su.ready, 'both open')
  for (const s of [so, su]) {
    assert.equal(kinds(s.sent).slice(0, 2), ['hello', 'descriptor'])
    assert.is(kinds(s.sent).filter(k => k === 'descriptor').length, 1)
  }
  assert.equal(so.sent[1]?.descriptor?.descriptor, new Uint8Array(descriptorOf(old).bytes))
  // each side names the changes from its own side
  assert.equal(so.core.schemaChanges.map(c => c.text), ['Hello.mood: field 3 (string) added', 'event Farewell added'])
  assert.equal(su.core.schemaChanges.map(c => c.text), ['Hello.mood: field 3 (string) removed', 'event Farewell removed'])
  // everything crossed, byte for byte: the v1 node holds the Farewell it does not know
  assert.equal(new Set(await idsOf(old)), new Set(await idsOf(up)))
  assert.equal(old.log.vector(), up.log.vector())
  const stored = await old.log.read(1, old.log.length)
  const farewell = stored.find(e => e.entry.name === 'Farewell')
  assert.ok(farewell != null, 'the unknown event is stored')
  assert.not.ok(old.schema.knows('Farewell'))
  assert.equal(up.schema.decode('Farewell', farewell.entry.payload), { from: 'up', after: 7 })
  // the v1 node reads the v2 Hello without the new field; the bytes keep it
  const hi = stored.find(e => e.entry.name === 'Hello' && toHex(e.entry.author) === up.key)!
  assert.equal(old.schema.decode('Hello', hi.entry.payload), { from: 'up', message: 'hi' })
  assert.equal(up.schema.decode('Hello', hi.entry.payload), { from: 'up', message: 'hi', mood: 'glad' })
  assert.ok((await old.log.verify()).ok)
})

test('a v1 node in the middle relays v2 events it does not know, untouched: the v2 node behind it reads the new event and field', async () => {
  const first = await pair.node({ schema: v2 })
  const middle = await pair.node({ schema: v1 })
  const last = await pair.node({ schema: v2 })
  pair.connect(first, middle)
  pair.connect(middle, last)
  await pair.settle()
  await first.log.append('Hello', first.schema.encode('Hello', { from: 'first', mood: 'curious' }))
  await first.log.append('Farewell', first.schema.encode('Farewell', { from: 'first', after: 1 }))
  await pair.settle()
  assert.equal(last.log.vector(), first.log.vector(), 'the last node holds all of the first node\'s chain')
  assert.equal(await idsOf(last), await idsOf(first))
  const got = (await last.log.read(1, last.log.length)).map(e => [e.entry.name, last.schema.decode(e.entry.name, e.entry.payload)])
  assert.equal(got, [['Hello', { from: 'first', message: '', mood: 'curious' }], ['Farewell', { from: 'first', after: 1 }]])
  assert.ok((await middle.log.verify()).ok)
})

test('an incompatible schema: both sides refuse with SCHEMA, each naming the message and the field; nothing stored, nobody blocked', async () => {
  const a = await pair.node({ schema: v1 })
  const b = await pair.node({ schema: incompatible })
  await a.emit(2)
  await b.log.append('Integer', b.schema.encode('Integer', { value: 1 }))
  const [sa, sb] = pair.connect(a, b)
  await pair.settle()
  for (const [s, text] of [[sa, 'Hello.level: required field 4 (int32) added'], [sb, 'Hello.level: required field 4 removed']] as const) {
    const err = assertRefused(s, 'SCHEMA')
    assert.ok(err instanceof MismatchError)
    assert.ok(err.message.includes(text), err.message)
    assert.match(err.message, /^incompatible schemas: /)
    assert.equal(kinds(s.sent), ['hello', 'descriptor', 'refuse'])
    assert.is(s.sent[2]?.refuse?.reason, err.message)
    assert.is(s.ending?.reset, false)
    assert.not.ok(blocksPeer(err))
    assert.not.ok(s.ready)
  }
  assert.is(a.log.length, 2)
  assert.is(b.log.length, 1)
})

test('another topic is refused before the descriptors are exchanged', async () => {
  const a = await pair.node({ schema: v1 })
  const b = await pair.node({ schema: incompatible, topic: 'elsewhere' })
  const [sa, sb] = pair.connect(a, b)
  await pair.settle()
  for (const s of [sa, sb]) {
    assertRefused(s, 'TOPIC')
    assert.equal(kinds(s.sent), ['hello', 'refuse'])
  }
})

test('a core of the version before descriptors: with the same schema both sync; with another, even a compatible one, both refuse SCHEMA and the new side says why', async () => {
  // the same schema
  const a = await pair.node({ schema: v1 })
  const old = await pair.node({ schema: v1 })
  await a.emit(2)
  await old.emit(1)
  const [sa, so] = pair.connect(a, old, { b: { descriptor: false } })
  await pair.settle()
  assert.ok(sa.ready && so.ready)
  assert.is(so.sent[0]?.hello?.descriptorFingerprint, undefined, 'the old core sends no descriptor fingerprint')
  assert.not.ok(kinds(sa.sent).includes('descriptor'), 'and is never sent a descriptor')
  assert.equal(a.log.vector(), old.log.vector())

  // what an older peer decodes of a new Hello: its own fields, the same
  // values, the new one skipped (sync.proto's Hello as it was)
  const before = protobuf.parse(`syntax = "proto3";
    message SyncMessage { Hello hello = 1; }
    message Hello { uint32 version = 1; bytes schema = 2; string topic = 3; repeated Have have = 4; repeated string features = 5; }
    message Have { bytes author = 1; uint64 seq = 2; }`).root.lookupType('SyncMessage')
  const mine = sa.sent[0]!.hello!
  const seen = before.toObject(before.decode(SyncMessage.encode({ hello: mine })), { longs: Number, defaults: true }) as { hello: Record<string, unknown> }
  assert.equal(Object.keys(seen.hello).sort(), ['features', 'have', 'schema', 'topic', 'version'])
  assert.equal(new Uint8Array(seen.hello.schema as Uint8Array), new Uint8Array(mine.schema))
  assert.equal(seen.hello.features, mine.features)

  // another schema, compatible or not
  for (const schema of [v2, incompatible]) {
    const n = await pair.node({ schema })
    const o = await pair.node({ schema: v1 })
    await o.emit(1)
    const [sn, sx] = pair.connect(n, o, { b: { descriptor: false } })
    await pair.settle()
    const mine = assertRefused(sn, 'SCHEMA')
    assert.match(mine.message, /sent no schema descriptor/)
    const theirs = assertRefused(sx, 'SCHEMA')
    assert.is(theirs.message, 'the peer runs another schema', 'the old core refuses as it always did')
    for (const s of [sn, sx]) assert.equal(kinds(s.sent), ['hello', 'refuse'])
    assert.is(n.log.length, 0)
  }
})

/** A node in the middle of the handshake with a scripted peer whose Hello names another descriptor. */
async function exchanging (announced: Uint8Array = new Uint8Array(32).fill(7)): Promise<{ node: Node, s: Session, p: Script }> {
  const node = await pair.node({ schema: v1 })
  const [s, p] = pair.script(node)
  const msg = hello(node)
  msg.hello!.descriptorFingerprint = announced as Uint8Array<ArrayBuffer>
  p.send(msg)
  await pair.settle()
  return { node, s, p }
}

function assertProtocol (s: Session, p: Script, pattern: RegExp): void {
  const err = assertRefused(s, 'PROTOCOL')
  assert.match(err.message, pattern)
  assert.is(p.of('refuse').at(-1)?.code, REFUSE.PROTOCOL)
  assert.ok(blocksPeer(err), 'a PROTOCOL refusal blocks the peer')
  assert.not.ok(s.ready)
}

test('hostile descriptors: a fingerprint that is not 32 bytes, a descriptor that does not match it, does not decode, is not canonical or is out of bounds: PROTOCOL', async () => {
  {
    const { s, p } = await exchanging(new Uint8Array(31))
    assertProtocol(s, p, /descriptor fingerprint of 31 bytes/)
    assert.equal(kinds(p.frames), ['hello', 'refuse'])
  }
  const v2Descriptor = new LocalDescriptor(new Schema(v2).descriptor)
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['another descriptor than announced', v2Descriptor.bytes, /does not match the fingerprint/],
    ['bytes that do not decode', Uint8Array.from([0x0a, 0xff]), /bad schema descriptor/],
    ['not in canonical form', Uint8Array.from([...v2Descriptor.bytes, 0x12, 0x00]), /bad schema descriptor/],
    ['a field type that names no message', encodeDescriptor({ messages: [{ fullName: 'A', event: true, fields: [{ number: 1, name: 'x', label: Label.OPTIONAL, type: Type.MESSAGE, typeName: 'B', keyType: Type.NONE, oneof: '' }] }], enums: [] }), /no message B/],
    ['over MAX_DESCRIPTOR_BYTES', new Uint8Array(300 * 1024), /more than 262144/]
  ]
  for (const [what, bytes, pattern] of cases) {
    // the fingerprint of the Hello matches the bytes, but in the first case
    const announced = what.startsWith('another') ? new Uint8Array(32).fill(7) : createHash('sha256').update(bytes).digest()
    const { s, p } = await exchanging(announced)
    assert.equal(kinds(p.frames), ['hello', 'descriptor'], `${what}: the node sent its descriptor`)
    p.send({ descriptor: { descriptor: bytes as Uint8Array<ArrayBuffer> } })
    await pair.settle()
    assertProtocol(s, p, pattern)
  }
})

test('after differing Hellos the next frame must be the descriptor: Entries is PROTOCOL, a Refuse ends the session, silence times out, an EOF is a reset', async () => {
  const hi = new Schema(v1).encode('Hello', { from: 'x' })
  {
    const { s, p } = await exchanging()
    p.send(entriesMessage([new Author().next('Hello', hi).bytes]))
    await pair.settle()
    assertProtocol(s, p, /second frame must be the schema descriptor/)
    assert.is(s.node.log.length, 0)
  }
  {
    const { s, p } = await exchanging()
    p.send({ refuse: { code: REFUSE.SCHEMA, reason: 'no thanks' } })
    await pair.settle()
    const err = assertRefused(s, 'SCHEMA', true)
    assert.ok(err instanceof MismatchError)
    assert.is(s.ending?.reset, true)
  }
  {
    const { s, p } = await exchanging()
    await pair.advance(HANDSHAKE_TIMEOUT - 1)
    assert.is(s.ending, undefined, 'still waiting')
    await pair.advance(1)
    assert.match(String(s.ending?.error?.message), /no schema descriptor within/)
    assert.is(s.ending?.reset, true)
    assert.not.ok(blocksPeer(s.ending?.error))
    assert.is(p.of('refuse').length, 0)
  }
  {
    const { s, p } = await exchanging()
    p.close()
    await pair.settle()
    assert.match(String(s.ending?.error?.message), /ended before the schema descriptor/)
    assert.is(s.ending?.reset, true)
  }
})

test('entries of events the schema does not define are checked like others: a forged one is invalid, a name no schema can have is invalid', async () => {
  const node = await pair.node({ schema: v1 })
  const [s, p] = pair.script(node)
  p.send(hello(node))
  await pair.settle()
  assert.ok(s.ready)
  const writer = new Author()
  const payload = Uint8Array.from([0x0a, 0x02, 0x68, 0x69])
  const good = writer.next('shop.Order', payload).bytes
  const forged = new Author().next('shop.Order', payload).bytes
  forged[forged.byteLength - 1] ^= 1
  const badName = new Author().next('shop.Order!', payload).bytes
  const longName = new Author().next('a'.repeat(257), payload).bytes
  p.send(entriesMessage([good, forged, badName, longName]))
  await pair.settle()
  assert.is(node.log.length, 1, 'the good one is stored')
  assert.is(s.invalid.reduce((n, r) => n + r.count, 0), 3)
  const [stored] = await node.log.read(1, 1)
  assert.is(stored.entry.name, 'shop.Order')
  assert.equal(new Uint8Array(stored.bytes), new Uint8Array(good), 'stored as received')
})

test.run()
