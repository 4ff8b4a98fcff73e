// The lazy half of Plumtree (protocols/README.md §5.8), for one node: which
// pruned links to graft, and when, from the IHave notices its peers send.
// Pure and deterministic: the time is passed in, grafts are returned, so that
// the sync service runs it on a timer and a network simulator under virtual
// time (src/sync/README.md describes the API).
import { GRAFT_RETRY, GRAFT_TIMEOUT, MAX_ANNOUNCERS, MAX_HAVE } from './constants.js'

export interface LazyRepairInit {
  /** ms from the first announcement of entries this node lacks to the first graft. @default GRAFT_TIMEOUT */
  timeout?: number
  /** ms from a graft that brought nothing to the graft of the next announcer. @default GRAFT_RETRY */
  retry?: number
  /** authors waited for at once; announcements of further authors are ignored until room is made. @default MAX_HAVE */
  maxAuthors?: number
  /** peers remembered per author, in the order they first announced it. @default MAX_ANNOUNCERS */
  maxAnnouncers?: number
}

/** A graft that is due: ask `peer` to push `author` again. */
export interface DueGraft {
  peer: string
  author: string
}

/**
 * Announced seqs still lacking, each with the time it was first announced,
 * ascending. At most this many: past it, the last one's seq is raised (its
 * time stays, so its graft may come a little early).
 */
const MAX_MARKS = 4

interface Mark {
  seq: number
  at: number
}

/** What one author's repair waits for. */
class Wanted {
  readonly marks: Mark[]
  /** announcing peers, in the order of their first announcement */
  readonly peers: string[]
  /** how many of `peers` (from the first) were grafted */
  tried = 0
  /** when the last graft was made */
  graftedAt = 0
  /** this node's seq of the author when the last graft was made */
  haveAtGraft = 0

  constructor (peer: string, seq: number, now: number) {
    this.marks = [{ seq, at: now }]
    this.peers = [peer]
  }
}

/**
 * Plumtree's missing-message timers, one per author. `announced` records an
 * IHave for entries this node lacks; `tick` returns the grafts due: the first
 * announcer `timeout` ms after the first announcement still lacking, then, as
 * long as a graft brings nothing, the next announcer every `retry` ms. Entries
 * stored meanwhile (seen through `mySeq` at `tick`) cancel what they cover.
 */
export class LazyRepair {
  readonly #timeout: number
  readonly #retry: number
  readonly #maxAuthors: number
  readonly #maxAnnouncers: number
  readonly #wanted = new Map<string, Wanted>()
  /** when `tick` is next due, or undefined; NaN when it must be worked out again */
  #next: number | undefined

  constructor (init: LazyRepairInit = {}) {
    this.#timeout = init.timeout ?? GRAFT_TIMEOUT
    this.#retry = init.retry ?? GRAFT_RETRY
    this.#maxAuthors = init.maxAuthors ?? MAX_HAVE
    this.#maxAnnouncers = init.maxAnnouncers ?? MAX_ANNOUNCERS
  }

  /** Authors waited for. */
  get size (): number {
    return this.#wanted.size
  }

  /** Whether entries of `author` are waited for. */
  has (author: string): boolean {
    return this.#wanted.has(author)
  }

  /** When `tick` is next due (ms, on the clock passed in), or undefined while nothing is waited for. */
  get timeout (): number | undefined {
    if (this.#next !== undefined && Number.isNaN(this.#next)) {
      let next: number | undefined
      for (const w of this.#wanted.values()) {
        const due = this.#due(w)
        if (next === undefined || due < next) next = due
      }
      this.#next = next
    }
    return this.#next
  }

  /**
   * `peer` holds `author`'s entries up to `seq` and does not push them here.
   * Call it only when this node's own seq of `author` is below `seq`.
   */
  announced (peer: string, author: string, seq: number, now: number): void {
    let w = this.#wanted.get(author)
    if (w == null) {
      // past the bound an announcement is lost; a later one is taken once there is room
      if (this.#wanted.size >= this.#maxAuthors) return
      w = new Wanted(peer, seq, now)
      this.#wanted.set(author, w)
      this.#earlier(this.#due(w))
      return
    }
    const last = w.marks[w.marks.length - 1]
    if (seq > last.seq) {
      if (w.marks.length < MAX_MARKS) w.marks.push({ seq, at: now })
      else last.seq = seq
    }
    if (!w.peers.includes(peer) && w.peers.length < this.#maxAnnouncers) w.peers.push(peer)
  }

  /**
   * The grafts due at `now`, given this node's seq of each author. Each is
   * made once: the next, to the next announcer, only if the entries are
   * still lacking `retry` ms later and nothing of them came meanwhile. Once
   * every announcer was grafted in vain the author is forgotten, until
   * announced again.
   */
  tick (now: number, mySeq: (author: string) => number): DueGraft[] {
    const out: DueGraft[] = []
    for (const [author, w] of this.#wanted) {
      const have = mySeq(author)
      let covered = 0
      while (covered < w.marks.length && w.marks[covered].seq <= have) covered++
      if (covered > 0) w.marks.splice(0, covered)
      if (w.marks.length === 0) {
        this.#wanted.delete(author)
        continue
      }
      if (this.#due(w) > now) continue
      if (w.tried > 0 && have > w.haveAtGraft) {
        // the last graft brings entries: give it another while
        w.haveAtGraft = have
        w.graftedAt = now
        continue
      }
      if (w.tried >= w.peers.length) {
        this.#wanted.delete(author)
        continue
      }
      out.push({ peer: w.peers[w.tried], author })
      w.tried++
      w.graftedAt = now
      w.haveAtGraft = have
    }
    this.#next = this.#wanted.size > 0 ? NaN : undefined
    return out
  }

  /** The session with `peer` ended: it is grafted no more. */
  peerGone (peer: string): void {
    for (const [author, w] of this.#wanted) {
      const i = w.peers.indexOf(peer)
      if (i < 0) continue
      w.peers.splice(i, 1)
      if (i < w.tried) w.tried--
      if (w.peers.length === 0) this.#wanted.delete(author)
    }
    this.#next = this.#wanted.size > 0 ? NaN : undefined
  }

  #due (w: Wanted): number {
    return w.tried === 0 ? w.marks[0].at + this.#timeout : w.graftedAt + this.#retry
  }

  #earlier (due: number): void {
    if (this.#next === undefined || due < this.#next) this.#next = due
  }
}
