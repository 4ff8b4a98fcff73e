// Issue 5: crashes and storage faults.
//
// 1. A child process emits as fast as it can on one classic-level dir and
//    reports every emit that resolved; it is SIGKILLed at a random moment, 20
//    times over the same db. Each restart verifies the log and checks that
//    every acknowledged value is there. No acknowledged event may be lost.
// 2. The same while the child catches up from a listening peer (a process of
//    its own), 5 kills; the final log equals the peer's.
// 3. A db whose batch() fails (a simulated full disk, also during a catch-up),
//    a real full disk (a tmpfs mount) and a read-only mount: emits reject with
//    StorageError, nothing is half written, acknowledged emits survive.
//    Without mount permission the tmpfs parts are skipped with a notice.
// 4. verify() while commits happen reports no false problems.
//
// HYPEREMITTER_CRASH_SEED=n replays the random kill moments of a run;
// HYPEREMITTER_CRASH_ROUNDS=n changes the number of kills of test 1 (20).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { writeFileSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter, Log, Schema, StorageError, type Emitted } from '../src/index.js'
import { fixture, tempDir, until } from './helpers.js'
import { Child, children } from './child.js'

const schema = await fixture('messages.proto')
const codec = new Schema(schema)

const SEED = Number(process.env.HYPEREMITTER_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31))
console.log(`# crash.test: seed ${SEED} (HYPEREMITTER_CRASH_SEED=${SEED} replays the kill moments)`)
// mulberry32: a small seeded PRNG
let state = SEED >>> 0
function random (): number {
  state = (state + 0x6D2B79F5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

/** Faults tried, for the closing table. */
const table: Array<{ fault: string, times: number, stored: number, refused: number, survived: number, lost: number, note?: string }> = []




async function killAll (): Promise<void> {
  await Promise.all([...children].map(async c => { await c.kill() }))
}

interface Stored { pos: number, id: string, author: string, authorSeq: number, name: string, value: number | undefined }

/** Every entry of the log (an emitter's, or a bare Log), in feed order. */
async function snapshot (e: HyperEmitter | Log): Promise<Stored[]> {
  const log = e instanceof Log ? e : e.log
  const out: Stored[] = []
  for (let from = 1; from <= log.length; from += 4096) {
    for (const le of await log.read(from, 4096)) {
      out.push({
        pos: le.seq,
        id: Buffer.from(le.id).toString('hex'),
        author: Buffer.from(le.entry.author).toString('hex'),
        authorSeq: le.entry.seq,
        name: le.entry.name,
        value: le.entry.name === 'Integer' ? (codec.decode('Integer', le.entry.payload) as { value: number }).value : undefined
      })
    }
  }
  return out
}

/** Feed positions 1..n, no duplicate ids, each author's seqs 1..k once. */
function assertWellFormed (entries: Stored[], what: string): void {
  entries.forEach((s, i) => { if (s.pos !== i + 1) assert.unreachable(`${what}: feed position ${s.pos} at index ${i}`) })
  assert.is(new Set(entries.map(s => s.id)).size, entries.length, `${what}: duplicate ids`)
  const seqs = new Map<string, number[]>()
  for (const s of entries) {
    const list = seqs.get(s.author)
    if (list == null) seqs.set(s.author, [s.authorSeq])
    else list.push(s.authorSeq)
  }
  for (const [author, list] of seqs) {
    const sorted = [...list].sort((a, b) => a - b)
    sorted.forEach((n, i) => { if (n !== i + 1) assert.unreachable(`${what}: author ${author.slice(0, 8)} has seq ${n} at rank ${i + 1} (gap or duplicate)`) })
  }
}

test.after.each(async () => { await killAll() })

test('SIGKILL at random moments while emitting: no acknowledged event lost, verify ok every time', async () => {
  const ROUNDS = Number(process.env.HYPEREMITTER_CRASH_ROUNDS ?? 20)
  const dir = await tempDir()
  const db = join(dir.path, 'db')
  const acked = new Map<number, string>()
  const started = Date.now()
  const rounds: Array<{ round: number, start: number, acked: number, delay: number, open: number, verify: number, ms: number }> = []
  let prev = { start: 0, acked: 0 }
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const t0 = Date.now()
      const check = join(dir.path, `acked-${round - 1}.json`)
      // one round in four commits without fsync (the default), the others
      // with it: a SIGKILL must lose neither, the OS has the data once write()
      // returned. (fsync rounds store fewer entries, and verify() at every
      // restart walks the whole log: this and the short kill delays keep the
      // test near a minute.)
      const fsync = round % 4 !== 0
      const child = new Child(`round ${round}`, { db, verify: true, fsync, check: round > 0 ? check : undefined, emit: { base: (round + 1) * 10_000_000, concurrency: 64 } })
      const open = await child.waitFor('open', 20_000)
      const verify = await child.waitFor('verify', 30_000)
      assert.ok(verify.ok, `round ${round}: verify failed after the kill: ${JSON.stringify(verify.problems)}`)
      const length = open.length as number
      // every acknowledged emit of the round before is there, and nothing went away
      assert.ok(length >= prev.start + prev.acked, `round ${round}: log length ${length} < ${prev.start} + ${prev.acked} acknowledged`)
      if (round > 0) {
        const c = await child.waitFor('check', 30_000)
        assert.is(c.missingCount, 0, `round ${round}: acknowledged values lost: ${JSON.stringify(c.missing)}`)
        assert.is(c.wrongPlaceCount, 0, `round ${round}: acknowledged values misplaced: ${JSON.stringify(c.wrongPlace)}`)
        assert.is(c.duplicates, 0, `round ${round}: acknowledged values stored twice`)
      }
      await child.waitFor('emitting', 10_000)
      // the random moment is counted from the first acknowledged emit: on a
      // busy machine the first group may take longer than the whole delay
      await child.waitFor('a', 10_000)
      const delay = 20 + Math.floor(random() * 181)
      await sleep(delay)
      await child.kill()
      assert.is(child.signal, 'SIGKILL', child.transcript)
      assert.not.ok(child.find('emit-error'), `an emit failed: ${child.transcript}`)
      assert.is(child.junk.length, 0, `unparsable complete lines: ${child.junk.slice(0, 3).join(' | ')}`)
      const mine = child.lines.filter(l => l.t === 'a').map(l => [l.v as number, l.id as string] as [number, string])
      assert.ok(mine.length > 0, `round ${round}: nothing acknowledged\n${child.transcript}`)
      for (const [v, id] of mine) {
        assert.not.ok(acked.has(v), `value ${v} acknowledged twice`)
        acked.set(v, id)
      }
      writeFileSync(join(dir.path, `acked-${round}.json`), JSON.stringify({ from: length, acked: mine }))
      rounds.push({ round, start: length, acked: mine.length, delay, open: open.ms as number, verify: verify.ms as number, ms: Date.now() - t0 })
      prev = { start: length, acked: mine.length }
    }
    // the last round is checked here: every value acknowledged in any round
    const e = new HyperEmitter(db, schema)
    try {
      await e.ready()
      const v = await e.verify()
      assert.ok(v.ok, `verify after the last kill: ${JSON.stringify(v.problems.slice(0, 5))}`)
      assert.ok(e.log.length >= prev.start + prev.acked, `final length ${e.log.length} < ${prev.start} + ${prev.acked}`)
      const entries = await snapshot(e)
      assertWellFormed(entries, 'the crashed db')
      const byValue = new Map<number, string[]>()
      for (const s of entries) {
        if (s.value == null) continue
        const ids = byValue.get(s.value)
        if (ids == null) byValue.set(s.value, [s.id])
        else ids.push(s.id)
      }
      const lost: number[] = []
      for (const [value, id] of acked) {
        const ids = byValue.get(value)
        if (ids == null) lost.push(value)
        else assert.equal(ids, [id], `value ${value}: stored as ${ids.join()} but acknowledged as ${id}`)
      }
      assert.equal(lost.slice(0, 20), [], `${lost.length} acknowledged values lost`)
      // the values stored are the ones emitted: no value written twice
      for (const [value, ids] of byValue) assert.is(ids.length, 1, `value ${value} stored ${ids.length} times`)
      // and the db keeps working
      const r = await e.emit('Integer', { value: -1 })
      assert.is(r.seq, entries.length + 1)
      table.push({ fault: `SIGKILL while emitting (64 in flight, classic-level; ${Math.ceil(ROUNDS / 4)} rounds default, the rest fsync)`, times: ROUNDS, stored: byValue.size, refused: 0, survived: acked.size, lost: lost.length, note: `${entries.length - acked.size} unacknowledged entries also stored` })
      console.log(`# SIGKILL x${ROUNDS}: ${acked.size} acknowledged, ${entries.length} stored, 0 lost, ${((Date.now() - started) / 1000).toFixed(1)} s; ` +
        `per round (start length/acked/kill delay/open ms/verify ms/round ms): ${rounds.map(r => `${r.start}/${r.acked}/${r.delay}/${r.open}/${r.verify}/${r.ms}`).join(' ')}`)
    } finally {
      await e.close()
    }
  } finally {
    await killAll()
    await dir.cleanup()
  }
})

