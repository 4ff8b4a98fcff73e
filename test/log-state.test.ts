// The log's in-memory state and the level ops of a commit, without a db: the
// sublevels are stood for by their names.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EMPTY, encodeEntry, entryId, readEntry, toHex, type DecodedEntry } from '../src/log/entry.js'
import { Identity } from '../src/log/identity.js'
import { AuthorState, blockStart, nameRunLast, feedBytes, feedId, feedRecordEnd, feedRecordFrom, packRecords, PACK_BYTES, PACK_ENTRIES, readIdValue, readSeq, unpackFeed } from '../src/log/keys.js'
import { StorageError } from '../src/errors.js'
import { single, type Op } from '../src/log/level.js'
import { CHECKPOINT_COMMITS, CHECKPOINT_ENTRIES, LogState, type Prepared } from '../src/log/state.js'
import type { LogEntry } from '../src/log/types.js'

type Name = 'feed' | 'ids' | 'heads' | 'runs' | 'meta' | 'names' | 'keys'
const LEVELS = { feed: 'feed', ids: 'ids', heads: 'heads', runs: 'runs', meta: 'meta', names: 'names', keys: 'keys' } as const

const AUTHORS = new Map(['a', 'b', 'c'].map((who, i) => [who, new Identity(new Uint8Array(32).fill(i + 1))]))

/**
 * Entries named by author letter and seq ('a2'); 'a2>b1' also links b1.
 * Each one's prev is its author's entry of the seq before, and its clock one
 * more than its parents'.
 */
class Entries {
  readonly #byName = new Map<string, DecodedEntry>()
  readonly #names = new Map<string, string>()

  get (spec: string): DecodedEntry {
    const [name, ...links] = spec.split('>')
    const known = this.#byName.get(name)
    if (known != null) return known
    const who = name[0]
    const seq = Number(name.slice(1))
    const author = AUTHORS.get(who)!
    const prev = seq > 1 ? this.#byName.get(`${who}${seq - 1}`) : undefined
    if (seq > 1 && prev == null) throw new Error(`${name} before ${who}${seq - 1}`)
    const linked = links.map(l => this.get(l))
    const clock = Math.max(prev?.entry.clock ?? 0, ...linked.map(l => l.entry.clock)) + 1
    const bytes = encodeEntry({ author: author.publicKey, seq, prev: prev?.id ?? EMPTY, links: linked.map(l => l.id), clock, timestamp: 1, name: 'Test', payload: new Uint8Array([seq]) })
    const d = { id: entryId(bytes), bytes, entry: readEntry(bytes) }
    this.#byName.set(name, d)
    this.#names.set(toHex(d.id), name)
    return d
  }

  name (id: Uint8Array): string {
    return this.#names.get(toHex(id)) ?? toHex(id)
  }

  /** Readable ops: `sublevel key -> value`, by entry and author names. */
  ops (ops: Array<Op<Name>>): string[] {
    return single(ops).map(o => {
      if (o.type === 'del') return `del ${o.sublevel} ${o.key.toString()}`
      const value = o.value!
      switch (o.sublevel) {
        case 'feed': {
          const start = readSeq(o.key)
          const names: string[] = []
          unpackFeed(start, value, (seq, item) => {
            const id = feedId(item)
            assert.equal(new Uint8Array(feedBytes(item, seq)), new Uint8Array(this.get(this.name(id)).bytes))
            names.push(this.name(id))
          })
          return `feed ${start}${names.length > 1 ? `..${start + names.length - 1}` : ''} -> ${names.join(' ')}`
        }
        case 'ids': {
          const { seq, clock } = readIdValue(value)
          assert.is(clock, this.get(this.name(o.key)).entry.clock)
          return `ids ${this.name(o.key)} -> ${seq}`
        }
        case 'runs': return `runs ${authorName(o.key.subarray(0, 32))}@${readSeq(o.key.subarray(32))} -> last ${readSeq(value)} at ${readSeq(value.subarray(8))}`
        case 'heads': return `heads ${ids(value).map(id => this.name(id)).sort().join(' ')}`
        case 'meta': return `meta ${o.key.toString()} -> ${readSeq(value)}`
        case 'names': {
          const length = o.key.readUInt16BE(0)
          const first = readSeq(o.key.subarray(2 + length))
          const last = nameRunLast(first, value)
          return `names ${o.key.toString('utf8', 2, 2 + length)}@${first}${last > first ? `..${last}` : ''}`
        }
        case 'keys': return `keys ${o.key.toString()} -> ${readSeq(value)}`
      }
      throw new Error(`op on ${String(o.sublevel)}`)
    })
  }
}

function authorName (key: Uint8Array): string {
  for (const [who, identity] of AUTHORS) if (toHex(identity.publicKey) === toHex(key)) return who
  return toHex(key)
}

