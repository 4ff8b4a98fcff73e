// Schemas across a real network (libp2p over 127.0.0.1, in one process):
// an incompatible change is refused on both sides with the reason and
// neither log is touched; events of a type a node does not know cross it,
// stored and relayed byte for byte, and reach the nodes that know them.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter, type Event, type HyperEmitterOptions } from '../src/index.js'
import { Cluster, collect, fixture, until } from './helpers.js'

const v1 = await fixture('upgrade-v1.proto')
const v2 = await fixture('upgrade-v2.proto')
const incompatible = await fixture('upgrade-incompatible.proto')
const cluster = new Cluster()
const FAST: HyperEmitterOptions = { reconnectTimeout: 100 }

test.after.each(async () => { await cluster.closeAll() })

function emitter (schema: string): HyperEmitter {
  return cluster.add(new HyperEmitter(new MemoryLevel(), schema, FAST))
}

interface Refused { peer: string, code: string, reason: string, remote: boolean }

function refusals (e: HyperEmitter): Refused[] {
  const seen: Refused[] = []
  e.status.on('peer:refused', (r: Refused) => { seen.push(r) })
  return seen
}

async function all (e: HyperEmitter): Promise<Event[]> {
  const out: Event[] = []
  for await (const ev of e.events({ from: 'beginning', live: false })) out.push(ev)
  return out
}

test('an incompatible schema: both sides refuse with SCHEMA and a reason naming the message and the field; neither log is touched', async () => {
  const one = emitter(v1)
  const two = emitter(incompatible)
  await one.emit('Hello', { from: 'one' })
  await two.emit('Hello', { from: 'two', level: 1 })
  const [atOne, atTwo] = [refusals(one), refusals(two)]
  const [addr] = await one.listen(0)
  const before = [one.log.vector(), two.log.vector()]
  const err = await two.connect(addr).then(() => undefined, (e: Error & { code?: string }) => e)
  assert.is(err?.code, 'ERR_NO_SESSION')
  await until(() => atOne.length > 0 && atTwo.length > 0, 10_000, 'a refusal on each side')
  for (const [who, seen, text] of [['one', atOne, 'Hello.level: required field 4 (int32) added'], ['two', atTwo, 'Hello.level: required field 4 removed']] as const) {
    const r = seen[0]
    assert.is(r.code, 'SCHEMA', who)
    assert.is(r.remote, false, `${who} refused, and says why`)
    assert.ok(r.reason.includes(text), `${who}: ${r.reason}`)
  }
  assert.equal([one.log.vector(), two.log.vector()], before, 'neither log is touched')
  assert.is(one.log.length, 2, 'its Hello and its EventPeer')
  assert.is(two.log.length, 1)
  assert.equal(one.peers(), [])
})

test('a v1 node between two v2 nodes stores and relays the events it does not know, untouched: v2 listeners get the new event and field, v1 readers see them flagged, verify() passes', async () => {
  const middle = emitter(v1)
  const [first, last] = [emitter(v2), emitter(v2)]
  const seen = [middle, first, last].map(refusals)
  // only the middle listens: the others reach each other through it alone
  const [addr] = await middle.listen(0)
  await first.connect(addr)
  await last.connect(addr)
  const hellos = collect(last, 'Hello', 1)
  const farewells = collect(last, 'Farewell', 1)
  const atMiddle = collect(middle, 'Hello', 1)
  const middleFarewells: unknown[] = []
  middle.on('Farewell', m => { middleFarewells.push(m) })
  await first.emit('Hello', { from: 'first', mood: 'curious' })
  await first.emit('Farewell', { from: 'first', after: 2 })
  assert.equal(await hellos, [{ from: 'first', message: '', mood: 'curious' }])
  assert.equal(await farewells, [{ from: 'first', after: 2 }])
  assert.equal(await atMiddle, [{ from: 'first', message: '' }], 'v1 reads the fields it knows')
  assert.equal(last.peers().map(p => p.id), [middle.peerId], 'the last node is linked to the middle only')
  assert.equal(first.peers().map(p => p.id), [middle.peerId])
  // the middle holds the Farewell as an unknown event, byte for byte
  const mine = (await all(middle)).filter(ev => ev.author === first.id)
  assert.equal(mine.map(ev => [ev.name, ev.unknown === true]), [['Hello', false], ['Farewell', true]])
  const theirs = (await all(last)).filter(ev => ev.author === first.id)
  assert.equal(mine.map(ev => ev.id), theirs.map(ev => ev.id), 'the same ids: the same bytes')
  const raw = mine[1]
  assert.ok(raw.unknown === true)
  assert.equal(last.schema.decode('Farewell', raw.payload), { from: 'first', after: 2 })
  assert.equal(middleFarewells, [], 'listeners of the unknown name get nothing')
  assert.ok((await middle.verify()).ok)
  // and the other way: the last node's new event crosses the middle too
  const back = collect(first, 'Farewell', 1)
  await last.emit('Farewell', { from: 'last', after: 3 })
  assert.equal(await back, [{ from: 'last', after: 3 }])
  assert.equal(seen, [[], [], []], 'nobody refused anybody')
})

test.run()
