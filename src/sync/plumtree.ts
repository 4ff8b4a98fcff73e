// The lazy half of Plumtree (protocols/README.md §5.8), for one node: which
// pruned links to graft, and when, from the IHave notices its peers send.
// Pure and deterministic: the time is passed in, grafts are returned, so that
// the sync service runs it on a timer and a network simulator under virtual
// time (src/sync/README.md describes the API).
import { GRAFT_RETRY, GRAFT_TIMEOUT, LAG_FACTOR, LAG_MEMORY, MAX_ANNOUNCERS, MAX_GRAFT_TIMEOUT, MAX_HAVE } from './constants.js'
import { WindowedMax } from './windowed-max.js'

export interface LazyRepairInit {
  /**
   * ms without progress, from the first announcement of entries this node
   * lacks, to the first graft, at least: the wait grows with how late the
   * tree delivers what is announced, up to `maxTimeout`. @default GRAFT_TIMEOUT
   */
  timeout?: number
  /** the most the wait before a first graft grows to. @default MAX_GRAFT_TIMEOUT */
  maxTimeout?: number
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
  /** this node's seq of the author when last looked at */
  have: number
  /** when `have` was last seen to rise (at first, when the author was announced) */
  movedAt: number
  /** the wait before the first graft when the tree is known broken here (see `announced`), else undefined */
  soon: number | undefined

  constructor (peer: string, seq: number, have: number, now: number, soon: number | undefined) {
    this.marks = [{ seq, at: now }]
    this.peers = [peer]
    this.have = have
    this.movedAt = now
    this.soon = soon
  }
}

/**
 * Plumtree's missing-message timers, one per author. `announced` records an
 * IHave for entries this node lacks; `tick` returns the grafts due: the first
 * announcer once nothing of the author came for `wait` ms while announced
 * entries were lacking, then, as long as nothing comes, the next announcer
 * every `retry` ms. Entries stored meanwhile (`stored`, or seen through
 * `mySeq` at `tick`) cancel what they cover; a tree that delivers late is
 * left alone.
 *
 * `wait` follows how late the tree delivers what lazy links announce: LAG_FACTOR
 * times the longest lag (from an announcement to the store of what it
 * announced) sampled in the last LAG_MEMORY ms, at least `timeout` and at most
 * `maxTimeout`. A loaded node's tree is late, not broken, and a graft would
 * bring everything on its way a second time; once the load is over, the wait
 * is back at the floor within LAG_MEMORY, whatever the lag was.
 */
export class LazyRepair {
  readonly #timeout: number
  readonly #maxTimeout: number
  readonly #retry: number
  readonly #maxAuthors: number
  readonly #maxAnnouncers: number
  readonly #wanted = new Map<string, Wanted>()
  /** when `tick` is next due, or undefined; NaN when it must be worked out again */
  #next: number | undefined
  /** the longest lag (ms) from an announcement to the store of what it announced, of the last LAG_MEMORY ms */
  readonly #lag = new WindowedMax(LAG_MEMORY)
  /** the time of the last call */
  #now = 0

