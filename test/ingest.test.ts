// Property test of the ingest path: several sync sessions, each with its own
// Ingester on one receiving log, deliver overlapping feeds of the same
// multi-writer history at once. Whatever the interleaving, no valid entry may
// be refused and every entry must be stored exactly once.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { Log } from '../src/log/log.js'
import { Ingester, type IngestResult } from '../src/log/ingest.js'
import { decodeEntry, toHex } from '../src/log/entry.js'
import type { InvalidEntryError } from '../src/errors.js'
import { Author } from './sync/author.js'

const SEED = Number(process.env.HYPEREMITTER_SEED ?? 20240611)
const RUNS = Number(process.env.HYPEREMITTER_RUNS ?? 80)
// per property, shrinking included: a failure is reported with the smallest
// counterexample found by then; a slow machine runs fewer cases, not forever
const TIME_LIMIT = 15_000

// ---- yields: the only source of interleaving (no wall-clock sleeps) ----

/** true: a macrotask (setImmediate); false: a microtask */
type Yields = boolean[]

async function pause (yields: Yields): Promise<void> {
  for (const macro of yields) {
    if (macro) await new Promise<void>(resolve => setImmediate(resolve))
    else await Promise.resolve()
  }
}

const yieldsArb = (max: number): fc.Arbitrary<Yields> => fc.array(fc.boolean(), { maxLength: max })

// ---- the scenario ----

interface Round {
  /** per writer slot: the sizes of the concurrent groups it appends, one after another */
  groups: number[][]
  /** [from, to, limit]: `to` stores up to `limit` of the entries of `from` it lacks */
  exchanges: Array<[number, number, number]>
}

interface Step {
  /** entries sent in this batch, past the resent ones */
  size: number
  /** how many entries before the position are sent again */
  back: number
  /** accept now and store on the session's store chain (as a session does), or `add` */
  split: boolean
  before: Yields
  /** yields on the store chain before the store pass of this batch */
  inside: Yields
}

interface SessionPlan {
  start: Yields
  steps: Step[]
}

interface Scenario {
  writers: number
  rounds: Round[]
  /** per relay: [writer, limit] merge steps, cycled */
  relays: Array<Array<[number, number]>>
  sessions: SessionPlan[]
  /** the sessions' ingesters share a pool, as a node's do (a pass stores what the others hold too) */
  pool: boolean
}

const MAX_WRITERS = 4
const MAX_SESSIONS = 4

const roundArb: fc.Arbitrary<Round> = fc.record({
  groups: fc.array(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 2 }), { minLength: MAX_WRITERS, maxLength: MAX_WRITERS }),
  exchanges: fc.array(fc.tuple(fc.nat(MAX_WRITERS - 1), fc.nat(MAX_WRITERS - 1), fc.integer({ min: 1, max: 40 })), { maxLength: 6 })
})

const stepArb: fc.Arbitrary<Step> = fc.record({
  size: fc.integer({ min: 1, max: 12 }),
  back: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10 })),
  split: fc.boolean(),
  before: yieldsArb(4),
  inside: yieldsArb(4)
})

const sessionArb: fc.Arbitrary<SessionPlan> = fc.record({
  // some sessions start late
  start: fc.oneof(yieldsArb(2), yieldsArb(40)),
  steps: fc.array(stepArb, { minLength: 1, maxLength: 8 })
})

function scenarioArb (minSessions: number, maxSessions: number): fc.Arbitrary<Scenario> {
  return fc.record({
    writers: fc.integer({ min: 2, max: MAX_WRITERS }),
    rounds: fc.array(roundArb, { minLength: 2, maxLength: 4 }),
    relays: fc.array(fc.array(fc.tuple(fc.nat(MAX_WRITERS - 1), fc.integer({ min: 1, max: 16 })), { minLength: 1, maxLength: 8 }), { minLength: MAX_SESSIONS, maxLength: MAX_SESSIONS }),
    sessions: fc.array(sessionArb, { minLength: minSessions, maxLength: maxSessions }),
    pool: fc.boolean()
  })
}

// ---- logs ----