test('SIGKILL while catching up from a peer (and emitting): verify ok after each restart, final log equals the peer\'s', async () => {
  const KILLS = 5
  const N = 30_000
  const dir = await tempDir()
  const db = join(dir.path, 'child')
  const peerDb = join(dir.path, 'peer')
  const acked = new Map<number, string>()
  const started = Date.now()
  const kills: string[] = []
  try {
    // the peer is a process of its own, so that this one, idle, kills on time
    const peer = new Child('peer', { db: peerDb, listen: true })
    const [addr] = (await peer.waitFor('ready', 20_000)).addrs as string[]
    peer.send({ cmd: 'burst', name: 'Integer', count: N, base: -1_000_000, tag: 'fill' })
    await peer.waitFor('emitted', 30_000, l => l.tag === 'fill')
    const fromPeer = N + 1 // and its EventPeer
    let prev = { start: 0, acked: 0, remote: 0 }
    for (let round = 0; round <= KILLS; round++) {
      const last = round === KILLS
      const check = join(dir.path, `acked-${round - 1}.json`)
      const child = new Child(`catch-up ${round}`, {
        db,
        // verified (and checked) as a bare Log before the emitter opens and
        // goes back online to its saved peer
        preverify: true,
        check: round > 0 ? check : undefined,
        connect: addr,
        progress: 1000,
        emit: last ? undefined : { base: (round + 1) * 10_000_000, concurrency: 16, pauseMs: 2 }
      })
      const verify = await child.waitFor('verify', 30_000)
      assert.ok(verify.ok, `round ${round}: verify failed after the kill: ${JSON.stringify(verify.problems)}`)
      const length = verify.length as number
      assert.ok(length >= prev.start + prev.acked, `round ${round}: log length ${length} < ${prev.start} + ${prev.acked} acknowledged`)
      if (round > 0) {
        const c = await child.waitFor('check', 30_000)
        assert.is(c.missingCount, 0, `round ${round}: acknowledged values lost: ${JSON.stringify(c.missing)}`)
        assert.is(c.wrongPlaceCount, 0, `round ${round}: acknowledged values misplaced: ${JSON.stringify(c.wrongPlace)}`)
      }
      const open = await child.waitFor('open', 20_000)
      if (!last) {
        // killed once it stored some of the peer's entries, not all: at a
        // random point of its share of what is left
        const share = (fromPeer - prev.remote) / (KILLS - round + 1)
        const target = prev.remote + Math.max(1, Math.floor(share * random()))
        await child.waitFor('p', 30_000, l => (l.remote as number) >= target)
        await child.kill()
        const syncedBefore = child.find('synced') != null
        assert.is(child.signal, 'SIGKILL', child.transcript)
        assert.not.ok(child.find('emit-error'), `an emit failed: ${child.transcript}`)
        const progress = child.lines.filter(l => l.t === 'p')
        const remote = progress[progress.length - 1].remote as number
        assert.not.ok(syncedBefore, `round ${round}: the child had caught up before the kill\n${child.lines.filter(l => l.t !== 'a').map(l => JSON.stringify(l)).join('\n')}`)
        assert.ok(remote < fromPeer, `round ${round}: had all ${fromPeer} entries of the peer`)
        const mine = child.lines.filter(l => l.t === 'a').map(l => [l.v as number, l.id as string] as [number, string])
        for (const [v, id] of mine) acked.set(v, id)
        writeFileSync(join(dir.path, `acked-${round}.json`), JSON.stringify({ from: length, acked: mine }))
        kills.push(`${length}+${mine.length}@${remote}`)
        prev = { start: length, acked: mine.length, remote }
      } else {
        assert.is(open.length, length)
        const synced = await child.waitFor('synced', 30_000)
        assert.is(synced.remote, fromPeer, 'all of the peer\'s entries')
        const total = synced.length as number
        // and its own entries reach the peer
        await until(async () => {
          const tag = String(Date.now())
          peer.send({ cmd: 'length', tag })
          return (await peer.waitFor('length', 5000, l => l.tag === tag)).length === total
        }, 20_000, `the peer to have the child's ${total} entries`)
        await Promise.all([child.stop(), peer.stop()])
        assert.is(child.exitCode, 0, child.transcript)
        assert.is(peer.exitCode, 0, peer.transcript)
      }
    }
    // both dbs, as bare logs: nothing goes online
    const [c, p] = [await Log.open(new ClassicLevel(db)), await Log.open(new ClassicLevel(peerDb))]
    try {
      const [vc, vp] = [await c.verify(), await p.verify()]
      assert.ok(vc.ok, `child verify: ${JSON.stringify(vc.problems.slice(0, 5))}`)
      assert.ok(vp.ok, `peer verify: ${JSON.stringify(vp.problems.slice(0, 5))}`)
      const [ec, ep] = [await snapshot(c), await snapshot(p)]
      assertWellFormed(ec, 'the child')
      assertWellFormed(ep, 'the peer')
      assert.is(ec.length, ep.length, 'same length')
      const idsP = new Set(ep.map(s => s.id))
      const notAtPeer = ec.filter(s => !idsP.has(s.id))
      assert.is(notAtPeer.length, 0, `${notAtPeer.length} entries of the child are not at the peer`)
      assert.equal(c.vector(), p.vector(), 'same version vectors')
      assert.equal(c.heads().map(h => Buffer.from(h).toString('hex')).sort(), p.heads().map(h => Buffer.from(h).toString('hex')).sort(), 'same heads')
      const byValue = new Map(ec.filter(s => s.value != null).map(s => [s.value!, s.id]))
      const lost = [...acked].filter(([v, id]) => byValue.get(v) !== id)
      assert.equal(lost.slice(0, 10), [], `${lost.length} acknowledged values lost`)
      table.push({ fault: 'SIGKILL while catching up from a peer process and emitting', times: KILLS, stored: ec.length, refused: 0, survived: acked.size, lost: lost.length, note: `${fromPeer} entries from the peer` })
      console.log(`# catch-up SIGKILL x${KILLS} (length at restart+acked@peer entries at kill): ${kills.join(' ')}; final ${ec.length} entries, ${acked.size} acknowledged, ${((Date.now() - started) / 1000).toFixed(1)} s`)
    } finally {
      await c.close()
      await p.close()
    }
  } finally {
    await killAll()
    await dir.cleanup()
  }
})

