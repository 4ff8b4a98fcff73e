// Several nodes in memory (test/sync/pair.ts), linked in any shape, each with
// the node's half of sync as SyncService (src/sync/service.ts) runs it: a
// PrunePolicy that says which links may be pruned, a LazyRepair that grafts
// what IHave notices announce and the tree does not bring, and, toward peers
// that are not lazy/1, the blind regraft every REGRAFT_MS and the graft of
// every other link when a session ends. Time is the pair's virtual clock.
import { Pair, type Node, type Session } from './pair.js'
import { PrunePolicy, orphanGrafts, rtoOf } from '../../src/sync/prune.js'
import { LazyRepair, type LazyRepairInit } from '../../src/sync/plumtree.js'
import { REGRAFT_MS } from '../../src/sync/constants.js'

export interface MeshNodeOptions extends LazyRepairInit {
  /** the features of its Hellos (FEATURES by default; [] for a node written before features existed) */
  features?: readonly string[]
}

/** A node of the mesh: its log, its sessions by peer key, and its node-level state. */
export class MeshNode {
  readonly node: Node
  readonly name: string
  readonly features: readonly string[] | undefined
  readonly policy: PrunePolicy
  readonly repair: LazyRepair
  /** the running session with each peer (hex key) */
  readonly links = new Map<string, Session>()
  /** grafts LazyRepair made: peer name and author (hex) */
  readonly grafts: Array<{ peer: string, author: string, at: number }> = []
  readonly #mesh: Mesh

  constructor (mesh: Mesh, node: Node, name: string, opts: MeshNodeOptions) {
    this.#mesh = mesh
    this.node = node
    this.name = name
    this.features = opts.features
    this.policy = new PrunePolicy(node.key)
    this.repair = new LazyRepair(opts)
  }

  get key (): string {
    return this.node.key
  }

