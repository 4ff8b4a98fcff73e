// Retention between real nodes over TCP on 127.0.0.1: a node with a floor
// serves catch-up from its floor, and every node's log verifies.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { HyperEmitter, type FloorNotice, type HyperEmitterOptions } from '../src/index.js'
import { fixture, tempDir, until, Cluster } from './helpers.js'

const messages = await fixture('messages.proto')
const cluster = new Cluster()
const dirs: Array<() => Promise<void>> = []

test.after.each(async () => {
  await cluster.closeAll()
  for (const cleanup of dirs.splice(0)) await cleanup()
})

async function dbPath (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return join(dir.path, 'db')
}

function emitter (db: string, options: HyperEmitterOptions = {}): HyperEmitter {
  return cluster.add(new HyperEmitter(db, messages, { reconnectTimeout: 100, ...options }))
}

async function burst (e: HyperEmitter, n: number, base = 0): Promise<void> {
  await Promise.all(Array.from({ length: n }, async (_, i) => e.emit('Integer', { value: base + i })))
}

test('3 nodes: a new node catches up from a node with a floor; verify passes on all', async () => {
  const one = emitter(await dbPath(), { retention: { maxEvents: 300 } })
  const two = emitter(await dbPath())
  const [addr] = await one.listen(0)
  await two.connect(addr)
  // both write, so that one's entries link two's
  for (let round = 0; round < 4; round++) {
    await burst(one, 300, round * 1000)
    await burst(two, 100, round * 1000 + 500)
  }
  await two.synced()
  await until(() => one.log.authorSeq(two.id) === two.log.authorSeq(two.id), 20_000, 'one holds two\'s entries')
  // over maxEvents + slack (1000): compacted down to maxEvents
  await until(() => one.log.length - one.log.floor === 300, 20_000, 'one compacts')
  // one's own last entries are kept too (linking two's), and dropped to the bound at once
  await burst(one, 100, 8000)
  await one.log.compact({ maxEvents: 300 })
  assert.is(one.log.length - one.log.floor, 300)
  assert.is(two.log.floor, 0, 'two keeps everything')
  const three = emitter(await dbPath())
  await three.connect(addr)
  await three.synced(one.peerId)
  // every author of whom one keeps entries (one of whom all are dropped, and that nothing kept links to, is not sent)
  const kept = (): Array<[string, number]> => [...one.log.vector()].filter(([a, s]) => (one.log.authorFloor(a)?.seq ?? 0) <= s)
  assert.is(kept().length, 2)
  await until(() => kept().every(([a, s]) => three.log.authorSeq(a) >= s), 20_000, 'three holds what one holds').catch(err => {
    const show = (e: HyperEmitter): string => JSON.stringify([...e.log.vector()].map(([a, s]) => [a.slice(0, 6), s, e.log.authorFloor(a)?.seq]))
    throw new Error(`${(err as Error).message}: one ${show(one)}, two ${show(two)}, three ${show(three)}; ids ${one.id.slice(0, 6)} ${two.id.slice(0, 6)} ${three.id.slice(0, 6)}`)
  })
  assert.is(three.log.length, 300, 'three has what one kept')
  assert.ok(three.log.authorFloor(one.id) != null && three.log.authorFloor(two.id) != null, 'three took one\'s floors')
  for (const [i, e] of [one, two, three].entries()) {
    const report = await e.verify()
    assert.ok(report.ok, `node ${i + 1}: ${JSON.stringify(report.problems.slice(0, 3))}`)
  }
  // live events go on to everyone
  await burst(one, 10, 9000)
  await burst(three, 10, 9100)
  await until(() => two.log.authorSeq(three.id) === 10 && three.log.authorSeq(one.id) === one.log.authorSeq(one.id), 20_000, 'live events')
  for (const e of [one, two, three]) assert.ok((await e.verify()).ok)
})

test('retention across restarts of an emitter: the floor stays; a reader from the beginning resumes at the floor and says so', async () => {
  const path = await dbPath()
  let e = emitter(path, { retention: { maxEvents: 100 } })
  for (let i = 0; i < 12; i++) await burst(e, 100, i * 100)
  await until(() => e.log.length - e.log.floor === 100, 20_000, 'compaction')
  const floor = e.log.floor
  await e.close()
  e = emitter(path, { retention: { maxEvents: 100 } })
  await e.ready()
  assert.is(e.log.floor, floor)
  assert.ok((await e.verify()).ok)
  const notices: FloorNotice[] = []
  e.status.on('read:floor', (n: FloorNotice) => notices.push(n))
  const seen: number[] = []
  for await (const ev of e.events({ from: 'beginning', live: false, cursor: 'c1' })) seen.push(ev.seq)
  assert.is(seen.length, 100)
  assert.is(seen[0], floor + 1)
  assert.equal(notices, [{ cursor: 'c1', from: 1, to: floor }])
  // a reader by name too
  const named: FloorNotice[] = []
  let count = 0
  for await (const ev of e.events({ names: ['Integer'], from: 'beginning', live: false, onFloor: n => named.push(n) })) if (ev.seq > floor) count++
  assert.is(count, 100)
  assert.equal(named, [{ from: 1, to: floor }])
  // a cursor that fell behind the floor resumes at it too
  await burst(e, 1200, 5000)
  await until(() => e.log.length - e.log.floor === 100, 20_000, 'compaction')
  const again: FloorNotice[] = []
  const reader = e.events({ cursor: 'c1', live: false, onFloor: n => again.push(n) })
  const first = await reader.next()
  assert.is(first.done, false)
  if (first.done !== true) assert.is(first.value.seq, e.log.floor + 1)
  await reader.return(undefined)
  assert.equal(again, [{ cursor: 'c1', from: 1201, to: e.log.floor }])
})

test.run()