// A level db whose batch() rejects, writing nothing, while `failing` is set or
// after `failAfter` calls: a disk that is full or failing, for a while.
// (TypeScript wants a mixin's base constructor to take any[].)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Batching = new (...args: any[]) => { batch (...args: unknown[]): unknown }
function faulty<T extends Batching> (Base: T) {
  return class extends Base {
    failing = false
    failAfter = Infinity
    batches = 0
    override batch (...args: unknown[]): unknown {
      if (args.length > 0) {
        this.batches++
        if (this.failing || this.batches > this.failAfter) {
          return Promise.reject(Object.assign(new Error('No space left on device (simulated)'), { code: 'ENOSPC' }))
        }
      }
      return super.batch(...args)
    }
  }
}
const FaultyMemoryLevel = faulty(MemoryLevel)
const FaultyClassicLevel = faulty(ClassicLevel)

interface LogState { length: number, heads: string[], vector: Array<[string, number]> }
function stateOf (e: HyperEmitter): LogState {
  return { length: e.log.length, heads: e.log.heads().map(h => Buffer.from(h).toString('hex')).sort(), vector: [...e.log.vector()].sort() }
}

function assertStorageError (reason: unknown, what: string): void {
  const err = reason as { name?: string, code?: string, message?: string }
  assert.ok(reason instanceof StorageError, `${what}: not a StorageError: ${String(reason)}`)
  assert.is(err.name, 'StorageError', what)
  assert.is(err.code, 'ERR_STORAGE', what)
}

