// The simulator's run: a cluster grows, its writers broadcast (the first
// entry of each author, which forms its tree; a steady stream; a burst), 10%
// of the nodes die and as many join, and the writers broadcast again. Each
// step gives a report; nothing here prints.
import { performance } from 'node:perf_hooks'
import { Cluster, type GraphReport } from './cluster.js'
import { latencyQuantile, transitQuantile, type Latency } from './net.js'
import { Group, diff, spread, type Counters, type Spread } from './stats.js'
import type { SimNode } from './node.js'

export interface SimOptions {
  nodes: number
  seed?: number
  /** nodes that write @default 10 */
  writers?: number
  /** entries of the steady phase, and of the burst, over all writers @default 100 */
  events?: number
  /** one-way link latency @default 1-50 ms */
  latency?: Latency
  /** share of the nodes that die (and as many that join) @default 0.1 */
  churn?: number
  /** ms between two joins @default 10 */
  joinGap?: number
  /** ms the overlay settles after the last join (and after churn) @default 30_000 */
  settle?: number
  /** entries per second of the steady phases, over all writers @default 100 */
  rate?: number
  /** HyParView's active view size @default 6 */
  activeSize?: number
  /** HyParView's passive view size @default 30 */
  passiveSize?: number
  /** LazyRepair's wait from an IHave to its graft (ms) @default GRAFT_TIMEOUT */
  graftTimeout?: number
  /** a change the code could make, tried (NodeOptions.settledPrune) @default 0 */
  settledPrune?: number
  /** a change the code could make, tried (NodeOptions.orphanGraft) @default false */
  orphanGraft?: boolean
  /** a change the code could make, tried (NodeOptions.optimize) */
  optimize?: number
  /** each node writes an entry as it joins, as a real node writes its EventPeer @default false */
  announce?: boolean
  /** one machine's CPU for all the nodes (ClusterOptions.cpu); none: messages cost no CPU */
  cpu?: { cores: number, perMessage: number }
  /** each report as it is made */
  onReport?: (report: Report) => void
}

export type Report = SetupReport | PhaseReport | ChurnReport

export interface SetupReport {
  kind: 'setup'
  nodes: number
  /** virtual ms from the first join to the last */
  joinTime: number
  /** virtual ms after the last join until the active graph was first connected with every view non-empty, or undefined */
  connectedAfter: number | undefined
  /** ms after the last join that a session last opened or ended (to 100 ms) */
  lastChange: number
  /** the last change before SETTLE_QUIET ms without one, as the cluster benchmark measures settling */
  quietAfter: number | undefined
  graph: GraphReport
  counters: Counters
  virtual: number
  wall: number
}

export interface PhaseReport {
  kind: 'phase'
  name: string
  entries: number
  /** live nodes at the end */
  live: number
  /** sends of these entries / (entries × (live nodes − 1)) */
  sendsPerDelivery: number
  /** (entry, node) pairs held at the end / entries × (live nodes − 1) */
  deliveryRatio: number
  /** all delivered before the deadline */
  complete: boolean
  latency: Spread
  hops: Spread
  /** live nodes, summed over the writers, that the next entry would not reach by eager push alone (see Cluster.cutOff) */
  cutOff: number
  /** deliveries that a LazyRepair graft brought, and their latency */
  grafted: number
  graftedLatency: Spread
  /** the figure the p99 latency is held to: 10 × the link latency's p99 */
  latencyGoal: number
  /** the p50 and p99 of the messages' time on the wire in the phase, waits behind earlier messages of their link included */
  transitP50: number
  transitP99: number
  /** what happened from the first emit until the phase settled */
  counters: Counters
  virtual: number
  wall: number
}

export interface ChurnReport {
  kind: 'churn'
  killed: number
  joined: number
  graph: GraphReport
  /** catch-up of the nodes that joined, and repair: entries sent and first stores, over the churn and settling */
  counters: Counters
  virtual: number
  wall: number
}

/** What the run ended with, for tests. */
export interface SimResult {
  reports: Report[]
  cluster: Cluster
  writers: SimNode[]
}

const QUIET = 2000
const DEADLINE = 60_000