function ids (value: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < value.byteLength; i += 34) out.push(value.subarray(i, i + 34))
  return out
}

/** Each author's state as 'seq N, run from seq N at feed N'. */
function authors (state: LogState<Name>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [hex, s] of state.authors) out[authorName(Buffer.from(hex, 'hex'))] = `seq ${s.seq}, run from seq ${s.runFirst} at feed ${s.runFeedStart}`
  return out
}

function heads (state: LogState<Name>, names: Entries): string[] {
  return [...state.heads.values()].map(h => names.name(h.id)).sort()
}

/** Commits each group of names in turn; returns the last commit's prepared form. */
function commit (state: LogState<Name>, names: Entries, commits: string[][]): Prepared<Name> | undefined {
  let last: Prepared<Name> | undefined
  for (const group of commits) {
    last = state.prepare(group.map(spec => names.get(spec)))
    state.apply(last)
  }
  return last
}

const cases: Array<{ name: string, commits: string[][], ops: string[], heads: string[], authors: Record<string, string>, clock: number }> = [
  {
    name: 'one author\'s chain: each entry and its feed position, no run record yet',
    commits: [['a1', 'a2', 'a3']],
    ops: ['ids a1 -> 1', 'ids a2 -> 2', 'ids a3 -> 3', 'feed 1..3 -> a1 a2 a3', 'names Test@1..3'],
    heads: ['a3'],
    authors: { a: 'seq 3, run from seq 1 at feed 1' },
    clock: 3
  },
  {
    name: 'a chain over several commits stays one run',
    commits: [['a1'], ['a2'], ['a3', 'a4']],
    ops: ['ids a3 -> 3', 'ids a4 -> 4', 'feed 3..4 -> a3 a4', 'names Test@3..4'],
    heads: ['a4'],
    authors: { a: 'seq 4, run from seq 1 at feed 1' },
    clock: 4
  },
  {
    name: 'two authors with no links: two heads',
    commits: [['a1'], ['b1', 'b2']],
    ops: ['ids b1 -> 2', 'ids b2 -> 3', 'feed 2..3 -> b1 b2', 'names Test@2..3'],
    heads: ['a1', 'b2'],
    authors: { a: 'seq 1, run from seq 1 at feed 1', b: 'seq 2, run from seq 1 at feed 2' },
    clock: 2
  },
  {
    name: 'a link merges heads, and the clock passes the linked one',
    commits: [['a1'], ['b1', 'b2', 'b3'], ['a2>b3']],
    ops: ['ids a2 -> 5', 'runs a@1 -> last 1 at 1', 'feed 5 -> a2', 'names Test@5'],
    heads: ['a2'],
    authors: { a: 'seq 2, run from seq 2 at feed 5', b: 'seq 3, run from seq 1 at feed 2' },
    clock: 4
  },
  {
    name: 'an author\'s run ended by another\'s entry is written when the next one starts',
    commits: [['a1', 'b1', 'a2']],
    ops: ['ids a1 -> 1', 'ids b1 -> 2', 'ids a2 -> 3', 'runs a@1 -> last 1 at 1', 'feed 1..3 -> a1 b1 a2', 'names Test@1..3'],
    heads: ['a2', 'b1'],
    authors: { a: 'seq 2, run from seq 2 at feed 3', b: 'seq 1, run from seq 1 at feed 2' },
    clock: 2
  },
  {
    name: 'a run ended in an earlier commit is written by the commit that starts the next',
    commits: [['a1', 'a2'], ['b1'], ['a3>b1']],
    ops: ['ids a3 -> 4', 'runs a@1 -> last 2 at 1', 'feed 4 -> a3', 'names Test@4'],
    heads: ['a3'],
    authors: { a: 'seq 3, run from seq 3 at feed 4', b: 'seq 1, run from seq 1 at feed 3' },
    clock: 3
  },
  {
    name: 'entries linking the tip of the same commit leave one head',
    commits: [['a1', 'b1>a1', 'c1>b1']],
    ops: ['ids a1 -> 1', 'ids b1 -> 2', 'ids c1 -> 3', 'feed 1..3 -> a1 b1 c1', 'names Test@1..3'],
    heads: ['c1'],
    authors: { a: 'seq 1, run from seq 1 at feed 1', b: 'seq 1, run from seq 1 at feed 2', c: 'seq 1, run from seq 1 at feed 3' },
    clock: 3
  }
]