async function values (e: HyperEmitter): Promise<number[]> {
  return (await snapshot(e)).filter(s => s.value != null).map(s => s.value!)
}

for (const [level, make] of [
  ['memory-level', () => Promise.resolve({ db: new FaultyMemoryLevel(), path: undefined as string | undefined, cleanup: async () => {} })],
  ['classic-level without a write-ahead file', async () => {
    const dir = await tempDir()
    const path = join(dir.path, 'db')
    return { db: new FaultyClassicLevel(path), path, cleanup: dir.cleanup, wal: false as const }
  }]
] as const) {
  test(`${level}: a db whose batch() fails: emits reject with StorageError, the log is unchanged, later emits work, verify ok`, async () => {
    const { db, path, cleanup, wal } = await make() as Awaited<ReturnType<typeof make>> & { wal?: false }
    const e = new HyperEmitter(db, schema, { wal })
    const delivered: number[] = []
    let refused = 0
    try {
      await e.ready()
      e.on<{ value: number }>('Integer', m => { delivered.push(m.value) })
      for (let i = 0; i < 10; i++) await e.emit('Integer', { value: i })
      const before = stateOf(e)

      // the disk is full: a group of 64 concurrent emits, then single ones
      db.failing = true
      const group = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => e.emit('Integer', { value: 100 + i })))
      for (const r of group) {
        assert.is(r.status, 'rejected', 'an emit resolved on a failing db')
        assertStorageError((r as PromiseRejectedResult).reason, 'group emit')
      }
      for (let i = 0; i < 5; i++) {
        try {
          await e.emit('Integer', { value: 200 + i })
          assert.unreachable('an emit resolved on a failing db')
        } catch (err) {
          assertStorageError(err, 'single emit')
        }
      }
      refused += 69
      const cause = await e.emit('Integer', { value: 299 }).catch((err: Error) => err.cause as { code?: string })
      assert.is((cause as { code?: string }).code, 'ENOSPC', 'the db error is the cause')
      refused++
      assert.equal(stateOf(e), before, 'the in-memory log is unchanged')
      await sleep(20)
      assert.equal(delivered, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'listeners got no refused event')
      assert.equal(await values(e), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
      assert.ok((await e.verify()).ok)

      // the fault clears: emits work, and take the next seqs
      db.failing = false
      const after: Emitted[] = []
      for (let i = 0; i < 10; i++) after.push(await e.emit('Integer', { value: 300 + i }))
      assert.equal(after.map(r => r.seq), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20])

      // fails after 3 more batches, while groups of 16 are in flight
      db.failAfter = db.batches + 3
      const acked: number[] = []
      for (let g = 0; g < 8; g++) {
        const vs = Array.from({ length: 16 }, (_, i) => 1000 + g * 100 + i)
        const rs = await Promise.allSettled(vs.map(v => e.emit('Integer', { value: v })))
        rs.forEach((r, i) => {
          if (r.status === 'fulfilled') acked.push(vs[i])
          else { refused++; assertStorageError(r.reason, `group ${g}`) }
        })
      }
      assert.is(acked.length, 48, 'three groups stored before the fault')
      assert.is(e.log.length, 20 + 48)
      db.failAfter = Infinity
      for (let i = 0; i < 10; i++) await e.emit('Integer', { value: 5000 + i })
      const expected = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => 300 + i), ...acked, ...Array.from({ length: 10 }, (_, i) => 5000 + i)]
      const stored = expected.length
      assert.equal(await values(e), expected)
      await until(() => delivered.length === expected.length, 5000, 'delivery')
      assert.equal(delivered, expected, 'listeners got each stored event once, in order')
      const v = await e.verify()
      assert.ok(v.ok, JSON.stringify(v.problems.slice(0, 5)))
      assertWellFormed(await snapshot(e), 'after the faults')
      await e.close()
      if (path != null) {
        // what is on disk is what was acknowledged
        const again = new HyperEmitter(path, schema, { wal })
        try {
          await again.ready()
          assert.ok((await again.verify()).ok)
          assert.equal(await values(again), expected)
        } finally {
          await again.close()
        }
      }
      table.push({ fault: `batch() rejects (simulated full disk, ${level})`, times: 2, stored, refused, survived: stored, lost: 0 })
    } finally {
      await e.close()
      await cleanup()
    }
  })
}