/** Runs the whole scenario. */
export function simulate (opts: SimOptions): SimResult {
  const reports: Report[] = []
  const report = (r: Report): void => {
    reports.push(r)
    opts.onReport?.(r)
  }
  const cluster = new Cluster({
    seed: opts.seed,
    latency: opts.latency,
    overlay: { activeSize: opts.activeSize, passiveSize: opts.passiveSize },
    repair: { timeout: opts.graftTimeout },
    settledPrune: opts.settledPrune,
    orphanGraft: opts.orphanGraft,
    optimize: opts.optimize,
    cpu: opts.cpu
  })
  const latency = cluster.net.latency
  report(grow(cluster, opts.nodes, opts.joinGap ?? 10, opts.settle ?? 30_000, opts.announce))
  const writers = pickWriters(cluster, opts.writers ?? 10)
  const events = opts.events ?? 100
  const rate = opts.rate ?? 100
  report(broadcast(cluster, 'first entries (tree forms)', writers, writers.length, { rate: Infinity, latency }))
  report(broadcast(cluster, 'steady', writers, events, { rate, latency }))
  report(broadcast(cluster, 'burst', writers, events, { rate: Infinity, latency }))
  // as many other nodes, one entry each, one at a time: each author's first
  // live entry (its first of all, unless every node wrote one as it joined,
  // `announce`), which finds no tree of its own and probes every link
  const newAuthors = pickWriters(cluster, writers.length, new Set(writers))
  report(broadcast(cluster, 'new authors (one entry each, one at a time)', newAuthors, newAuthors.length, { rate, latency }))
  report(churn(cluster, opts.churn ?? 0.1, new Set(writers), opts.joinGap ?? 10, opts.settle ?? 30_000))
  report(broadcast(cluster, 'steady after churn', writers, events, { rate, latency }))
  return { reports, cluster, writers }
}

/**
 * `n` nodes: the first starts alone, each other joins `gap` ms after the one
 * before through a random earlier one; then `settle` ms.
 */
export function grow (cluster: Cluster, n: number, gap: number, settle: number, announce = false): SetupReport {
  const wall = performance.now()
  const start = cluster.now
  const before = { ...cluster.counters }
  const joins = new Group('joins')
  const added = (node: SimNode): void => { if (announce) cluster.emit(node, 1, joins) }
  added(cluster.add())
  for (let i = 1; i < n; i++) {
    cluster.run(start + i * gap)
    const contact = cluster.nodes[Math.floor(cluster.random() * (cluster.nodes.length))]
    added(cluster.add(contact.alive ? contact : cluster.pick()))
  }
  const joined = cluster.now
  const { connectedAfter, lastChange, quietAfter } = settleOverlay(cluster, settle)
  return {
    kind: 'setup',
    nodes: n,
    joinTime: joined - start,
    connectedAfter,
    lastChange,
    quietAfter,
    graph: cluster.graph(),
    counters: diff(cluster.counters, before),
    virtual: cluster.now - start,
    wall: performance.now() - wall
  }
}

// Runs `settle` ms, noting when the active graph is first connected with no
// empty view (checked every second), and (checked every 100 ms) when a
// session last opened or ended, and the last change before the first SETTLE_QUIET
// ms without one (the cluster benchmark's settle time).
function settleOverlay (cluster: Cluster, settle: number): { connectedAfter: number | undefined, lastChange: number, quietAfter: number | undefined } {
  const from = cluster.now
  const changes = (): number => cluster.counters.sessionsOpened + cluster.counters.sessionsEnded
  let connectedAfter: number | undefined
  let lastChange = 0
  let quietAfter: number | undefined
  let seen = changes()
  for (let t = 0; t < settle; t += 100) {
    cluster.run(from + t)
    if (changes() !== seen) {
      seen = changes()
      lastChange = t
    } else if (quietAfter === undefined && t - lastChange >= SETTLE_QUIET) {
      quietAfter = lastChange
    }
    if (connectedAfter === undefined && t % 1000 === 0) {
      const g = cluster.graph()
      if (g.connected && g.empty === 0) connectedAfter = t
    }
  }
  cluster.run(from + settle)
  if (connectedAfter === undefined) {
    const g = cluster.graph()
    if (g.connected && g.empty === 0) connectedAfter = settle
  }
  return { connectedAfter, lastChange, quietAfter }
}

/** ms without a session change that end settling, as in the cluster benchmark */
const SETTLE_QUIET = 2000