  /** The due grafts of LazyRepair, one Graft per session, as the service makes them. */
  repairDue (now: number): void {
    const byPeer = new Map<string, Set<string>>()
    for (const { peer, author } of this.repair.tick(now, author => this.node.log.authorSeq(author))) {
      const authors = byPeer.get(peer) ?? new Set()
      authors.add(author)
      byPeer.set(peer, authors)
      this.grafts.push({ peer: this.#mesh.nameOf(peer), author, at: now })
    }
    for (const [peer, authors] of byPeer) this.links.get(peer)?.core.graft(author => authors.has(author))
  }

  /** The blind regraft of the pruned authors of which nothing came lately, on links that are not lazy/1. */
  regraft (now: number): void {
    const stalled = this.policy.stalled(now, REGRAFT_MS)
    for (const s of this.links.values()) if (!s.core.lazy) s.core.graft(stalled)
  }

  /** Hooks a new session with `peer` to this node's state. */
  attach (s: Session, peer: MeshNode): void {
    this.links.set(peer.key, s)
    s.onAction = action => {
      const now = this.#mesh.pair.now
      switch (action.type) {
        case 'stored':
          this.policy.stored(peer.key, action.authors, now)
          for (const author of action.authors) if (this.repair.has(author)) this.repair.stored(author, this.node.log.authorSeq(author), now)
          break
        case 'ihave':
          for (const [author, seq] of action.have) {
            if (this.node.log.authorSeq(author) >= seq) continue
            // where no first deliverer pushes the author, a round trip's timeout
            const broken = !this.policy.delivers(author, p => this.pushes(p, author))
            this.repair.announced(peer.key, author, seq, this.node.log.authorSeq(author), now, broken ? this.rto(author) : undefined)
          }
          break
        case 'end':
          if (this.links.get(peer.key) !== s) break
          this.links.delete(peer.key)
          {
            const orphans = this.policy.ended(peer.key)
            for (const other of this.links.values()) if (!other.core.lazy) other.core.graft()
            const lazy = [...this.links].filter(([, o]) => o.core.lazy && !o.core.ended).map(([key, o]) => ({ peer: key, remoteKey: key, pruned: (a: string) => o.core.pruned(a) }))
            for (const [key, authors] of orphanGrafts(orphans, lazy)) this.links.get(key)?.core.graft(author => authors.has(author))
          }
          this.repair.peerGone(peer.key)
          break
      }
    }
  }

  /** SyncService's: how long a copy of `author` on its way here may take. */
  rto (author: string): number | undefined {
    const now = this.#mesh.now
    return rtoOf([...this.links.values()].flatMap(s => s.core.ended ? [] : [{ rto: s.core.rto(now), pushes: !s.core.pruned(author) }]))
  }

  /** SyncService's test: the session with `peer` runs and this side has not pruned `author` on it. */
  pushes (peer: string, author: string): boolean {
    const core = this.links.get(peer)?.core
    return core != null && !core.ended && !core.pruned(author)
  }
}

/** Nodes of a mesh on one virtual clock. */
export class Mesh {
  readonly pair = new Pair()
  readonly nodes: MeshNode[] = []
  #regraftAt: number

  constructor () {
    this.#regraftAt = this.pair.now + REGRAFT_MS
    // every node's LazyRepair, and the regraft round of every node
    this.pair.clocks.push({
      due: () => {
        let next: number | undefined
        for (const n of this.nodes) {
          const t = n.repair.timeout
          if (t != null && (next == null || t < next)) next = t
        }
        return next
      },
      tick: now => { for (const n of this.nodes) if ((n.repair.timeout ?? Infinity) <= now) n.repairDue(now) }
    })
    this.pair.clocks.push({
      due: () => this.#regraftAt,
      tick: now => {
        this.#regraftAt = now + REGRAFT_MS
        for (const n of this.nodes) n.regraft(now)
      }
    })
  }

  get now (): number {
    return this.pair.now
  }

  /** A node on a fresh MemoryLevel log; `name` for messages. */
  async node (name: string, opts: MeshNodeOptions = {}): Promise<MeshNode> {
    const n = new MeshNode(this, await this.pair.node(), name, opts)
    this.nodes.push(n)
    return n
  }

  nameOf (key: string): string {
    return this.nodes.find(n => n.key === key)?.name ?? key.slice(0, 8)
  }

  /** A session between `a` and `b`: [a's side, b's side]. */
  link (a: MeshNode, b: MeshNode): [Session, Session] {
    const [sa, sb] = this.pair.connect(a.node, b.node, {
      a: { features: a.features, mayPrune: author => a.policy.mayPrune(b.key, b.key, author, peer => a.pushes(peer, author)) },
      b: { features: b.features, mayPrune: author => b.policy.mayPrune(a.key, a.key, author, peer => b.pushes(peer, author)) }
    })
    a.attach(sa, b)
    b.attach(sb, a)
    return [sa, sb]
  }

  /** `a`'s session with `b`. */
  session (a: MeshNode, b: MeshNode): Session {
    const s = a.links.get(b.key)
    if (s == null) throw new Error(`${a.name} has no session with ${b.name}`)
    return s
  }

  /** Every pair of nodes linked. */
  full (): void {
    for (let i = 0; i < this.nodes.length; i++) for (let j = 0; j < i; j++) this.link(this.nodes[j], this.nodes[i])
  }

  async settle (): Promise<void> {
    await this.pair.settle()
  }

  async advance (ms: number): Promise<void> {
    await this.pair.advance(ms)
  }

  /** Entries sent in Entries frames, over every session so far. */
  get sent (): number {
    return this.pair.sessions.reduce((sum, s) => sum + s.core.sent, 0)
  }

  /** IHave frames sent so far. */
  get ihaves (): number {
    return this.pair.sessions.reduce((sum, s) => sum + s.sent.filter(m => m?.ihave != null).length, 0)
  }

  /** Whether every node holds every entry any node holds. */
  get converged (): boolean {
    const all = new Map<string, number>()
    for (const n of this.nodes) for (const [author, seq] of n.node.log.vector()) all.set(author, Math.max(seq, all.get(author) ?? 0))
    return this.nodes.every(n => [...all].every(([author, seq]) => n.node.log.authorSeq(author) >= seq))
  }

  async close (): Promise<void> {
    await this.pair.close()
  }
}
