// What a log that dropped old entries keeps of them (src/log/README.md,
// "Retention"): the feed position up to which the feed was dropped, each
// author's floor (the first seq kept, and the id of the dropped entry before
// it), and the cut: the bytes of the dropped entries that something kept
// still refers to (a floor's prev, a kept entry's link, a head), so that
// chains and clocks still check. Small: one floor per author, a few cut
// entries per author; all of it is held in memory.
import { StorageError } from '../errors.js'
import { ID_LENGTH, readEntry, toHex, type Entry, type Head } from './entry.js'
import { readSeq, seqKey, writeSeq } from './keys.js'
import { op, plain, view, type BatchOp } from './level.js'
import type { Sub, Sublevels } from './types.js'

/** The meta record of the feed position up to which entries were dropped. */
export const FLOOR_KEY = Buffer.from('floor')

/** An author's floor: the first seq kept, and the id of the dropped entry before it. */
export interface Floor {
  seq: number
  prev: Uint8Array<ArrayBuffer>
}

/** A dropped entry that something kept refers to. */
export class CutEntry {
  constructor (readonly id: Uint8Array<ArrayBuffer>, readonly bytes: Uint8Array, readonly entry: Entry) {}

  static of (id: Uint8Array<ArrayBuffer>, bytes: Uint8Array): CutEntry {
    return new CutEntry(id, bytes, readEntry(bytes))
  }

  /** as an author head: the entry a floor's first entry chains on */
  get head (): Head {
    return { seq: this.entry.seq, id: this.id, clock: this.entry.clock }
  }
}

function floorValue (floor: Floor): Buffer {
  const out = Buffer.allocUnsafe(8 + ID_LENGTH)
  writeSeq(out, floor.seq, 0)
  out.set(floor.prev, 8)
  return out
}

export class Boundary {
  /** feed positions up to this one were dropped */
  position: number
  /** by hex author key */
  readonly floors: Map<string, Floor>
  /** by hex id */
  readonly cut: Map<string, CutEntry>

  constructor (position = 0, floors = new Map<string, Floor>(), cut = new Map<string, CutEntry>()) {
    this.position = position
    this.floors = floors
    this.cut = cut
  }

  static async load (levels: Pick<Sublevels, 'meta' | 'floors' | 'cut'>): Promise<Boundary> {
    const position = await levels.meta.get(FLOOR_KEY)
    const floors = new Map<string, Floor>()
    for await (const [key, value] of levels.floors.iterator()) {
      if (value.byteLength !== 8 + ID_LENGTH) throw new StorageError('damaged floor record')
      floors.set(toHex(key), { seq: readSeq(value), prev: new Uint8Array(value.subarray(8)) })
    }
    const cut = new Map<string, CutEntry>()
    for await (const [key, value] of levels.cut.iterator()) cut.set(toHex(key), CutEntry.of(new Uint8Array(key), plain(value)))
    for (const [author, floor] of floors) {
      if (!cut.has(toHex(floor.prev))) throw new StorageError(`the entry before the floor of author ${author} is missing: the db is damaged`)
    }
    return new Boundary(position == null ? 0 : readSeq(position), floors, cut)
  }

  /** Whether nothing was ever dropped or adopted: sends and reads take no detour. */
  get empty (): boolean {
    return this.position === 0 && this.floors.size === 0 && this.cut.size === 0
  }

  /** The clock of a cut entry (hex id), if it is one. */
  clock (hex: string): number | undefined {
    return this.cut.get(hex)?.entry.clock
  }

  /** The dropped entry before `author`'s floor, as a head. */
  floorHead (author: string): Head | undefined {
    const floor = this.floors.get(author)
    return floor == null ? undefined : this.cut.get(toHex(floor.prev))?.head
  }

  /**
   * The cut entries a peer may need to store `entry` from this node: the
   * dropped entry before it when it is its author's first kept one, and the
   * dropped entries it links to.
   */
  context (author: string, entry: Entry): CutEntry[] | undefined {
    if (this.cut.size === 0) return undefined
    let out: CutEntry[] | undefined
    const floor = this.floors.get(author)
    if (floor != null && floor.seq === entry.seq) {
      const prev = this.cut.get(toHex(entry.prev))
      if (prev != null) out = [prev]
    }
    for (const link of entry.links) {
      const c = this.cut.get(toHex(link))
      if (c == null) continue
      out ??= []
      out.push(c)
      // a peer that has nothing of that author takes its floor from the
      // entry before it, which is signed (an author's last stored entry is)
      const before = this.floors.get(toHex(c.entry.author))
      const prev = before == null ? undefined : this.cut.get(toHex(before.prev))
      if (prev != null && prev !== c) out.push(prev)
    }
    return out
  }

  static floorOps (floors: Sub, author: string, floor: Floor): BatchOp {
    return op('put', floors, Buffer.from(author, 'hex'), floorValue(floor))
  }

  static cutOp (cut: Sub, c: CutEntry): BatchOp {
    return op('put', cut, view(c.id), view(c.bytes))
  }

  static positionOp (meta: Sub, position: number): BatchOp {
    return op('put', meta, FLOOR_KEY, seqKey(position))
  }
}