/** `count` distinct random live nodes. */
export function pickWriters (cluster: Cluster, count: number, not?: ReadonlySet<SimNode>): SimNode[] {
  const alive = cluster.alive().filter(n => not?.has(n) !== true)
  const out: SimNode[] = []
  for (let i = 0; i < count && alive.length > 0; i++) {
    const j = Math.floor(cluster.random() * alive.length)
    out.push(alive[j])
    alive.splice(j, 1)
  }
  return out
}

export interface BroadcastOptions {
  /** entries per second over all writers, one at a time in turn; Infinity: each writer commits its share at once */
  rate: number
  latency: Latency
  /** runs at this ms after the first emit (to kill a relay mid-stream, say) */
  during?: { at: number, run: () => void }
}

/**
 * The writers emit `count` entries (in turn at `rate`, or each its share at
 * once); then the cluster runs until every live node holds them (or
 * DEADLINE after the last emit), and QUIET ms more.
 */
export function broadcast (cluster: Cluster, name: string, writers: SimNode[], count: number, opts: BroadcastOptions): PhaseReport {
  const wall = performance.now()
  const start = cluster.now
  const before = { ...cluster.counters }
  const transit = cluster.net.transit.slice()
  const group = new Group(name)
  const upTo = new Map<string, number>()
  const emit = (writer: SimNode, n: number): void => {
    if (n === 0 || !writer.alive) return
    const entries = cluster.emit(writer, n, group)
    upTo.set(writer.key, entries[entries.length - 1].seq)
  }
  let during = opts.during
  const runTo = (t: number): void => {
    if (during !== undefined && start + during.at <= t) {
      cluster.run(start + during.at)
      during.run()
      during = undefined
    }
    cluster.run(t)
  }
  if (opts.rate === Infinity) {
    for (let w = 0; w < writers.length; w++) emit(writers[w], Math.floor(count / writers.length) + (w < count % writers.length ? 1 : 0))
  } else {
    const gap = 1000 / opts.rate
    for (let i = 0; i < count; i++) {
      runTo(start + i * gap)
      emit(writers[i % writers.length], 1)
    }
  }
  const last = cluster.now
  if (during !== undefined) runTo(Math.max(cluster.now, start + during.at))
  const complete = cluster.runUntilDelivered(upTo, last + DEADLINE)
  cluster.run(cluster.now + QUIET)
  const live = cluster.live
  const pairs = group.entries * (live - 1)
  const transitDiff = cluster.net.transit.map((n, i) => n - transit[i])
  return {
    kind: 'phase',
    name,
    entries: group.entries,
    live,
    sendsPerDelivery: pairs === 0 ? NaN : group.sends / pairs,
    deliveryRatio: pairs === 0 ? NaN : 1 - cluster.missing(upTo) / pairs,
    complete,
    latency: spread(group.latencies),
    hops: spread(group.hops),
    cutOff: writers.reduce((sum, w) => sum + cluster.cutOff(w), 0),
    grafted: group.grafted.length,
    graftedLatency: spread(group.grafted),
    latencyGoal: 10 * latencyQuantile(opts.latency, 0.99),
    transitP50: transitQuantile(transitDiff, 0.5),
    transitP99: transitQuantile(transitDiff, 0.99),
    counters: diff(cluster.counters, before),
    virtual: cluster.now - start,
    wall: performance.now() - wall
  }
}

/**
 * Kills `share` of the live nodes (at random, sparing `spare`), then as
 * many new nodes join, `gap` ms apart, each through a random live one; then
 * `settle` ms.
 */
export function churn (cluster: Cluster, share: number, spare: ReadonlySet<SimNode>, gap: number, settle: number): ChurnReport {
  const wall = performance.now()
  const start = cluster.now
  const before = { ...cluster.counters }
  const candidates = cluster.alive().filter(n => !spare.has(n))
  const kills = Math.min(candidates.length, Math.round(share * cluster.live))
  for (let i = 0; i < kills; i++) {
    const j = Math.floor(cluster.random() * candidates.length)
    cluster.kill(candidates[j])
    candidates.splice(j, 1)
  }
  for (let i = 0; i < kills; i++) {
    cluster.run(start + i * gap)
    cluster.add(cluster.pick())
  }
  settleOverlay(cluster, settle)
  return {
    kind: 'churn',
    killed: kills,
    joined: kills,
    graph: cluster.graph(),
    counters: diff(cluster.counters, before),
    virtual: cluster.now - start,
    wall: performance.now() - wall
  }
}
