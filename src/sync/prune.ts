// Prune and graft (protocols/README.md §5.8): a receiver asks a peer to stop
// pushing authors whose entries another session delivers first, and asks
// again for them when that may no longer hold. The per-session half is
// `Prunes`; the node's half, which knows every session, is `PrunePolicy`;
// the grafts that IHave notices call for are LazyRepair's (plumtree.ts).
import { RefusedError } from '../errors.js'
import { toHex } from '../log/entry.js'
import { PUBLIC_KEY_LENGTH } from '../log/identity.js'
import { MAX_HAVE, REFUSE } from './constants.js'
import type { Graft, Have, IHave, Prune, SyncMessage } from '../pb/sync.js'

/** The authors (hex) of a received Prune; an author that is not a 32-byte key is a PROTOCOL error. */
export function readPrune (prune: Prune): string[] {
  return prune.authors.map(author => {
    if (author.byteLength !== PUBLIC_KEY_LENGTH) throw new RefusedError('a Prune author is not a 32-byte key', { refuseCode: REFUSE.PROTOCOL })
    return toHex(author)
  })
}

/** The (author hex, seq) pairs of a received Graft; an author that is not a 32-byte key is a PROTOCOL error. */
export function readGraft (graft: Graft): Array<[string, number]> {
  return readHave(graft.have, 'Graft')
}

/**
 * The (author hex, seq) pairs of a received IHave; an author that is not a
 * 32-byte key is a PROTOCOL error, an item whose seq is not a safe integer
 * of at least 1 is left out.
 */
export function readIHave (ihave: IHave): Array<[string, number]> {
  return readHave(ihave.have, 'IHave').filter(([, seq]) => Number.isSafeInteger(seq) && seq >= 1)
}

function readHave (have: Have[], what: string): Array<[string, number]> {
  return have.map(h => {
    if (h.author.byteLength !== PUBLIC_KEY_LENGTH) throw new RefusedError(`a ${what} author is not a 32-byte key`, { refuseCode: REFUSE.PROTOCOL })
    return [toHex(h.author), h.seq]
  })
}

/** The authors (hex) this side of one session asked the remote not to push. */
export class Prunes {
  readonly #authors = new Set<string>()

  get size (): number {
    return this.#authors.size
  }

  has (author: string): boolean {
    return this.#authors.has(author)
  }

