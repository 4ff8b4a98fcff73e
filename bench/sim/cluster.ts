// The simulated world: nodes on one scheduler and one network, the entries
// they write, and what can be asked of the whole (is the active graph
// connected, are the views within bounds, who holds what).
import { Cpu, MAX_NODES, Network, Scheduler, seeded, type Latency } from './net.js'
import { SimNode, makeEntry, type NodeOptions, type SimEntry, type Wire, type World } from './node.js'
import { counters, type Counters, type Group } from './stats.js'

export interface ClusterOptions extends NodeOptions {
  seed?: number
  /** one-way latency of a message @default 1-50 ms */
  latency?: Latency
  /**
   * ms from a node's death to the moment a peer with a connection to it
   * notices. Undefined: one round trip, as for a process that dies and whose
   * connections are closed by its host (a host that vanishes would take the
   * connection monitor's ping timeout instead).
   */
  detect?: number
  /** one machine's CPU for all the nodes (see Cpu): its cores, and what a message costs its sender and its receiver (ms) */
  cpu?: { cores: number, perMessage: number }
}

export class Cluster implements World {
  readonly clock = new Scheduler()
  readonly net: Network<Wire>
  readonly counters: Counters = counters()
  readonly nodes: SimNode[] = []
  /** the world's randomness for its own choices (contacts, victims, writers); the network and each node have their own */
  readonly random: () => number
  readonly #opts: ClusterOptions
  readonly #nodeSeeds: () => number
  readonly #entries = new Map<string, SimEntry[]>()
  readonly #authorBytes = new Map<string, Uint8Array>()
  #entryCount = 0
  #stream = 0
  #live = 0

  constructor (opts: ClusterOptions = {}) {
    this.#opts = opts
    const master = seeded(opts.seed ?? 1)
    const child = (): (() => number) => seeded(Math.floor(master() * 2 ** 32))
    this.random = child()
    this.net = new Network<Wire>(this.clock, opts.latency ?? { min: 1, max: 50 }, child())
    this.net.wires = {
      deliver: (from, to, wire) => { this.nodes[to].receive(this.nodes[from].id, wire) },
      lost: (from, to, wire, sentAt) => { this.nodes[from].lost(this.nodes[to].id, wire, sentAt) }
    }
    if (opts.cpu != null) this.net.cpu = new Cpu(opts.cpu.cores, opts.cpu.perMessage)
    this.#nodeSeeds = child()
  }

  get now (): number {
    return this.clock.now
  }

  /** Live nodes. */
  get live (): number {
    return this.#live
  }

  node (id: string): SimNode {
    return this.nodes[Number(id)]
  }

  entriesOf (author: string): readonly SimEntry[] {
    return this.#entries.get(author) ?? []
  }

  stream (): number {
    return ++this.#stream
  }

  delivered (_node: SimNode, entry: SimEntry, hops: number, grafted: boolean): void {
    this.counters.deliveries++
    const g = entry.group
    const latency = this.clock.now - entry.emittedAt
    g.deliveries++
    g.latencies.push(latency)
    g.hops.push(hops)
    if (grafted) g.grafted.push(latency)
  }

