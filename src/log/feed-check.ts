// The check of the feed that `verify()` makes, sans IO: it is given the
// feed's records in order and checks every entry's id, parent links, author
// chain and signature. It keeps every walked entry's id in memory, so a link
// to any earlier entry is found without a read. Run in this thread or on a
// worker (verify-worker.ts).
import { ID_LENGTH, authorHex, decodeEntry, equalBytes, hasId, sameIdAt, toHex, type DecodedEntry } from './entry.js'
import { feedBytes, feedId, unpackFeed } from './keys.js'
import type { VerifyProblem } from './types.js'

/** What the check starts from: the positions to walk and what retention dropped before them. */
export interface FeedCheckInit {
  /** positions up to this one were dropped */
  base: number
  /** the last position to walk */
  length: number
  /** dropped entries that kept ones may link to: id and clock */
  cut: Array<[Uint8Array, number]>
  /** each author's chain from its floor: the dropped entry before it */
  chains: Array<{ author: string, seq: number, id: Uint8Array, clock: number }>
}

export interface FeedCheckResult {
  problems: VerifyProblem[]
  /** the last position walked */
  count: number
  /** each author's last seq, and how many unsigned entries end its chain */
  chains: Array<{ author: string, seq: number, unsigned: number }>
  /** each walked entry's id (ID_LENGTH bytes each, from base + 1) */
  idAt: Uint8Array
  /** each walked entry's clock */
  clockAt: Float64Array
  /** WALKED or NAMED (by a later entry), by position */
  state: Uint8Array
}

export const WALKED = 1
export const NAMED = 2

/** An id as a map key: its bytes as a latin1 string. */
function key (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('latin1')
}

interface Chain { seq: number, id: Uint8Array, clock: number, at: number, unsigned: number }

export class FeedCheck {
  readonly #base: number
  readonly #length: number
  readonly #problems: VerifyProblem[] = []
  readonly #idAt: Uint8Array
  readonly #clockAt: Float64Array
  readonly #state: Uint8Array
  /** an open-addressing table of walked positions (less base; 0: empty), by 32 bits of their id's digest */
  readonly #table: Int32Array
  readonly #cutClocks = new Map<string, number>()
  /** each author's last entry walked; `at` 0 for a dropped one */
  readonly #chains = new Map<string, Chain>()
  readonly #hexOf = authorHex()
  #count: number

  constructor (init: FeedCheckInit) {
    this.#base = init.base
    this.#length = init.length
    const n = Math.max(0, init.length - init.base)
    this.#idAt = new Uint8Array(n * ID_LENGTH)
    this.#clockAt = new Float64Array(n)
    this.#state = new Uint8Array(n)
    this.#table = new Int32Array(2 ** Math.max(4, Math.ceil(Math.log2(2 * n + 1))))
    for (const [id, clock] of init.cut) this.#cutClocks.set(key(id), clock)
    for (const c of init.chains) this.#chains.set(c.author, { seq: c.seq, id: c.id, clock: c.clock, at: 0, unsigned: 0 })
    this.#count = init.base
  }

  /** The feed record at `start`; entries past the last position to walk are left out. */
  record (start: number, value: Buffer): void {
    try {
      unpackFeed(start, value, (seq, item) => {
        if (seq > this.#length) return false
        this.#entry(seq, item)
      })
    } catch (err) {
      this.#problems.push({ seq: start, problem: (err as Error).message })
    }
  }