/** A log on a fresh MemoryLevel whose key is fixed by `n`: the same authors every run. */
async function openLog (n: number): Promise<Log> {
  const db = new MemoryLevel()
  const meta = db.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await meta.put('key' as never, Buffer.alloc(32, n) as never)
  return Log.open(db)
}

/** Stores in `to` up to `limit` of the entries of `from` it lacks, in `from`'s feed order, as a sync peer does. */
async function copy (from: Log, to: Log, limit = Infinity): Promise<number> {
  const missing = await from.missing(to.vector(), Math.min(limit, from.length))
  if (missing.length === 0) return 0
  const bytes = await from.readBytes(missing.map(m => m.seq))
  const stored = await to.store(bytes.map(b => decodeEntry(new Uint8Array(b))))
  return stored.length
}

let payloadCount = 0
const payload = (): Uint8Array => Buffer.from(`event ${++payloadCount}`)

/** The writers' history: concurrent groups, with exchanges between rounds so that later entries link to other writers' heads. */
async function history (writers: Log[], rounds: Round[]): Promise<void> {
  for (const round of rounds) {
    await Promise.all(writers.map(async (w, i) => {
      for (const size of round.groups[i]) {
        await Promise.all(Array.from({ length: size }, () => w.append('Test', payload())))
      }
    }))
    for (const [a, b, limit] of round.exchanges) {
      const from = writers[a % writers.length]
      const to = writers[b % writers.length]
      if (from !== to) await copy(from, to, limit)
    }
  }
}

/** A relay that merges every writer's entries in the order its steps give. */
async function relay (n: number, writers: Log[], steps: Array<[number, number]>, total: number): Promise<Log> {
  const log = await openLog(n)
  for (let i = 0; log.length < total; i++) {
    if (i < steps.length * 4) {
      const [w, limit] = steps[i % steps.length]
      await copy(writers[w % writers.length], log, limit)
    } else {
      for (const w of writers) await copy(w, log)
    }
  }
  return log
}

/** Entries as views into one buffer, as they come in a frame. */
function frame (entries: Uint8Array[]): Uint8Array[] {
  const all = Buffer.concat(entries)
  const out: Uint8Array[] = []
  let at = 0
  for (const e of entries) {
    out.push(new Uint8Array(all.buffer, all.byteOffset + at, e.byteLength))
    at += e.byteLength
  }
  return out
}

// ---- the sessions ----

class Session {
  readonly ingester: Ingester
  /** the store passes, one after another, as a session's store chain runs them */
  storing: Promise<void> = Promise.resolve()
  retrying = false
  readonly invalid: InvalidEntryError[]

  constructor (log: Log, invalid: InvalidEntryError[], pool?: Set<Ingester>) {
    this.ingester = new Ingester(log, { validate: () => {}, pool })
    this.invalid = invalid
  }

  record (res: Pick<IngestResult, 'invalid'>): void {
    this.invalid.push(...res.invalid)
  }

  chain (fn: () => Promise<void>): void {
    this.storing = this.storing.then(fn)
  }

  async run (feed: Uint8Array[], plan: SessionPlan): Promise<void> {
    await pause(plan.start)
    // a batch is accepted at most one store pass ahead of the store, as a session does
    let storingBefore: Promise<void> = Promise.resolve()
    let pos = 0
    for (let i = 0; pos < feed.length; i++) {
      const step = plan.steps[i % plan.steps.length]
      const batch = frame(feed.slice(Math.max(0, pos - step.back), pos + step.size))
      pos += step.size
      await pause(step.before)
      if (step.split) {
        await storingBefore
        const res = this.ingester.accept(batch)
        this.record(res)
        storingBefore = this.storing
        this.chain(async () => {
          await pause(step.inside)
          this.record(await this.ingester.storeReady(res.upTo, true))
        })
      } else {
        await this.storing
        this.record(await this.ingester.add(batch))
      }
    }
    await this.storing
    this.record(await this.ingester.storeReady())
  }
}

interface Outcome {
  problems: string[]
}

