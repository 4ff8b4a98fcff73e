// What an Ingester (ingest.ts) holds while entries wait, and how a store
// round orders, walks, judges (clocks) and trims what it stores: plain data and pure functions.
import { InvalidEntryError } from '../errors.js'
import { equalBytes, follows, toHex, type DecodedEntry, type Head } from './entry.js'
import type { Adoption, CutEntry } from './log.js'

// classes, not object literals: see ReadEntry in entry-read.ts
export class Pending {
  verified = false
  /**
   * The clock of the author's entry before this one, taken when the entry
   * was found to follow it: that entry is immutable, so the judgment does not
   * depend on what other sessions store meanwhile.
   */
  prevClock = 0
  #hex: string | undefined
  constructor (
    public d: DecodedEntry,
    readonly author: string,
    readonly at: number,
    /** order of acceptance: a store pass can stop at the batch it was made for */
    readonly n: number,
    /** whether `d.bytes` is a view into the frame it came in */
    public framed: boolean
  ) {}

  /** The id in hex, made when first asked for: most entries never are. */
  get hex (): string {
    this.#hex ??= toHex(this.d.id)
    return this.#hex
  }
}

/**
 * An entry a peer sent as context (protocols/README.md §5.9): a dropped
 * entry that an entry it sends refers to. Never stored in the feed; it may
 * become a floor's prev or a cut entry.
 */
export class Context {
  constructor (
    readonly c: CutEntry,
    readonly author: string,
    /** its own valid signature covers it: it may start a floor by itself */
    readonly signed: boolean,
    readonly at: number
  ) {}
}

/** A verified entry's word for its prev: this author's entry at this seq. */
export class Vouch {
  constructor (readonly author: string, readonly seq: number) {}
}

// What a store takes besides the entries: the floors that the first stored
// entry of an author chains on, and the cut entries the stored ones link to
// (with the floors those rely on).
export function adoption (ready: Pending[], floors: Map<string, CutEntry>, cut: Map<string, CutEntry>): Adoption | undefined {
  if (floors.size === 0 && cut.size === 0) return undefined
  const out: Adoption = { floors: new Map(), cut: [] }
  const first = new Set<string>()
  for (const p of ready) {
    if (!first.has(p.author)) {
      first.add(p.author)
      const floor = floors.get(p.author)
      if (floor != null && equalBytes(floor.id, p.d.entry.prev)) out.floors.set(p.author, floor)
    }
    for (const l of p.d.entry.links) {
      const c = cut.get(toHex(l))
      if (c == null || out.cut.includes(c)) continue
      out.cut.push(c)
      const author = toHex(c.entry.author)
      const floor = floors.get(author)
      if (floor != null) out.floors.set(author, floor)
    }
  }
  return out
}

/** What a store round found among its candidates (`walkRound`). */
export class RoundWalk {
  /** the candidates that follow their author's head, in order */
  readonly ready: Pending[] = []
  /** each author's newest entry so far: stored, or ready in this round */
  readonly heads = new Map<string, Head>()
  /** links to entries not ready in this round: their clocks are looked up */
  readonly outside: Uint8Array[] = []
  /** floors taken from the peer in this round: author -> the entry before it */
  readonly floors = new Map<string, CutEntry>()
  /** the ids (hex) the candidates link: only those entries are looked up by id (most entries of a group link none) */
  readonly linked = new Set<string>()
  /** whether an entry was left out that what this round stores can make ready */
  again = false
}

/**
 * Walks a store round's candidates in order: one that follows its author's
 * head (stored, as `headOf` gives it; ready before it in the round; or a
 * floor the peer sent, as `floorFor` finds it for an author's first entry
 * in the round) is ready, with the clock of the entry before it noted.
 */
export function walkRound (candidates: Pending[], headOf: (author: string) => Head, floorFor: (p: Pending, inRound: boolean) => CutEntry | undefined): RoundWalk {
  const walk = new RoundWalk()
  const { ready, heads, outside, floors, linked } = walk
  for (let i = 0; i < candidates.length; i++) {
    const { links } = candidates[i].d.entry
    for (let j = 0; j < links.length; j++) linked.add(toHex(links[j]))
  }
  // clocks of the entries ready in this round that a link names, by hex id
  const inRound = new Map<string, number>()
  for (let i = 0; i < candidates.length; i++) {
    const p = candidates[i]
    const { entry } = p.d
    const ours = heads.get(p.author)
    let head = ours ?? headOf(p.author)
    if (!follows(entry, head)) {
      // only for an author's first entry in the round
      const floor = floorFor(p, ours != null)
      if (floor == null) {
        walk.again = true
        continue
      }
      floors.set(p.author, floor)
      head = floor.head
    }
    p.prevClock = head.clock
    for (let j = 0; j < entry.links.length; j++) if (!inRound.has(toHex(entry.links[j]))) outside.push(entry.links[j])
    // one head object per author and round, moved along its entries
    if (ours == null) {
      heads.set(p.author, { seq: entry.seq, id: p.d.id, clock: entry.clock })
    } else {
      ours.seq = entry.seq
      ours.id = p.d.id
      ours.clock = entry.clock
    }
    if (linked.size > 0 && linked.has(p.hex)) inRound.set(p.hex, entry.clock)
    ready.push(p)
  }
  return walk
}