// With a write-ahead file an emit is acknowledged once the file has it; level
// gets it later. When level then fails, what the file holds is kept, the log
// refuses writes until it is reopened, and the reopen stores it all.
test('classic-level: a level batch() that fails after the write-ahead file took the commit: later emits reject with StorageError, the reopen stores every acknowledged emit', async () => {
  const dir = await tempDir()
  const path = join(dir.path, 'db')
  const db = new FaultyClassicLevel(path)
  let e = new HyperEmitter(db, schema)
  try {
    await e.ready()
    const delivered: number[] = []
    e.on<{ value: number }>('Integer', m => { delivered.push(m.value) })
    for (let i = 0; i < 10; i++) await e.emit('Integer', { value: i })
    db.failing = true
    // acknowledged by the write-ahead file; level's batch of them fails
    const group = await Promise.all(Array.from({ length: 64 }, (_, i) => e.emit('Integer', { value: 100 + i })))
    assert.equal(group.map(r => r.seq), Array.from({ length: 64 }, (_, i) => 11 + i))
    let refused = 0
    // emits may be acknowledged until the fault is known
    const late: number[] = []
    await until(async () => {
      const v = 200 + late.length
      const r = await e.emit('Integer', { value: v }).then(() => undefined, (err: unknown) => err)
      if (r == null) { late.push(v); return false }
      assertStorageError(r, 'emit after the level fault')
      refused++
      return true
    }, 5000, 'an emit to be refused after the level fault')
    for (let i = 0; i < 5; i++) {
      const err = await e.emit('Integer', { value: 300 + i }).then(() => undefined, (err: unknown) => err)
      assertStorageError(err, 'emit while failed')
      assert.match((err as Error).message, /reopen/)
      refused++
    }
    assertStorageError(await e.log.read(11, 10).catch((err: unknown) => err), 'a read of what level lacks')
    await until(() => delivered.length >= 74 + late.length, 5000, 'delivery')
    await e.close()
    db.failing = false

    e = new HyperEmitter(path, schema)
    await e.ready()
    const v = await e.verify()
    assert.ok(v.ok, JSON.stringify(v.problems.slice(0, 5)))
    const expected = [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 64 }, (_, i) => 100 + i), ...late]
    const got = await values(e)
    assert.equal(got, expected, 'every acknowledged emit, in order, and no refused one')
    assert.equal(delivered, expected, 'the acknowledged emits were delivered')
    assertWellFormed(await snapshot(e), 'after the reopen')
    const r = await e.emit('Integer', { value: 5000 })
    assert.is(r.seq, e.log.length)
    table.push({ fault: 'level batch() rejects after the write-ahead file took the commit (simulated)', times: 1, stored: got.length, refused, survived: expected.length, lost: 0, note: 'writes refused until the reopen, which stores the file\'s commits' })
  } finally {
    await e.close()
    await dir.cleanup()
  }
})