async function check (s: Scenario): Promise<Outcome> {
  const problems: string[] = []
  const writers = await Promise.all(Array.from({ length: s.writers }, (_, i) => openLog(i + 1)))
  const relays: Log[] = []
  let receiver: Log | undefined
  try {
    await history(writers, s.rounds)
    // the union: each writer's own chain, all of it
    const expected = new Map(writers.map(w => [toHex(w.identity.publicKey), w.authorSeq(toHex(w.identity.publicKey))]))
    const total = [...expected.values()].reduce((a, b) => a + b, 0)
    for (let i = 0; i < s.sessions.length; i++) relays.push(await relay(100 + i, writers, s.relays[i], total))
    const feeds = await Promise.all(relays.map(async r => (await r.read(1, r.length)).map(e => e.bytes)))
    const ids = new Set((await relays[0].read(1, total)).map(e => toHex(e.id)))
    assert.is(ids.size, total, 'the relay holds every entry once')

    receiver = await openLog(200)
    const invalid: InvalidEntryError[] = []
    const pool = s.pool ? new Set<Ingester>() : undefined
    const sessions = s.sessions.map(() => new Session(receiver!, invalid, pool))
    // a session tries its held entries again after another one stores, as a session does on commit
    receiver.onCommit(() => {
      for (const session of sessions) {
        if (session.ingester.verified === 0 || session.retrying) continue
        session.retrying = true
        setImmediate(() => {
          session.retrying = false
          session.chain(async () => { session.record(await session.ingester.storeReady(Infinity, false)) })
        })
      }
    })
    await Promise.all(sessions.map((session, i) => session.run(feeds[i], s.sessions[i])))
    // let the retries settle
    while (true) {
      const chains = sessions.map(x => x.storing)
      await Promise.all(chains)
      await new Promise<void>(resolve => setImmediate(resolve))
      if (sessions.every((x, i) => x.storing === chains[i] && !x.retrying)) break
    }
    // everything is delivered: one more store pass per session finds nothing left to wait for
    for (const session of sessions) session.record(await session.ingester.storeReady())

    if (invalid.length > 0) problems.push(`a valid entry was refused: ${[...new Set(invalid.map(e => e.message))].join(' | ')}`)
    const stored = await receiver.read(1, total + 10)
    const storedIds = stored.map(e => toHex(e.id))
    if (receiver.length !== total || stored.length !== total) problems.push(`the receiver holds ${receiver.length} entries (${stored.length} in its feed), not ${total}`)
    if (new Set(storedIds).size !== storedIds.length) problems.push('an entry is stored twice')
    const absent = [...ids].filter(id => !storedIds.includes(id)).length
    if (absent > 0) problems.push(`${absent} entries are not stored`)
    const vector = receiver.vector()
    if (vector.size !== expected.size || [...expected].some(([a, seq]) => vector.get(a) !== seq)) {
      problems.push(`the receiver's vector ${JSON.stringify([...vector.values()])} is not the writers' ${JSON.stringify([...expected.values()])}`)
    }
    const report = await receiver.verify()
    if (!report.ok) problems.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`)
    const pending = sessions.map(x => x.ingester.pending)
    if (pending.some(p => p !== 0)) problems.push(`entries left pending per session: ${pending.join(', ')}`)
    for (const session of sessions) session.ingester.clear()
  } finally {
    await Promise.all([...writers, ...relays, ...(receiver == null ? [] : [receiver])].map(async l => { await l.close() }))
  }
  return { problems }
}

async function property (minSessions: number, maxSessions: number, runs: number): Promise<void> {
  await fc.assert(fc.asyncProperty(scenarioArb(minSessions, maxSessions), async s => {
    const { problems } = await check(s)
    if (problems.length > 0) throw new Error(problems.join('; '))
  }), { seed: SEED, numRuns: runs, includeErrorInReport: true, interruptAfterTimeLimit: TIME_LIMIT, markInterruptAsFailure: false })
}

const t = suite('ingest')

t('one session stores a multi-writer history exactly once, whatever the batches', async () => {
  await property(1, 1, Math.ceil(RUNS / 2))
})

t('concurrent sessions with overlapping feeds never refuse a valid entry and store each once', async () => {
  await property(2, MAX_SESSIONS, RUNS)
})

// Two writers that alternate, each entry linking to the other's last: a
// history one layer deep per entry. Sent as after a partition, each writer's
// entries over its own link, every entry of one session waits for one of the
// other's.
async function interleaved (layers: number): Promise<{ a: Log, b: Log, fromA: Uint8Array[], fromB: Uint8Array[] }> {
  const [a, b] = [await openLog(1), await openLog(2)]
  for (let i = 0; i < layers; i++) {
    await a.append('Test', payload())
    await copy(a, b)
    await b.append('Test', payload())
    await copy(b, a)
  }
  const own = async (log: Log): Promise<Uint8Array[]> => {
    const me = toHex(log.identity.publicKey)
    return (await log.read(1, log.length)).filter(e => toHex(e.entry.author) === me).map(e => e.bytes)
  }
  return { a, b, fromA: await own(a), fromB: await own(b) }
}

t('a store pass stores the entries other sessions of its pool hold that its own wait for, in one more round', async () => {
  const { a, b, fromA, fromB } = await interleaved(50)
  const receiver = await openLog(200)
  try {
    let commits = 0
    receiver.onCommit(() => { commits++ })
    const pool = new Set<Ingester>()
    const viaA = new Ingester(receiver, { validate: () => {}, pool })
    const viaB = new Ingester(receiver, { validate: () => {}, pool })
    viaA.accept(frame(fromA))
    viaB.accept(frame(fromB))
    assert.is(viaB.verified, 50)
    const res = await viaA.storeReady()
    assert.is(res.stored.length, 100, 'all of both histories')
    assert.is(commits, 2, "its own first entry (the only one ready alone), then all the rest in one commit")
    assert.is(res.invalid.length, 0)
    assert.is(receiver.length, 100)
    assert.is(viaB.pending, 0, "what viaB held is stored, and forgotten there")
    const later = await viaB.storeReady()
    assert.is(later.stored.length, 0)
    assert.equal([...later.lent], [toHex(b.identity.publicKey)], 'viaB is told whose entries were taken from it')
    assert.equal([...res.lent], [])
    assert.ok((await receiver.verify()).ok)
    viaA.clear()
    viaB.clear()
    assert.is(pool.size, 0, 'a cleared ingester leaves the pool')
  } finally {
    await Promise.all([a, b, receiver].map(async l => { await l.close() }))
  }
})

t('without a pool, each session waits for the other, a layer at a time', async () => {
  const { a, b, fromA, fromB } = await interleaved(5)
  const receiver = await openLog(200)
  try {
    const viaA = new Ingester(receiver, { validate: () => {} })
    const viaB = new Ingester(receiver, { validate: () => {} })
    viaA.accept(frame(fromA))
    viaB.accept(frame(fromB))
    let passes = 0
    while (receiver.length < 10) {
      assert.ok((await viaA.storeReady()).stored.length + (await viaB.storeReady()).stored.length > 0, 'a pass of one of them stores something')
      passes++
    }
    assert.is(passes, 5, 'one layer of each per pair of passes')
  } finally {
    await Promise.all([a, b, receiver].map(async l => { await l.close() }))
  }
})

t('an entry another session holds that fails the clock check is left to that session to judge', async () => {
  const receiver = await openLog(200)
  try {
    const pool = new Set<Ingester>()
    const viaA = new Ingester(receiver, { validate: () => {}, pool })
    const viaB = new Ingester(receiver, { validate: () => {}, pool })
    viaA.accept([new Author().next('Test', payload()).bytes])
    // well formed and signed, but clock 5 on a first entry
    viaB.accept([new Author().next('Test', payload(), { fields: { clock: 5 } }).bytes])
    const res = await viaA.storeReady()
    assert.is(res.stored.length, 1)
    assert.is(res.invalid.length, 0, 'nothing is blamed on viaA')
    assert.is(viaB.pending, 1)
    const own = await viaB.storeReady()
    assert.is(own.invalid.length, 1, "viaB's pass refuses it")
    assert.is(viaB.pending, 0)
  } finally {
    await receiver.close()
  }
})

t.run()
