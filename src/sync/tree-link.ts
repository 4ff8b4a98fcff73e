// One session's part of the broadcast tree (protocols/README.md §5.8): the
// authors this side pruned on the link, the Prune, Graft and IHave frames
// it sends and takes, and whether both sides agreed on lazy/1. The session
// core hands it those frames; the sender does the pushing and announcing.
import { RefusedError } from '../errors.js'
import { Prunes } from './prune.js'
import { REFUSE } from './constants.js'
import type { Action } from './actions.js'
import type { SyncCounters } from './counters.js'
import type { Sender } from './sender.js'
import type { SyncMessage } from '../pb/sync.js'

export interface TreeLinkInit {
  sender: Sender
  counters: SyncCounters
  send: (msg: SyncMessage) => void
  act: (action: Action) => void
  /** this node's highest stored seq of `author` */
  authorSeq: (author: string) => number
  /** whether this side may ask the remote to stop pushing `author` (see PrunePolicy) */
  mayPrune?: (author: string) => boolean
}

export class TreeLink {
  readonly #init: TreeLinkInit
  readonly #prunes = new Prunes()
  #lazy = false

  constructor (init: TreeLinkInit) {
    this.#init = init
  }

  /** Both Hellos named lazy/1: pruned authors are announced by IHave, and IHave frames are taken. */
  get lazy (): boolean {
    return this.#lazy
  }

  set lazy (lazy: boolean) {
    this.#lazy = lazy
    this.#init.sender.lazy = lazy
  }

  /** Whether this side asked the remote not to push `author` (hex). */
  pruned (author: string): boolean {
    return this.#prunes.has(author)
  }

  /** The remote sent entries of these authors again: the Prune the policy allows, unless pruned already. */
  duplicates (authors: Iterable<string>): void {
    this.#prune(authors, this.#init.mayPrune ?? (() => false))
  }

  /** Asks the remote to stop pushing `authors` (those not pruned yet): this node now takes them by another link. */
  prune (authors: Iterable<string>): void {
    this.#prune(authors, () => true)
  }

  #prune (authors: Iterable<string>, may: (author: string) => boolean): void {
    const prune = this.#prunes.prune(authors, may)
    if (prune == null) return
    this.#init.counters.prunesSent += prune.prune!.authors.length
    this.#init.send(prune)
  }

  /** Asks the remote to push again the authors this side pruned (those `which` picks, or all). */
  graft (which?: (author: string) => boolean): void {
    const graft = this.#prunes.graft(this.#init.authorSeq, which)
    if (graft == null) return
    this.#init.counters.graftsSent += graft.graft!.have.length
    this.#init.send(graft)
  }

  /** The sender's IHave: this node holds these authors' entries up to these seqs. */
  announce (have: Array<[string, number]>): void {
    this.#init.counters.ihavesSent += have.length
    this.#init.send({ ihave: { have: have.map(([author, seq]) => ({ author: Buffer.from(author, 'hex'), seq })) } })
  }

  /** The remote asked not to be pushed these authors. */
  takePrune (authors: string[]): void {
    this.#init.counters.prunesReceived += authors.length
    this.#init.sender.prune(authors)
  }

  /** The remote asked to be pushed these authors again, after these seqs. */
  takeGraft (have: Array<[string, number]>): void {
    this.#init.counters.graftsReceived += have.length
    this.#init.sender.graft(have)
  }

  /**
   * The remote holds these entries: it need not be sent them. Those this
   * node lacks of the authors it pruned here go to the driver, which grafts
   * them if they do not come otherwise. (An author not pruned here is
   * pushed, or was just grafted: nothing to repair on this link.)
   */
  takeIHave (have: Array<[string, number]>): void {
    if (!this.#lazy) throw new RefusedError('an IHave, but lazy/1 was not agreed in the Hellos', { refuseCode: REFUSE.PROTOCOL })
    this.#init.counters.ihavesReceived += have.length
    const lacking: Array<[string, number]> = []
    for (const [author, seq] of have) {
      this.#init.sender.seen(author, seq)
      if (this.#prunes.has(author) && this.#init.authorSeq(author) < seq) lacking.push([author, seq])
    }
    if (lacking.length > 0) this.#init.act({ type: 'ihave', have: lacking })
  }
}
