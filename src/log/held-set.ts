// The entries an Ingester (ingest.ts) holds, found by id: a container kept
// for V8's scavenges, with no key string and no Map table per entry.
import { randomInt } from 'node:crypto'
import { equalBytes } from './entry.js'
import type { Pending } from './held.js'

/**
 * The entries an Ingester holds, by id, in order of acceptance. Not the
 * values of a Map: V8 rehashes a Map whose entries come and go into a new
 * table, and the old one, once promoted, keeps pointing at the entries it
 * held (and at the next table) until a full GC. Scavenges then keep those
 * entries, dead or not, and promote them: nearly every entry of a catch-up
 * went to the old generation. Here the entries sit in slots that are
 * cleared when they go, found by their ids' bytes through an open-addressing
 * table of slot numbers, with no key string per entry.
 */
export class HeldSet {
  /** a ring: slot number n is at n modulo its length */
  #slots: Array<Pending | undefined> = new Array<Pending | undefined>(64).fill(undefined)
  /** the oldest slot number held, and the next to take */
  #head = 0
  #tail = 0
  #size = 0
  /** linear probing, at most half full: 1 + the ring index of an entry, or 0 */
  #table = new Int32Array(128)
  /** the hash of each entry in #table, beside it: probes and moves read no entry */
  #hashes = new Int32Array(128)

  get size (): number {
    return this.#size
  }

  /** Slots, taken or free: what the set costs, whatever it held before. */
  get capacity (): number {
    return this.#slots.length
  }

  has (id: Uint8Array): boolean {
    return this.#find(id) >= 0
  }

  get (id: Uint8Array): Pending | undefined {
    const at = this.#find(id)
    return at < 0 ? undefined : this.#slots[this.#table[at] - 1]
  }

  /** Holds `p`, whose id must not be held. */
  add (p: Pending): void {
    // empty: numbering starts again (a long-lived set's numbers stay small
    // integers). Here, not in delete: the first add of all takes this
    // branch, and V8's optimized delete would be thrown away the first time
    // the set emptied, as that code had never run
    if (this.#size === 0) this.#head = this.#tail = 0
    if (this.#tail - this.#head === this.#slots.length) this.#resize()
    const index = this.#tail++ & (this.#slots.length - 1)
    this.#slots[index] = p
    this.#size++
    place(this.#table, this.#hashes, slotHash(p.d.id), index)
  }

  delete (id: Uint8Array): boolean {
    let at = this.#find(id)
    if (at < 0) return false
    const slots = this.#slots
    const ring = slots.length - 1
    slots[this.#table[at] - 1] = undefined
    this.#size--
    while (this.#head < this.#tail && slots[this.#head & ring] === undefined) this.#head++
    // backward shift: an entry after the gap that may sit in it moves there
    const table = this.#table
    const hashes = this.#hashes
    const mask = table.length - 1
    table[at] = 0
    for (let next = (at + 1) & mask; table[next] !== 0; next = (next + 1) & mask) {
      // whether its home lies cyclically in (at, next], nearer to it than
      // the gap: then it stays (one test for both sides of a wrap: code V8
      // optimized before a wrap costs a deopt at the first)
      if (((next - hashes[next]) & mask) < ((next - at) & mask)) continue
      table[at] = table[next]
      hashes[at] = hashes[next]
      table[next] = 0
      at = next
    }
    return true
  }

  /** The oldest held entry (delete moves the head past the slots it clears). */
  first (): Pending | undefined {
    return this.#head < this.#tail ? this.#slots[this.#head & (this.#slots.length - 1)] : undefined
  }

  /**
   * The held entries, oldest first, in an array of their own: they may be
   * deleted meanwhile. (Not a generator: code V8 has not optimized yet makes
   * an object for each step of one.)
   */
  values (): Pending[] {
    const out: Pending[] = []
    const slots = this.#slots
    const ring = slots.length - 1
    for (let n = this.#head; n < this.#tail; n++) {
      const p = slots[n & ring]
      if (p !== undefined) out.push(p)
    }
    return out
  }

  clear (): void {
    this.#slots.fill(undefined)
    this.#table.fill(0)
    this.#hashes.fill(0)
    this.#head = this.#tail = this.#size = 0
  }

  // The position in the table of the entry with `id`, or -1.
  #find (id: Uint8Array): number {
    const table = this.#table
    const mask = table.length - 1
    const hash = slotHash(id)
    for (let at = hash & mask; table[at] !== 0; at = (at + 1) & mask) {
      if (this.#hashes[at] === hash && equalBytes(this.#slots[table[at] - 1]!.d.id, id)) return at
    }
    return -1
  }

  // Full from head to tail: twice the slots, or as many when at most half
  // hold an entry (one waits long while later ones come and go), numbered
  // again from 0. The old slots are cleared (see above).
  #resize (): void {
    const old = this.#slots
    const slots = new Array<Pending | undefined>(this.#size * 2 <= old.length ? old.length : old.length * 2).fill(undefined)
    let next = 0
    for (let n = this.#head; n < this.#tail; n++) {
      const p = old[n & (old.length - 1)]
      if (p !== undefined) slots[next++] = p
    }
    old.fill(undefined)
    this.#slots = slots
    this.#head = 0
    this.#tail = next
    const table = new Int32Array(2 * slots.length)
    const hashes = new Int32Array(table.length)
    for (let i = 0; i < next; i++) place(table, hashes, slotHash(slots[i]!.d.id), i)
    this.#table = table
    this.#hashes = hashes
  }
}

// Puts ring index `index`, whose id has `hash`, in the first free place of
// the table from its home (linear probing).
function place (table: Int32Array, hashes: Int32Array, hash: number, index: number): void {
  const mask = table.length - 1
  let at = hash & mask
  while (table[at] !== 0) at = (at + 1) & mask
  table[at] = index + 1
  hashes[at] = hash
}

// The table's hash of an id: eight bytes of its digest, mixed with seeds of
// this process, so that a peer cannot pick ids that crowd one place.
const SEED_A = randomInt(2 ** 31)
const SEED_B = randomInt(2 ** 31)
function slotHash (id: Uint8Array): number {
  const a = (id[2] | id[3] << 8 | id[4] << 16 | id[5] << 24) ^ SEED_A
  const b = (id[6] | id[7] << 8 | id[8] << 16 | id[9] << 24) ^ SEED_B
  // murmur3's finish: every bit of a and b reaches the low bits the table uses
  let h = Math.imul(a, 0x9e3779b1) ^ b
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}