for (const c of cases) {
  test(`commit: ${c.name}`, () => {
    const names = new Entries()
    const state = new LogState<Name>(LEVELS)
    const last = commit(state, names, c.commits)!
    assert.equal(names.ops(last.ops), c.ops)
    assert.is(last.checkpoint, false)
    const group = c.commits.at(-1)!
    const first = state.length - group.length + 1
    assert.equal(last.stored.map(e => `${e.seq} ${names.name(e.id)}`), group.map((spec, i) => `${first + i} ${spec.split('>')[0]}`))
    assert.is(state.length, c.commits.flat().length)
    assert.equal(heads(state, names), c.heads)
    assert.equal(authors(state), c.authors)
    assert.is(state.clock, c.clock)
  })

  test(`replay: ${c.name}`, () => {
    const names = new Entries()
    const committed = new LogState<Name>(LEVELS)
    commit(committed, names, c.commits)
    const stored: LogEntry[] = c.commits.flat().map((spec, i) => ({ seq: i + 1, ...names.get(spec) }))
    // as opened after a crash: no records, the whole feed after checkpoint 0
    const replayed = new LogState<Name>(LEVELS, { length: stored.length, checkpoint: 0, authors: new Map(), heads: new Map() })
    replayed.replay(stored.slice(0, 1))
    replayed.replay(stored.slice(1))
    assert.equal(heads(replayed, names), c.heads)
    assert.equal(authors(replayed), authors(committed))
    assert.is(replayed.clock, c.clock)
  })
}

test('prepare changes nothing: a commit whose write failed is not applied', () => {
  const names = new Entries()
  const state = new LogState<Name>(LEVELS)
  commit(state, names, [['a1', 'b1']])
  const prepared = state.prepare([names.get('a2>b1')])
  assert.is(prepared.length, 3)
  assert.is(state.length, 2)
  assert.equal(heads(state, names), ['a1', 'b1'])
  assert.equal(authors(state), { a: 'seq 1, run from seq 1 at feed 1', b: 'seq 1, run from seq 1 at feed 2' })
  assert.is(state.authorHead(toHex(AUTHORS.get('a')!.publicKey)).seq, 1)
  // and the same commit prepared again is the same
  assert.equal(names.ops(state.prepare([names.get('a2>b1')]).ops), names.ops(prepared.ops))
})

test(`a checkpoint every ${CHECKPOINT_COMMITS} commits: changed runs, heads, position`, () => {
  const names = new Entries()
  const state = new LogState<Name>(LEVELS)
  commit(state, names, [['b1']])
  for (let seq = 1; seq < CHECKPOINT_COMMITS - 1; seq++) {
    const c = state.prepare([names.get(`a${seq}`)])
    assert.is(c.checkpoint, false)
    state.apply(c)
  }
  assert.is(state.checkpoint, 0)
  const c = state.prepare([names.get(`a${CHECKPOINT_COMMITS - 1}`)])
  assert.is(c.checkpoint, true)
  assert.equal(names.ops(c.ops).slice(3), [
    `runs b@1 -> last 1 at 1`,
    `runs a@1 -> last ${CHECKPOINT_COMMITS - 1} at 2`,
    `heads a${CHECKPOINT_COMMITS - 1} b1`,
    `meta checkpoint -> ${CHECKPOINT_COMMITS}`,
    `meta name-index -> ${CHECKPOINT_COMMITS}`
  ])
  state.apply(c)
  assert.is(state.checkpoint, CHECKPOINT_COMMITS)
  assert.is(state.closingCheckpoint(), undefined, 'nothing to write at close')
  // only what changed since goes in the next one
  state.apply(state.prepare([names.get(`a${CHECKPOINT_COMMITS}`)]))
  assert.equal(names.ops(state.closingCheckpoint()!), [
    `runs a@1 -> last ${CHECKPOINT_COMMITS} at 2`,
    `heads a${CHECKPOINT_COMMITS} b1`,
    `meta checkpoint -> ${CHECKPOINT_COMMITS + 1}`,
    `meta name-index -> ${CHECKPOINT_COMMITS + 1}`
  ])
})

test(`a checkpoint once ${CHECKPOINT_ENTRIES} entries are past the last`, () => {
  const names = new Entries()
  const state = new LogState<Name>(LEVELS)
  const chain = Array.from({ length: CHECKPOINT_ENTRIES - 1 }, (_, i) => `a${i + 1}`)
  assert.is(commit(state, names, [chain])!.checkpoint, false)
  const c = state.prepare([names.get(`a${CHECKPOINT_ENTRIES}`)])
  assert.is(c.checkpoint, true)
  assert.equal(names.ops(c.ops).slice(3), [`runs a@1 -> last ${CHECKPOINT_ENTRIES} at 1`, `heads a${CHECKPOINT_ENTRIES}`, `meta checkpoint -> ${CHECKPOINT_ENTRIES}`, `meta name-index -> ${CHECKPOINT_ENTRIES}`])
})