test('a db whose batch() fails while catching up from a peer: the session ends, nothing half-stored, it resumes once the fault clears', async () => {
  const a = new HyperEmitter(new MemoryLevel(), schema, { reconnectTimeout: 100 })
  const db = new FaultyMemoryLevel()
  const b = new HyperEmitter(db, schema, { reconnectTimeout: 100 })
  try {
    await a.ready()
    for (let i = 0; i < 20_000; i += 1000) await Promise.all(Array.from({ length: 1000 }, (_, j) => a.emit('Integer', { value: i + j })))
    const [addr] = await a.listen(0, '127.0.0.1')
    await b.ready()
    // the first catch-up batch is stored, then the disk fails
    db.failAfter = db.batches + 1
    const ended = new Promise(resolve => b.status.once('peer:disconnect', resolve))
    await b.connect(addr.toString())
    await Promise.race([ended, sleep(10_000).then(() => { throw new Error('the session did not end on the storage fault') })])
    const stuck = b.log.length
    assert.ok(stuck > 0 && stuck < a.log.length, `stored ${stuck} of ${a.log.length} before the fault`)
    assert.ok((await b.verify()).ok, 'verify after the failed store')
    assertWellFormed(await snapshot(b), 'after the failed store')
    db.failAfter = Infinity
    await until(async () => {
      if (b.log.length === a.log.length) return true
      // redialled by itself, or dialled again here
      if (b.peers().length === 0) await b.connect(addr.toString()).catch(() => {})
      return b.log.length === a.log.length
    }, 20_000, `b to catch up after the fault (has ${b.log.length} of ${a.log.length})`)
    const [sa, sb] = [await snapshot(a), await snapshot(b)]
    assert.equal(sb.map(s => s.id), sa.map(s => s.id), 'the same entries in the same order')
    assert.ok((await b.verify()).ok)
    table.push({ fault: 'batch() rejects during catch-up (simulated)', times: 1, stored: sb.length, refused: a.log.length - stuck, survived: sb.length, lost: 0, note: `stuck at ${stuck}, resumed after the fault cleared` })
  } finally {
    await b.close()
    await a.close()
  }
})

