// What an Ingester (ingest.ts) holds while entries wait, and how a store
// round orders and trims what it stores: plain data and pure functions.
import { equalBytes, toHex, type DecodedEntry } from './entry.js'
import type { Adoption, CutEntry } from './log.js'

// classes, not object literals: see ReadEntry in entry.ts
export class Pending {
  verified = false
  /**
   * The clock of the author's entry before this one, taken when the entry
   * was found to follow it: that entry is immutable, so the judgment does not
   * depend on what other sessions store meanwhile.
   */
  prevClock = 0
  /**
   * The held entry before this one in its author's chain, when it came just
   * before it (a group's entries come in order): its signature, once
   * checked, reaches that one with no lookup. Let go once followed.
   */
  below: Pending | undefined
  constructor (
    public d: DecodedEntry,
    readonly author: string,
    readonly hex: string,
    readonly at: number,
    /** order of acceptance: a store pass can stop at the batch it was made for */
    readonly n: number,
    /** whether `d.bytes` is a view into the frame it came in */
    public framed: boolean
  ) {}
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
      const waits = i > (lastSigned.get(p.author) ?? -1) || waiting.has(p.author) ||
        p.d.entry.links.some(l => waiting.has(toHex(l)))
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
export function inSeqOrder (pending: Iterable<Pending>, upTo: number): Pending[] {
  return seqWithinAuthors([...pending].filter(p => p.verified && p.n <= upTo))
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
  for (const p of list) {
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