  /** A new node; it joins through `contact` if given (else it starts alone). */
  add (contact?: SimNode): SimNode {
    const index = this.nodes.length
    if (index >= MAX_NODES) throw new Error(`at most ${MAX_NODES} nodes`)
    const key = index.toString(16).padStart(64, '0')
    const seed = Math.floor(this.#nodeSeeds() * 2 ** 32)
    const node = new SimNode(this, index, key, seeded(seed), this.#opts)
    this.nodes.push(node)
    this.#live++
    if (contact === undefined) node.start()
    else node.join(contact.id)
    return node
  }

  /** Live nodes, in id order. */
  alive (): SimNode[] {
    return this.nodes.filter(n => n.alive)
  }

  /** A random live node (other than `not`). */
  pick (not?: SimNode): SimNode {
    const alive = this.alive().filter(n => n !== not)
    return alive[Math.min(alive.length - 1, Math.floor(this.random() * alive.length))]
  }

  /**
   * Kills `node`: what is on its way to or from it is lost, and every live
   * node with a connection to it (an active peer, or a session) notices
   * after `detect` ms.
   */
  kill (node: SimNode): void {
    if (!node.alive) return
    node.kill()
    this.net.kill(node.index)
    this.#live--
    for (const other of this.nodes) {
      if (!other.alive || (!other.view.active.has(node.id) && !other.sessions.has(node.id))) continue
      const after = this.#opts.detect ?? this.net.roundTrip(node.index, other.index)
      this.clock.after(after, () => { other.disconnected(node.id) })
    }
  }

  /** `writer` writes `count` entries in one commit, counted in `group`. */
  emit (writer: SimNode, count: number, group: Group): SimEntry[] {
    let list = this.#entries.get(writer.key)
    if (list === undefined) {
      list = [undefined as unknown as SimEntry]
      this.#entries.set(writer.key, list)
      this.#authorBytes.set(writer.key, Buffer.from(writer.key, 'hex'))
    }
    const authorBytes = this.#authorBytes.get(writer.key) as Uint8Array
    const out: SimEntry[] = []
    const first = writer.seq(writer.key) + 1
    for (let i = 0; i < count; i++) {
      const e = makeEntry(this.#entryCount++, writer.key, authorBytes, first + i, this.clock.now, group)
      list[e.seq] = e
      out.push(e)
    }
    group.entries += count
    writer.write(out)
    return out
  }

  run (until: number): void {
    this.clock.runUntil(until)
  }

  /**
   * Whether every live node holds every entry of `authors` up to the given
   * seqs (the author itself aside): how many (entry, node) pairs are missing.
   */
  missing (upTo: ReadonlyMap<string, number>): number {
    let missing = 0
    for (const n of this.nodes) {
      if (!n.alive) continue
      for (const [author, seq] of upTo) {
        if (author === n.key) continue
        const have = n.seq(author)
        if (have < seq) missing += seq - have
      }
    }
    return missing
  }

  /** Runs until `missing(upTo)` is 0 (checked every `step` ms) or the clock passes `deadline`. */
  runUntilDelivered (upTo: ReadonlyMap<string, number>, deadline: number, step = 50): boolean {
    while (this.clock.now < deadline) {
      this.run(Math.min(deadline, this.clock.now + step))
      if (this.missing(upTo) === 0) return true
    }
    return this.missing(upTo) === 0
  }

  /** The active graph of live nodes: degrees, connectivity, and whether the views keep their rules. */
  graph (): GraphReport {
    const alive = this.alive()
    let min = Infinity
    let max = 0
    let sum = 0
    let asymmetric = 0
    let deadActive = 0
    let empty = 0
    let outOfBounds = 0
    const activeSize = this.#opts.overlay?.activeSize ?? 6
    const passiveSize = this.#opts.overlay?.passiveSize ?? 30
    let sessions = 0
    let sessionsNotActive = 0
    for (const n of alive) {
      const d = n.view.active.size
      min = Math.min(min, d)
      max = Math.max(max, d)
      sum += d
      if (d === 0) empty++
      let bad = d > activeSize || n.view.passive.size > passiveSize || n.view.active.has(n.id) || n.view.passive.has(n.id)
      for (const p of n.view.active) {
        if (n.view.passive.has(p)) bad = true
        const other = this.node(p)
        if (!other.alive) deadActive++
        else if (!other.view.active.has(n.id)) asymmetric++
      }
      if (bad) outOfBounds++
      sessions += n.sessions.size
      for (const p of n.sessions.keys()) if (!n.view.active.has(p)) sessionsNotActive++
    }
    // reached from the first live node over active links, either way
    const seen = new Set<string>()
    if (alive.length > 0) {
      const adj = new Map<string, string[]>()
      const link = (a: string, b: string): void => {
        const list = adj.get(a)
        if (list === undefined) adj.set(a, [b])
        else list.push(b)
      }
      for (const n of alive) {
        for (const p of n.view.active) {
          if (!this.node(p).alive) continue
          link(n.id, p)
          link(p, n.id)
        }
      }
      const todo = [alive[0].id]
      seen.add(alive[0].id)
      for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
        for (const p of adj.get(id) ?? []) {
          if (seen.has(p)) continue
          seen.add(p)
          todo.push(p)
        }
      }
    }
    return {
      live: alive.length,
      degree: { min: alive.length === 0 ? 0 : min, mean: alive.length === 0 ? 0 : sum / alive.length, max },
      reached: seen.size,
      connected: seen.size === alive.length,
      asymmetric,
      deadActive,
      empty,
      outOfBounds,
      sessions,
      sessionsNotActive
    }
  }

  /**
   * The live nodes that `author`'s next entry cannot reach by eager push
   * alone: no chain of links from the author on which each receiver has
   * left the author unpruned. They get it only by a graft.
   */
  cutOff (author: SimNode): number {
    if (!author.alive) return 0
    const seen = new Set<SimNode>([author])
    const todo = [author]
    for (let n = todo.pop(); n !== undefined; n = todo.pop()) {
      for (const id of n.sessions.keys()) {
        const next = this.node(id)
        if (!next.alive || seen.has(next) || !next.eagerFrom(n.id, author.key)) continue
        seen.add(next)
        todo.push(next)
      }
    }
    return this.#live - seen.size
  }

  /**
   * For `author`, the live nodes (the author aside) whose copies others
   * stored last: the relays of its tree, with how many nodes each fed.
   */
  relays (author: string): Map<SimNode, number> {
    const count = new Map<SimNode, number>()
    for (const n of this.nodes) {
      if (!n.alive) continue
      const p = n.parent.get(author)
      if (p === undefined) continue
      const relay = this.node(p)
      if (!relay.alive || relay.key === author) continue
      count.set(relay, (count.get(relay) ?? 0) + 1)
    }
    return count
  }
}

export interface GraphReport {
  live: number
  degree: { min: number, mean: number, max: number }
  /** live nodes reached from one over active links */
  reached: number
  connected: boolean
  /** active links that the other end does not hold active */
  asymmetric: number
  /** active links to dead nodes */
  deadActive: number
  /** live nodes with no active peer */
  empty: number
  /** live nodes whose views break a bound or rule (size, self, overlap) */
  outOfBounds: number
  /** sync sessions (per side) */
  sessions: number
  /** sessions with a peer not in the active view */
  sessionsNotActive: number
}