test('verify() while emits are being stored reports the log as it is (no false problems)', async () => {
  const dir = await tempDir()
  const e = new HyperEmitter(join(dir.path, 'db'), schema)
  try {
    await e.ready()
    for (let i = 0; i < 4000; i += 500) await Promise.all(Array.from({ length: 500 }, (_, j) => e.emit('Integer', { value: i + j })))
    // emits are committed while verify() walks the feed (as a catch-up
    // does after a restart, when the emitter redials its saved peers)
    let walking = true
    let during = 0
    const emits = (async () => {
      while (walking) {
        await e.emit('Integer', { value: 10_000 + during })
        if (walking) during++
      }
    })()
    const v = await e.verify()
    walking = false
    await emits
    assert.ok(during > 0, 'no emit was committed during the walk')
    const quiet = await e.verify()
    assert.ok(quiet.ok, `a quiet verify fails too: ${JSON.stringify(quiet.problems.slice(0, 3))}`)
    assert.ok(v.ok, `verify() walked ${v.entries} entries while ${during} emits were committed, and reported: ${JSON.stringify(v.problems.slice(0, 3))}`)
  } finally {
    await e.close()
    await dir.cleanup()
  }
})

// A real full disk: a tmpfs mount of 4 MB, half taken by a filler file.
function mountTmpfs (dir: string, size: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
    return undefined
  } catch (err) {
    const e = err as { stderr?: Buffer, message?: string }
    return (e.stderr?.toString() ?? '').trim() || (e.message ?? String(err))
  }
}
function unmount (dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
  } catch {
    try { execFileSync('umount', ['-l', dir], { stdio: 'ignore', timeout: 10_000 }) } catch { /* not mounted */ }
  }
}

test('a real full disk (tmpfs): emits reject with StorageError; after space is freed and the db reopened, every acknowledged emit is there', async () => {
  const dir = await tempDir()
  const mnt = join(dir.path, 'mnt')
  mkdirSync(mnt)
  const why = mountTmpfs(mnt, '4m')
  if (why != null) {
    console.log(`# crash.test: SKIPPED the tmpfs full-disk part: mount is not permitted (${why})`)
    await dir.cleanup()
    return
  }
  const path = join(mnt, 'db')
  let e = new HyperEmitter(path, schema)
  const acked = new Set<number>()
  const refused = new Set<number>()
  const ackedAfterFree = new Set<number>()
  let next = 0
  try {
    writeFileSync(join(mnt, 'filler'), Buffer.alloc(2 * 1024 * 1024, 1))
    await e.ready()
    const round = async (): Promise<number> => {
      const vs = Array.from({ length: 64 }, () => next++)
      const rs = await Promise.allSettled(vs.map(v => e.emit('Hello', { from: String(v), message: 'x'.repeat(200) })))
      let bad = 0
      rs.forEach((r, i) => {
        if (r.status === 'fulfilled') acked.add(vs[i])
        else { bad++; refused.add(vs[i]); assertStorageError(r.reason, `emit ${vs[i]}`) }
      })
      return bad
    }
    while (await round() === 0) if (next > 200_000) assert.unreachable('the disk never filled')
    const full = e.log.length
    assert.ok(full > 0 && full === acked.size, `${full} stored before the disk filled, ${acked.size} acknowledged`)
    for (let i = 0; i < 3; i++) assert.is(await round(), 64, 'emits on a full disk are refused')
    assert.is(e.log.length, full, 'the log did not move while the disk was full')
    // space comes back: each emit is now either refused, or acknowledged and durable
    rmSync(join(mnt, 'filler'))
    if (process.env.DEBUG_TMPFS) console.log(execFileSync('sh', ['-c', `df ${mnt}; ls -la ${path}`]).toString())
    const before = new Set(acked)
    for (let i = 0; i < 5; i++) await round()
    for (const v of acked) if (!before.has(v)) ackedAfterFree.add(v)
    await e.close()
    if (process.env.DEBUG_TMPFS) console.log(execFileSync('sh', ['-c', `df ${mnt}; ls -la ${path}`]).toString())
    e = new HyperEmitter(path, schema)
    await e.ready()
    const v = await e.verify()
    assert.ok(v.ok, `verify after the reopen: ${JSON.stringify(v.problems.slice(0, 5))}`)
    const stored = new Map<number, number>()
    for await (const ev of e.events({ from: 'beginning', live: false })) {
      if (ev.name !== 'Hello') continue
      const n = Number((ev.payload as { from: string }).from)
      stored.set(n, (stored.get(n) ?? 0) + 1)
    }
    const lost = [...acked].filter(n => !stored.has(n))
    const back = [...refused].filter(n => stored.has(n))
    table.push({ fault: 'disk full (tmpfs 4 MB), then space freed, then reopen', times: 1, stored: stored.size, refused: refused.size, survived: acked.size - lost.length, lost: lost.length, note: `${ackedAfterFree.size} acknowledged after the space was freed, before the reopen` })
    console.log(`# tmpfs: full after ${full} entries; ${refused.size} refused; ${ackedAfterFree.size} acknowledged after freeing space; after reopen ${stored.size} stored, ${lost.length} acknowledged lost, ${back.length} refused but stored`)
    assert.equal(lost.slice(0, 10), [], `${lost.length} acknowledged emits lost after the reopen (${lost.filter(n => ackedAfterFree.has(n)).length} of them acknowledged after the space was freed)`)
    assert.equal(back.slice(0, 10), [], `${back.length} refused emits are stored after the reopen`)
    for (const [n, count] of stored) assert.is(count, 1, `${n} stored ${count} times`)
    // and it keeps working
    const r = await e.emit('Hello', { from: 'after the reopen' })
    assert.is(r.seq, e.log.length)
  } finally {
    await e.close().catch(() => {})
    unmount(mnt)
    await dir.cleanup()
  }
})