  constructor (init: LazyRepairInit = {}) {
    this.#timeout = init.timeout ?? GRAFT_TIMEOUT
    this.#maxTimeout = Math.max(this.#timeout, init.maxTimeout ?? MAX_GRAFT_TIMEOUT)
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

  /** ms without progress before the first graft of an author, as things stand. */
  get wait (): number {
    const lag = this.#lag.get(this.#now)
    if (lag === undefined) return this.#timeout
    return Math.min(this.#maxTimeout, Math.max(this.#timeout, Math.ceil(LAG_FACTOR * lag)))
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
   * Call it only when this node's own seq of `author`, `have`, is below `seq`.
   * `soon`, when the caller knows the tree broken here (no session that
   * delivered the author first runs and pushes it), is the wait before the
   * first graft if shorter than `wait`: what is announced would come by
   * another path only if it were on its way already, and a round trip's
   * timeout covers that.
   */
  announced (peer: string, author: string, seq: number, have: number, now: number, soon?: number): void {
    this.#age(now)
    let w = this.#wanted.get(author)
    if (w == null) {
      // past the bound an announcement is lost; a later one is taken once there is room
      if (this.#wanted.size >= this.#maxAuthors) return
      w = new Wanted(peer, seq, have, now, soon)
      this.#wanted.set(author, w)
      this.#earlier(this.#due(w))
      return
    }
    if (soon !== w.soon) {
      w.soon = soon
      this.#next = NaN
    }
    if (have > w.have) {
      w.have = have
      w.movedAt = now
    }
    const last = w.marks[w.marks.length - 1]
    if (seq > last.seq) {
      if (w.marks.length < MAX_MARKS) w.marks.push({ seq, at: now })
      else last.seq = seq
    }
    if (!w.peers.includes(peer) && w.peers.length < this.#maxAnnouncers) w.peers.push(peer)
  }

  /**
   * This node stored `author`'s entries up to `seq` at `now` (from any
   * session). The announced seqs it covers, if no graft was made for them,
   * tell how late the tree delivers.
   */
  stored (author: string, seq: number, now: number): void {
    this.#age(now)
    const w = this.#wanted.get(author)
    if (w == null || seq <= w.have) return
    w.have = seq
    w.movedAt = now
    let covered = 0
    while (covered < w.marks.length && w.marks[covered].seq <= seq) {
      if (w.tried === 0) this.#sample(now - w.marks[covered].at, now)
      covered++
    }
    w.marks.splice(0, covered)
    if (w.marks.length === 0) this.#wanted.delete(author)
    this.#next = this.#wanted.size > 0 ? NaN : undefined
  }

  /**
   * The grafts due at `now`, given this node's seq of each author. An author
   * of which something came since the last look waits again: its tree
   * delivers, if late (a graft would bring the same entries a second time).
   * Each graft is made once: the next, to the next announcer, only if the
   * entries are still lacking `retry` ms later and nothing of them came
   * meanwhile. Once every announcer was grafted in vain the author is
   * forgotten, until announced again. While the node is `busy` (entries
   * received wait to be stored) no graft is made, until `maxTimeout` after
   * the first announcement still lacking. Nor is one made for an author
   * the tree still `delivers` here (the session that delivered it first
   * lately runs and pushes it), until then: the tree is late, and where it
   * broke upstream, the node whose parent is gone grafts.
   */
  tick (now: number, mySeq: (author: string) => number, busy = false, delivers?: (author: string) => boolean): DueGraft[] {
    this.#age(now)
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
      if (have > w.have) {
        w.have = have
        w.movedAt = now
        continue
      }
      if (this.#due(w) > now) continue
      if ((busy || delivers?.(author) === true) && now - w.marks[0].at < this.#maxTimeout) {
        // what is lacking may be among what waits here to be stored, or on its way down the tree
        w.movedAt = now
        continue
      }
      if (w.tried >= w.peers.length) {
        this.#wanted.delete(author)
        continue
      }
      out.push({ peer: w.peers[w.tried], author })
      w.tried++
      w.graftedAt = now
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
    if (w.tried > 0) return Math.max(w.graftedAt, w.movedAt) + this.#retry
    const wait = w.soon === undefined ? this.wait : Math.min(this.wait, Math.max(1, Math.ceil(w.soon)))
    return Math.max(w.marks[0].at, w.movedAt) + wait
  }

  #sample (lag: number, now: number): void {
    const wait = this.wait
    this.#lag.add(lag, now)
    if (this.wait !== wait) this.#next = this.#wanted.size > 0 ? NaN : undefined
  }

  // The time moves on: a wait that grew with a lag sampled more than
  // LAG_MEMORY ago is worked out again.
  #age (now: number): void {
    const wait = this.wait
    this.#now = Math.max(this.#now, now)
    if (this.wait !== wait) this.#next = this.#wanted.size > 0 ? NaN : undefined
  }

  #earlier (due: number): void {
    if (this.#next === undefined || due < this.#next) this.#next = due
  }
}
