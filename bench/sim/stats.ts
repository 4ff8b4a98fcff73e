// What the simulator counts: running totals for the whole world (Counters,
// compared between two moments), and per group of entries (Group) what it
// cost to spread them and how long they took.

/** Running totals; `diff` of two snapshots gives what happened between them. */
export interface Counters {
  /** overlay (HyParView) messages sent */
  overlay: number
  /** overlay sends that failed (the peer was dead) */
  overlayFailures: number
  /** entries sent in Entries frames */
  entrySends: number
  /** Entries frames */
  frames: number
  /** first stores of entries by nodes other than their author */
  deliveries: number
  /** IHave frames, and the (author, seq) items in them */
  ihaves: number
  ihaveItems: number
  /** Prune frames, and the authors in them */
  prunes: number
  prunedAuthors: number
  /** Graft frames sent for LazyRepair, and the (peer, author) grafts LazyRepair called for */
  grafts: number
  dueGrafts: number
  /** tree links swapped for a link whose IHave came from fewer hops (the optimize change) */
  swaps: number
  /** log reads of the senders (catch-up, after a Graft, or after a gap in the live queue) */
  reads: number
  /** sync sessions opened (both Hellos in) and ended, counted per side */
  sessionsOpened: number
  sessionsEnded: number
  /** entries that came before their predecessor and waited for it */
  held: number
  /** commits that found a session's window full: their entries wait for an Ack */
  windowFull: number
}

export function counters (): Counters {
  return {
    overlay: 0,
    overlayFailures: 0,
    entrySends: 0,
    frames: 0,
    deliveries: 0,
    ihaves: 0,
    ihaveItems: 0,
    prunes: 0,
    prunedAuthors: 0,
    grafts: 0,
    dueGrafts: 0,
    swaps: 0,
    reads: 0,
    sessionsOpened: 0,
    sessionsEnded: 0,
    held: 0,
    windowFull: 0
  }
}

export function diff (after: Counters, before: Counters): Counters {
  const out = counters()
  for (const k of Object.keys(out) as Array<keyof Counters>) out[k] = after[k] - before[k]
  return out
}

/**
 * Entries emitted together for one measurement (a phase, or part of one):
 * the sends of these entries, and for each delivery its latency (emit to
 * first store) and its hops (links crossed).
 */
export class Group {
  readonly name: string
  /** entries in the group */
  entries = 0
  sends = 0
  deliveries = 0
  readonly latencies: number[] = []
  readonly hops: number[] = []
  /** deliveries by a peer this node had grafted for the author (LazyRepair), and their latencies */
  readonly grafted: number[] = []

  constructor (name: string) {
    this.name = name
  }
}

/** The q-quantile (0..1) of `sorted` (ascending), nearest rank; NaN when empty. */
export function quantile (sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

export interface Spread {
  p50: number
  p99: number
  max: number
}

export function spread (values: readonly number[]): Spread {
  const sorted = Float64Array.from(values).sort()
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted.length === 0 ? NaN : sorted[sorted.length - 1] }
}