test('a read-only db (tmpfs remounted ro): ready() and emit reject with OpenError (cause StorageError); nothing changes', async () => {
  const dir = await tempDir()
  const mnt = join(dir.path, 'mnt')
  mkdirSync(mnt)
  const why = mountTmpfs(mnt, '16m')
  if (why != null) {
    console.log(`# crash.test: SKIPPED the read-only part: mount is not permitted (${why})`)
    await dir.cleanup()
    return
  }
  const path = join(mnt, 'db')
  try {
    let e = new HyperEmitter(path, schema)
    await e.ready()
    for (let i = 0; i < 10; i++) await e.emit('Integer', { value: i })
    await e.close()
    execFileSync('mount', ['-o', 'remount,ro', mnt], { stdio: 'ignore' })
    e = new HyperEmitter(path, schema)
    // a failed open is an OpenError, whose cause says why
    try {
      await e.ready()
      assert.unreachable('opened a db on a read-only file system')
    } catch (err) {
      assert.is((err as Error).name, 'OpenError', 'ready()')
      assertStorageError((err as Error).cause, 'ready()')
    }
    try {
      await e.emit('Integer', { value: 10 })
      assert.unreachable('emitted on a read-only file system')
    } catch (err) {
      assert.is((err as Error).name, 'OpenError', 'emit()')
      assertStorageError((err as Error).cause, 'emit()')
    }
    await e.close()
    execFileSync('mount', ['-o', 'remount,rw', mnt], { stdio: 'ignore' })
    e = new HyperEmitter(path, schema)
    try {
      await e.ready()
      assert.ok((await e.verify()).ok)
      assert.equal(await values(e), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    } finally {
      await e.close()
    }
    table.push({ fault: 'read-only file system (tmpfs remounted ro), open + emit', times: 1, stored: 10, refused: 2, survived: 10, lost: 0, note: 'ready() and emit() reject with OpenError, cause StorageError' })
  } finally {
    unmount(mnt)
    await dir.cleanup()
  }
})

test.after(() => {
  if (table.length === 0) return
  console.log('# faults tried: fault | times | stored | refused | survived | lost | note')
  for (const r of table) console.log(`#   ${r.fault} | ${r.times} | ${r.stored} | ${r.refused} | ${r.survived} | ${r.lost} | ${r.note ?? ''}`)
})

test.run()