  finish (): FeedCheckResult {
    return {
      problems: this.#problems,
      count: this.#count,
      chains: [...this.#chains].map(([author, c]) => ({ author, seq: c.seq, unsigned: c.unsigned })),
      idAt: this.#idAt,
      clockAt: this.#clockAt,
      state: this.#state
    }
  }

  #slot (id: Uint8Array): number {
    return ((id[2] << 24) | (id[3] << 16) | (id[4] << 8) | id[5]) & (this.#table.length - 1)
  }

  /** Whether the id walked at `at` (a position less base) is `id`. */
  #idIs (at: number, id: Uint8Array): boolean {
    return id.byteLength === ID_LENGTH && sameIdAt(this.#idAt, at - 1, id, 0)
  }

  /** The position of the walked entry `id` (the first, if it is there twice). */
  #find (id: Uint8Array): number | undefined {
    const table = this.#table
    const mask = table.length - 1
    for (let s = this.#slot(id); table[s] !== 0; s = (s + 1) & mask) {
      if (this.#idIs(table[s], id)) return table[s] + this.#base
    }
    return undefined
  }

  #add (id: Uint8Array, seq: number): void {
    const table = this.#table
    const mask = table.length - 1
    let s = this.#slot(id)
    while (table[s] !== 0) s = (s + 1) & mask
    table[s] = seq - this.#base
  }

  /** The position of the entry `link` names if it was walked (or -1 for a dropped one in the cut), and its clock. */
  #linked (link: Uint8Array): { at: number, clock: number } | undefined {
    const at = this.#find(link)
    if (at != null) return { at, clock: this.#clockAt[at - this.#base - 1] }
    const clock = this.#cutClocks.size > 0 ? this.#cutClocks.get(key(link)) : undefined
    return clock == null ? undefined : { at: -1, clock }
  }

  #entry (seq: number, value: Buffer): void {
    const problems = this.#problems
    const base = this.#base
    const count = ++this.#count
    if (seq !== count) problems.push({ seq, problem: `feed position ${seq} follows ${count - 1}` })
    if (value.byteLength <= ID_LENGTH) { problems.push({ seq, problem: 'feed record too short to hold an entry' }); return }
    const id = feedId(value)
    const bytes = feedBytes(value, seq)
    if (!hasId(bytes, id)) { problems.push({ seq, id: toHex(id), problem: 'id does not match the entry bytes' }); return }
    let d: DecodedEntry
    try {
      d = decodeEntry(bytes, { id })
    } catch (err) {
      problems.push({ seq, id: toHex(id), problem: (err as Error).message })
      return
    }
    const author = this.#hexOf(d.entry.author)
    let chain = this.#chains.get(author)
    if (chain == null) {
      chain = { seq: 0, id: new Uint8Array(0), clock: 0, at: 0, unsigned: 0 }
      this.#chains.set(author, chain)
    }
    if (d.entry.seq !== chain.seq + 1) problems.push({ seq, id: toHex(id), problem: `author seq ${d.entry.seq} follows ${chain.seq}` })
    if (equalBytes(d.entry.prev, chain.id)) {
      if (chain.at > base) this.#state[chain.at - base - 1] = NAMED
    } else {
      problems.push({ seq, id: toHex(id), problem: 'prev is not the author\'s previous entry' })
      const at = d.entry.prev.byteLength > 0 ? this.#find(d.entry.prev) : undefined
      if (at != null) this.#state[at - base - 1] = NAMED
    }
    let parentClock = chain.clock
    for (const link of d.entry.links) {
      const parent = this.#linked(link)
      if (parent == null) {
        problems.push({ seq, id: toHex(id), problem: `link ${toHex(link)} is not stored before the entry` })
        continue
      }
      if (parent.at > base) this.#state[parent.at - base - 1] = NAMED
      parentClock = Math.max(parentClock, parent.clock)
    }
    if (d.entry.clock !== parentClock + 1) problems.push({ seq, id: toHex(id), problem: `clock ${d.entry.clock} is not one more than its parents' ${parentClock}` })
    chain.seq = d.entry.seq
    chain.id = d.id
    chain.clock = d.entry.clock
    chain.at = seq
    chain.unsigned = d.entry.signature.byteLength === 0 ? chain.unsigned + 1 : 0
    if (seq - base > this.#state.length) return
    this.#idAt.set(id, (seq - base - 1) * ID_LENGTH)
    this.#clockAt[seq - base - 1] = d.entry.clock
    this.#state[seq - base - 1] = WALKED
    this.#add(id, seq)
  }
}