  /**
   * The Prune for the authors of entries the remote sent again that `mayPrune`
   * allows and that are not pruned yet, or undefined if none. Past MAX_HAVE
   * authors the remote gets some entries twice, which is harmless.
   */
  prune (authors: Iterable<string>, mayPrune: (author: string) => boolean): SyncMessage | undefined {
    const out: Array<Uint8Array<ArrayBuffer>> = []
    for (const author of authors) {
      if (this.#authors.has(author) || this.#authors.size >= MAX_HAVE || !mayPrune(author)) continue
      this.#authors.add(author)
      out.push(Buffer.from(author, 'hex'))
    }
    return out.length > 0 ? { prune: { authors: out } } : undefined
  }

  /**
   * The Graft for the pruned authors `which` picks (all by default), with this
   * node's seq of each, or undefined if none; they are no longer pruned.
   */
  graft (authorSeq: (author: string) => number, which?: (author: string) => boolean): SyncMessage | undefined {
    const authors = which == null ? [...this.#authors] : [...this.#authors].filter(which)
    if (authors.length === 0) return undefined
    for (const author of authors) this.#authors.delete(author)
    return { graft: { have: authors.map(author => ({ author: Buffer.from(author, 'hex'), seq: authorSeq(author) })) } }
  }
}

/**
 * The node's side of pruning: for each author, which session stored its
 * entries first lately, and when. An entry sent again proves another path
 * only while the session that delivered it first still pushes the author
 * (or this node wrote it); a pruned author of which nothing came for
 * REGRAFT_MS is grafted again.
 */
export class PrunePolicy {
  readonly #self: string
  /** for each author (hex): when this node last stored its entries, and from which peer (while its session runs) */
  readonly #stored = new Map<string, { peer: string | undefined, at: number }>()

  /** `self`: this node's author key (hex) */
  constructor (self: string) {
    this.#self = self
  }

  /** A session with `peer` stored entries of `authors` at `now`. */
  stored (peer: string, authors: Iterable<string>, now: number): void {
    for (const author of authors) this.#stored.set(author, { peer, at: now })
  }

  /** The peer whose session stored `author`'s entries first lately, while it runs. */
  first (author: string): string | undefined {
    return this.#stored.get(author)?.peer
  }

  /**
   * Whether the session with `peer` (whose author key is `remoteKey`) may ask
   * it to stop pushing `author`: `pushes(first)` tells whether the session
   * that delivered it first still pushes it here (it runs, and this side has
   * not pruned the author on it). Copies that were on their way when a link
   * was pruned can arrive first; the link they came by is no proof of a path.
   */
  mayPrune (peer: string, remoteKey: string, author: string, pushes: (peer: string) => boolean): boolean {
    if (author === this.#self) return true
    // the author itself is never pruned: it is the root every path starts at
    if (author === remoteKey) return false
    const first = this.#stored.get(author)?.peer
    return first != null && first !== peer && pushes(first)
  }

  /**
   * Whether the tree still delivers `author` here: the session that stored
   * its entries first lately runs and pushes it (`pushes`, as for mayPrune),
   * or this node wrote it.
   */
  delivers (author: string, pushes: (peer: string) => boolean): boolean {
    if (author === this.#self) return true
    const first = this.#stored.get(author)?.peer
    return first != null && pushes(first)
  }

  /** Picks the authors of which nothing was stored within `quiet` ms before `now`. */
  stalled (now: number, quiet: number): (author: string) => boolean {
    const since = now - quiet
    return author => (this.#stored.get(author)?.at ?? 0) < since
  }

  /** The session with `peer` ended: it delivers nothing first any more. Returns the authors it delivered first. */
  ended (peer: string): string[] {
    const orphans: string[] = []
    for (const [author, stored] of this.#stored) {
      if (stored.peer !== peer) continue
      stored.peer = undefined
      orphans.push(author)
    }
    return orphans
  }
}

/** A running lazy/1 session, as `orphanGrafts` sees it. */
export interface LinkView {
  peer: string
  /** the remote's author key (hex) */
  remoteKey: string
  /** whether this side pruned `author` on it */
  pruned: (author: string) => boolean
}

/**
 * The grafts that repair this node's tree at once when the session that
 * delivered `orphans` first ended: an author that no other session pushes
 * here any more (all of them pruned it) is grafted on one session, the one
 * to the author itself if there is one (the shortest path), else the first
 * of `links`. Without it the tree stays broken here until the author's next
 * entry is announced and the wait has passed. Peer -> authors.
 */
export function orphanGrafts (orphans: string[], links: LinkView[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const author of orphans) {
    if (links.length === 0 || links.some(l => !l.pruned(author))) continue
    const link = links.find(l => l.remoteKey === author) ?? links[0]
    const authors = out.get(link.peer) ?? new Set()
    authors.add(author)
    out.set(link.peer, authors)
  }
  return out
}

/**
 * The prunes that go with repair grafts (`grafts`, from LazyRepair.tick):
 * an author grafted on a link other than its first deliverer's (`first`),
 * while that deliverer still runs and pushes it, was grafted because the
 * deliverer fell silent. The announcer becomes the author's parent here and
 * the old one is pruned, so that what it brings late does not come a second
 * time (Plumtree's tree optimization: the faster lazy link is grafted, the
 * eager one pruned). It stays a lazy link: its IHave notices can graft it
 * again. The link to the author itself is never pruned. Peer -> authors.
 */
export function parentPrunes (grafts: Iterable<{ peer: string, author: string }>, links: LinkView[], first: (author: string) => string | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>()
  for (const { peer, author } of grafts) {
    const parent = first(author)
    if (parent == null || parent === peer) continue
    const link = links.find(l => l.peer === parent)
    if (link == null || link.pruned(author) || link.remoteKey === author) continue
    const authors = out.get(parent) ?? new Set()
    authors.add(author)
    out.set(parent, authors)
  }
  return out
}

/**
 * How long a copy of an author already on its way to a node may take, from
 * its running sessions: each one's round-trip timeout (undefined before a
 * sample) and whether it pushes the author there (the node did not prune
 * it on it). The longest timeout of those that push it; 0 when none does,
 * as nothing can come but by a graft; when one of them has no estimate, the
 * longest of all, or undefined if no session has one.
 */
export function rtoOf (links: Array<{ rto: number | undefined, pushes: boolean }>): number | undefined {
  let pushing = 0
  let unknown = false
  let all: number | undefined
  for (const { rto, pushes } of links) {
    if (rto !== undefined && (all === undefined || rto > all)) all = rto
    if (!pushes) continue
    if (rto === undefined) unknown = true
    else pushing = Math.max(pushing, rto)
  }
  return unknown ? all : pushing
}