test('records older than the feed: the first commit after opening is a checkpoint', () => {
  const names = new Entries()
  // opened with the records of checkpoint 1 and the feed at 2: a2 is replayed
  const a = toHex(AUTHORS.get('a')!.publicKey)
  const a1 = names.get('a1')
  const opened = new LogState<Name>(LEVELS, {
    length: 2,
    checkpoint: 1,
    authors: new Map([[a, new AuthorState(1, 1, 1, 1, a1.id, 1)]]),
    heads: new Map([[toHex(a1.id), { id: a1.id, clock: 1 }]])
  })
  opened.replay([{ seq: 2, ...names.get('a2') }])
  assert.equal(heads(opened, names), ['a2'])
  const c = opened.prepare([names.get('b1')])
  assert.is(c.checkpoint, true)
  assert.equal(names.ops(c.ops), ['ids b1 -> 3', 'feed 3 -> b1', 'names Test@3', 'runs a@1 -> last 2 at 1', 'runs b@1 -> last 1 at 3', 'heads a2 b1', 'meta checkpoint -> 3', 'meta name-index -> 3'])
})

const keyOp = (o: string): boolean => o.startsWith('keys ') || o.startsWith('del keys ')

test('emit keys: a record per key in the commit, and the oldest removed once past the window', () => {
  const names = new Entries()
  const state = new LogState<Name>(LEVELS, undefined, 2)
  let c = state.prepare([names.get('a1'), names.get('a2')], ['x', undefined])
  assert.equal(names.ops(c.ops).filter(keyOp), ['keys x -> 1'])
  assert.is(state.keyed('x'), undefined, 'not before it is applied')
  state.apply(c)
  assert.is(state.keyed('x'), 1)
  c = state.prepare([names.get('a3'), names.get('a4')], ['y', 'z'])
  assert.equal(names.ops(c.ops).filter(keyOp), ['del keys x', 'keys y -> 3', 'keys z -> 4'])
  state.apply(c)
  assert.equal([state.keyed('x'), state.keyed('y'), state.keyed('z'), state.keyCount], [undefined, 3, 4, 2])
  // more keys in one commit than the window: the newest
  c = state.prepare([names.get('a5'), names.get('a6'), names.get('a7')], ['p', 'q', 'r'])
  assert.equal(names.ops(c.ops).filter(keyOp), ['del keys y', 'del keys z', 'keys q -> 6', 'keys r -> 7'])
  state.apply(c)
  assert.equal([state.keyed('p'), state.keyed('q'), state.keyed('r')], [undefined, 6, 7])
})

test('a fresh state has nothing to checkpoint at close', () => {
  assert.is(new LogState<Name>(LEVELS).closingCheckpoint(), undefined)
})

test('feed records: consecutive positions of one block only (so at most PACK_ENTRIES entries), no further item past PACK_BYTES; a record cut short is a damaged db', () => {
  const item = (n: number, size = 40): Uint8Array => new Uint8Array(size).fill(n % 256)
  const P = PACK_ENTRIES
  const positions = [...Array.from({ length: P + 6 }, (_, i) => i + 1), 2 * P + 1, 2 * P + 2, 3 * P + 5, 4 * P - 1, 4 * P, 4 * P + 1]
  const records = packRecords(positions.map(p => ({ seq: p, id: item(p) })))
  assert.equal(records.map(([key, value]) => [readSeq(key), feedRecordEnd(readSeq(key), value)]), [[1, P], [P + 1, P + 6], [2 * P + 1, 2 * P + 2], [3 * P + 5, 3 * P + 5], [4 * P - 1, 4 * P], [4 * P + 1, 4 * P + 1]])
  assert.equal([1, P, P + 1, 3 * P + 5].map(blockStart), [1, 1, P + 1, 3 * P + 1])
  const seen: number[] = []
  unpackFeed(2 * P + 1, records[2][1], (seq, it) => { seen.push(seq, it[0]) })
  assert.equal(seen, [2 * P + 1, (2 * P + 1) % 256, 2 * P + 2, (2 * P + 2) % 256])
  assert.is(readSeq(Buffer.from(feedRecordFrom(1, records[0][1], 3)!.subarray(4, 12))), readSeq(Buffer.from(item(3).subarray(0, 8))))
  assert.is(feedRecordEnd(3, feedRecordFrom(1, records[0][1], 3)!), PACK_ENTRIES)
  assert.is(feedRecordFrom(1, records[0][1], PACK_ENTRIES + 1), undefined)
  const big = packRecords([1, 2, 3].map(p => ({ seq: p, id: item(p, PACK_BYTES - 10) })))
  assert.equal(big.map(([key]) => readSeq(key)), [1, 3], 'the second item passes PACK_BYTES: the third starts a record')
  const cut = records[0][1].subarray(0, records[0][1].byteLength - 1)
  assert.throws(() => { unpackFeed(1, cut, () => {}) }, (err: Error) => err instanceof StorageError && /cut short/.test(err.message))
})

test.run()
