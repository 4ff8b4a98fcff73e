// How far each author's entries come to this node along the broadcast tree
// (protocols/README.md §5.8): for each author, the links from it to this
// node by way of the first copy of its latest entry. Senders put it in their
// Entries and IHave frames, one more for the link; an IHave that shows a
// path several links shorter than the tree's makes that link the tree link
// (Plumtree's optimization: `shorter`).
import { OPTIMIZE_HOPS } from './constants.js'

export class HopBook {
  readonly #self: string
  readonly #latest = new Map<string, { seq: number, hops: number }>()

  /** `self`: this node's author key (hex): its own entries are 0 links away */
  constructor (self: string) {
    this.#self = self
  }

  /**
   * A copy of `author`'s entry `seq` came `hops` links from its author (0:
   * the sender did not know). The first copy of a newer entry counts.
   */
  heard (author: string, seq: number, hops: number): void {
    if (hops <= 0 || author === this.#self) return
    const latest = this.#latest.get(author)
    if (latest === undefined || seq > latest.seq) this.#latest.set(author, { seq, hops })
  }

  /** The links from `author` to this node by way of its copy of `seq`, if known: 0 for its own entries. */
  of (author: string, seq: number): number | undefined {
    if (author === this.#self) return 0
    const latest = this.#latest.get(author)
    return latest?.seq === seq ? latest.hops : undefined
  }

  /** What a frame to a peer carries for `author`'s `seq`: one more than `of`, or 0 if unknown. */
  next (author: string, seq: number): number {
    const hops = this.of(author, seq)
    return hops === undefined ? 0 : hops + 1
  }
}

/**
 * Whether a peer that announced an entry `via` links from its author (its
 * copy and the link) is a shorter path than this node's copy, `mine` links:
 * by at least `threshold` links (Plumtree's optimization threshold), so that
 * paths of about the same length do not trade places back and forth.
 */
export function shorter (mine: number | undefined, via: number, threshold = OPTIMIZE_HOPS): boolean {
  return mine !== undefined && via > 0 && via + threshold <= mine
}