/** What a store round's check of clocks found (`judgeClocks`). */
export interface Judged {
  /** entries whose clocks are right and whose parents are in place */
  keep: Pending[]
  invalid: InvalidEntryError[]
  /** this session's entries with a wrong clock: to be let go */
  forged: Pending[]
  /** whether an entry was left to wait, for its parents or behind a wrong one */
  waiting: boolean
}

/**
 * Judges the clocks of a store round's ready entries, in their order: each
 * must be one more than the highest clock of its parents, the author's
 * previous entry (`prevClock`) and its links, as `clocks` (stored or cut)
 * and the entries kept before it in the round give them. An entry whose
 * link is unknown, or that follows a waiting one, waits with everything
 * after it of its author. `borrowed` entries (other sessions') are judged by
 * their own session's pass, and never called forged here.
 *
 * Every clock judged is of an entry that cannot change: the author's
 * previous entry as found before, and links stored or kept before. Other
 * sessions may store entries meanwhile; those that this round holds too are
 * left out by the log's store as duplicates, never judged.
 */
export function judgeClocks (ready: Pending[], clocks: ReadonlyMap<string, number | undefined>, linked: ReadonlySet<string>, borrowed: ReadonlyMap<Pending, unknown> | undefined): Judged {
  const invalid: InvalidEntryError[] = []
  const forged: Pending[] = []
  const blocked = new Set<string>()
  const keep: Pending[] = []
  // only entries kept before this one count as stored before it
  const before = new Map<string, number>()
  for (let i = 0; i < ready.length; i++) {
    const p = ready[i]
    const { entry } = p.d
    let parent = p.prevClock
    let waits = blocked.has(p.author)
    for (let j = 0; j < entry.links.length; j++) {
      const hex = toHex(entry.links[j])
      const c = before.get(hex) ?? clocks.get(hex)
      if (c == null || blocked.has(hex)) waits = true
      else if (c > parent) parent = c
    }
    if (!waits && entry.clock !== parent + 1) {
      if (borrowed?.has(p) !== true) {
        invalid.push(new InvalidEntryError(`entry clock ${entry.clock} is not one more than its parents' ${parent}`))
        forged.push(p)
      }
      waits = true
    }
    if (waits) {
      blocked.add(p.author)
      if (linked.size > 0 && linked.has(p.hex)) blocked.add(p.hex)
    } else {
      if (linked.size > 0 && linked.has(p.hex)) before.set(p.hex, entry.clock)
      keep.push(p)
    }
  }
  return { keep, invalid, forged, waiting: blocked.size > 0 }
}

// An unsigned entry is stored only with the signed one that covers it: each
// author's unsigned tail waits, and so does everything that depends on what
// waits, until nothing changes.
export function trimUnsigned (ready: Pending[]): Pending[] {
  let list = ready
  while (true) {
    const lastSigned = new Map<string, number>()
    list.forEach((p, i) => { if (p.d.entry.signature.byteLength > 0) lastSigned.set(p.author, i) })
    const waiting = new Set<string>()
    const next = list.filter((p, i) => {
      const { links } = p.d.entry
      // most entries link none: no closure made for them
      const waits = i > (lastSigned.get(p.author) ?? -1) || waiting.has(p.author) ||
        (links.length > 0 && links.some(l => waiting.has(toHex(l))))
      if (waits) { waiting.add(p.author); waiting.add(p.hex) }
      return !waits
    })
    if (next.length === list.length) return next
    list = next
  }
}

// The verified entries in arrival order, except that each author's entries
// come in seq order: an entry that arrived before its parent must not be
// passed over while its parent is stored, or a chain whose signed tip came
// early never goes in.
export function inSeqOrder (pending: Pending[], upTo: number): Pending[] {
  const verified: Pending[] = []
  for (let i = 0; i < pending.length; i++) if (pending[i].verified && pending[i].n <= upTo) verified.push(pending[i])
  return seqWithinAuthors(verified)
}

// Held entries of several sessions together (see Ingester.storeReady): each
// session's arrival order is causal, their union is not; ordered by clock,
// it is (an entry's clock is above its parents'), with each author's entries
// in seq order all the same (a forged clock must not reorder a chain).
export function inClockOrder (pending: Pending[]): Pending[] {
  return seqWithinAuthors([...pending].sort((a, b) => a.d.entry.clock - b.d.entry.clock))
}

// Each author's entries in seq order, in the places its entries take in `list`.
function seqWithinAuthors (list: Pending[]): Pending[] {
  if (inOrder(list)) return list
  const byAuthor = new Map<string, Pending[]>()
  for (const p of list) {
    const mine = byAuthor.get(p.author)
    if (mine == null) byAuthor.set(p.author, [p])
    else mine.push(p)
  }
  for (const mine of byAuthor.values()) mine.sort((a, b) => a.d.entry.seq - b.d.entry.seq)
  const next = new Map<string, number>()
  return list.map(p => {
    const i = next.get(p.author) ?? 0
    next.set(p.author, i + 1)
    return byAuthor.get(p.author)![i]
  })
}

// Whether each author's entries already come in seq order, as a peer sends
// them: then there is nothing to sort. The last seq of each author is kept
// in locals while its run lasts.
function inOrder (list: Pending[]): boolean {
  const last = new Map<string, number>()
  let author = ''
  let seq = 0
  for (let i = 0; i < list.length; i++) {
    const p = list[i]
    if (p.author !== author) {
      if (author !== '') last.set(author, seq)
      author = p.author
      seq = last.get(author) ?? 0
    }
    if (p.d.entry.seq <= seq) return false
    seq = p.d.entry.seq
  }
  return true
}
