// The cluster benchmark: N emitters, each in its own OS process on
// memory-level, listening on 127.0.0.1, each joining the cluster through one
// random earlier node. For each N it measures how the topology settles, what
// replication costs under steady and bursty writes (entries sent per needed
// delivery, 1.0 at best), how fast one event reaches every node, sessions
// dropped under load and peak RSS. It prints a table per N and one JSON line
// with all its figures.
//
//   npm run bench:cluster -- --nodes 10,20,40 [--writers K] [--rate R] [--burst B]
//     [--seconds S] [--rounds R] [--timeout S] [--seed S] [--active N] [--max-connections M] [--keep-going]
//
// A phase that does not converge within --timeout seconds is reported as
// "did not converge", with what was missing, and the run goes on with the
// next N (with --keep-going, with the next phase).
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { NodeProcess, killAll, type Line } from './cluster-proc.js'
import { percentile, round } from './util.js'

const { values: args } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10,20,40' },
    writers: { type: 'string' },
    /** events a second each writer emits in the steady phase */
    rate: { type: 'string', default: '2500' },
    /** events each writer emits at once in the burst phase */
    burst: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '20' },
    timeout: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    active: { type: 'string' },
    'max-connections': { type: 'string' },
    'keep-going': { type: 'boolean', default: false }
  }
})

const SIZES = args.nodes.split(',').map(Number)
const RATE = Number(args.rate)
const BURST = Number(args.burst)
const SECONDS = Number(args.seconds)
const ROUNDS = Number(args.rounds)
const TIMEOUT = Number(args.timeout) * 1000
const SEED = Number(args.seed)
/** the steady phase emits every TICK ms */
const TICK = 20
/** no session up or down on any node for this long: the topology is stable */
const QUIET = 2000
/** no entry sent on any link for this long: the cluster is quiet */
const QUIET_SENDS = 1000
/** the one-event phase first measures the node processes at rest for this long */
const IDLE_MS = 3000
/** a one-event round slower than this is listed, with where it came from and its last node */
const SLOW_ROUND_MS = 150
/** a node process lives no longer than this, whatever happens to the driver */
const MAX_LIFE = 60 * 60_000

for (const n of SIZES) if (!Number.isInteger(n) || n < 2) throw new Error(`--nodes: ${n} is not a node count of 2 or more`)

process.on('SIGINT', () => { killAll(); process.exit(130) })
process.on('SIGTERM', () => { killAll(); process.exit(143) })

class NotConverged extends Error {
  constructor (readonly phase: string, readonly missing: Record<string, unknown>) {
    super(`${phase} did not converge within ${TIMEOUT / 1000} s`)
  }
}

interface Stats {
  node: number
  length: number
  heads: string
  sessions: number
  connections: number | null
  connectedPeers: number | null
  sent: number
  sentSeen: number
  received: number
  sync: Record<string, number> | null
  rssMB: number
  peakRssMB: number
  cpuMs: number
  /** main-thread GC pauses so far (ms), and the major ones */
  gc?: { ms: number, majorMs: number, major: number }
}

interface Spread { min: number, mean: number, max: number }

// mulberry32: the same seed picks the same join targets, writers and emitters
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0)

function spread (xs: number[], digits = 1): Spread {
  if (xs.length === 0) return { min: NaN, mean: NaN, max: NaN }
  return { min: round(Math.min(...xs), digits), mean: round(sum(xs) / xs.length, digits), max: round(Math.max(...xs), digits) }
}

function progress (text: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${text}\n`)
}

async function statsAll (nodes: NodeProcess[], ms: number): Promise<Stats[]> {
  const lines = await Promise.all(nodes.map(node => node.request('stats', {}, ms)))
  return lines.map((l, i) => ({ ...(l as unknown as Stats), node: i }))
}

/** The stats of the nodes that answer within `ms`: for reports after a failure. */
async function statsSome (nodes: NodeProcess[], ms: number): Promise<Stats[]> {
  const settled = await Promise.allSettled(nodes.map(node => node.request('stats', {}, ms)))
  return settled.flatMap((s, i) => s.status === 'fulfilled' ? [{ ...(s.value as unknown as Stats), node: i }] : [])
}

function changesBetween (nodes: NodeProcess[], from: number, to: number): { up: number, down: number } {
  let up = 0
  let down = 0
  for (const node of nodes) {
    for (const c of node.changes) {
      if (c.at < from || c.at > to) continue
      if (c.t === 'connect') up++
      else down++
    }
  }
  return { up, down }
}

/** Stats once no node sent an entry for QUIET_SENDS ms (or at `until`). */
async function quiesce (nodes: NodeProcess[], until: number): Promise<Stats[]> {
  let stats = await statsAll(nodes, TIMEOUT)
  for (;;) {
    await sleep(QUIET_SENDS)
    const next = await statsAll(nodes, TIMEOUT)
    const same = sum(next.map(s => s.sentSeen)) === sum(stats.map(s => s.sentSeen))
    stats = next
    if (same || Date.now() > until) return stats
  }
}

/** Session changes since `from`, in s after it, per node: `+` a session began, `-` one ended. */
function sessionTimeline (nodes: NodeProcess[], from: number): Record<string, string> {
  const timeline: Record<string, string> = {}
  nodes.forEach((node, i) => {
    const changes = node.changes.filter(c => c.at >= from)
    if (changes.length > 0) timeline[i] = changes.map(c => `${c.t === 'connect' ? '+' : '-'}${round((c.at - from) / 1000, 1)}`).join(' ')
  })
  return timeline
}

function lastChange (nodes: NodeProcess[]): number {
  return Math.max(0, ...nodes.map(node => node.changes.at(-1)?.at ?? 0))
}

/**
 * Starts the nodes one after another (the next once the previous one
 * listens); each but the first joins through one random earlier node.
 * Resolves once every join ended.
 */
async function start (nodes: NodeProcess[], n: number, random: () => number, info: Record<string, unknown>): Promise<Record<string, unknown>> {
  const options: Record<string, unknown> = {
    // every node is on 127.0.0.1: libp2p's per-host limit would refuse a cluster's dials
    inboundConnectionThreshold: Math.max(50, n * n)
  }
  if (args.active != null) options.activePeers = Number(args.active)
  if (args['max-connections'] != null) options.maxConnections = Number(args['max-connections'])
  info.options = options
  const addrs: string[] = []
  const joins: Array<Promise<{ at: number, ms?: number, error?: string }>> = []
  const openMs: number[] = []
  const t = Date.now()
  for (let i = 0; i < n; i++) {
    const spawned = Date.now()
    const node = new NodeProcess(i, { options, maxLife: MAX_LIFE })
    nodes.push(node)
    // a process starting on a busy machine takes seconds to load libp2p
    await node.waitFor(l => l.t === 'open', TIMEOUT, 'open')
    openMs.push(Date.now() - spawned)
    const listening = await node.request('listen', {}, TIMEOUT)
    addrs.push((listening.addrs as string[])[0])
    info.listening = i + 1
    info.elapsedMs = Date.now() - t
    info.openMs = spread(openMs, 0)
    if (i > 0) {
      const to = Math.floor(random() * i)
      joins.push(node.request('connect', { addr: addrs[to] }, TIMEOUT).then(
        l => ({ at: l.at, ms: l.ms as number }),
        (err: Error) => ({ at: Date.now(), error: `node ${i} via node ${to}: ${err.message}` })
      ))
    }
  }
  const startedMs = Date.now() - t
  const joined = await Promise.all(joins)
  const failed = joined.flatMap(j => j.error != null ? [j.error] : [])
  return {
    options,
    startedMs,
    openMs: spread(openMs, 0),
    lastJoinAt: Math.max(t, ...joined.map(j => j.at)),
    connectMs: spread(joined.flatMap(j => j.ms != null ? [j.ms] : [])),
    joinsFailed: failed
  }
}

/**
 * Waits for every node to hold every EventPeer (each knows of all others),
 * then for no session change on any node for QUIET ms. Counting the quiet
 * time from the last join alone misses the dials of a slow cluster: the
 * newest node's EventPeer may take longer than QUIET to reach everyone.
 */
async function settle (nodes: NodeProcess[], lastJoinAt: number): Promise<Record<string, unknown>> {
  const n = nodes.length
  const deadline = lastJoinAt + TIMEOUT
  const left = Math.max(0, deadline - Date.now())
  const known = await Promise.allSettled(nodes.map(node => node.request('await-length', { length: n, timeoutMs: left }, left + 5000)))
  if (known.some(r => r.status === 'rejected')) {
    const stats = await statsSome(nodes, 30_000)
    throw new NotConverged('settle', { what: `nodes without all ${n} EventPeer entries`, nodes: stats.filter(s => s.length < n).map(s => ({ node: s.node, length: s.length })) })
  }
  const allKnownAt = Math.max(...known.map(r => (r as PromiseFulfilledResult<Line>).value.at))
  for (;;) {
    const quietSince = Math.max(lastChange(nodes), allKnownAt)
    if (Date.now() - quietSince >= QUIET) break
    if (Date.now() > deadline) {
      const recent = changesBetween(nodes, Date.now() - QUIET, Date.now())
      throw new NotConverged('settle', { what: `sessions still coming and going: ${recent.up} up, ${recent.down} down in the last ${QUIET / 1000} s`, ...recent })
    }
    await sleep(100)
  }
  const last = lastChange(nodes)
  const stats = await statsAll(nodes, TIMEOUT)
  return {
    settleMs: Math.max(0, last - lastJoinAt),
    allKnownMs: allKnownAt - lastJoinAt,
    changesAfterLastJoin: changesBetween(nodes, lastJoinAt, Date.now()),
    connections: spread(stats.map(s => s.connections ?? NaN)),
    connectedPeers: spread(stats.map(s => s.connectedPeers ?? NaN)),
    sessions: spread(stats.map(s => s.sessions)),
    fullMeshNodes: stats.filter(s => s.sessions === n - 1).length,
    sessionsByNode: stats.map(s => s.sessions)
  }
}

/** Emits on the writers with `cmd`, then waits until every node holds every event with identical heads. */
async function load (phase: string, nodes: NodeProcess[], writers: number[], cmd: string, cmdArgs: Record<string, unknown>, emitMs: number): Promise<Record<string, unknown>> {
  const n = nodes.length
  const before = await quiesce(nodes, Date.now() + TIMEOUT)
  const base = Math.max(...before.map(s => s.length))
  const startAt = Date.now()
  // emits fall behind their schedule on a busy machine: that is measured, not a failure
  const emitting = await Promise.allSettled(writers.map(w => nodes[w].request(cmd, cmdArgs, 10 * emitMs + TIMEOUT)))
  const failed = emitting.flatMap(e => e.status === 'rejected' ? [String((e.reason as Error).message)] : [])
  if (failed.length > 0) throw new NotConverged(phase, { what: `${failed.length} of ${writers.length} writers' emits did not all resolve`, errors: failed })
  const replies = emitting.map(e => (e as PromiseFulfilledResult<Line>).value)
  const issued = sum(replies.map(r => r.issued as number))
  const lastEmitAt = Math.max(...replies.map(r => r.lastAt as number))
  const target = base + issued
  const deadline = lastEmitAt + TIMEOUT
  const left = Math.max(0, deadline - Date.now())
  const reached = await Promise.allSettled(nodes.map(node => node.request('await-length', { length: target, timeoutMs: left }, left + 5000)))
  if (reached.some(r => r.status === 'rejected')) {
    const stats = await statsSome(nodes, 30_000)
    const short = stats.filter(s => s.length < target)
    const late = Math.round((Date.now() - lastEmitAt) / 1000)
    throw new NotConverged(phase, {
      what: short.length > 0
        ? `${short.length} of ${n} nodes (of ${stats.length} that answered) lack events ${late} s after the last emit`
        : `not every node had every event ${TIMEOUT / 1000} s after the last emit (all had them when asked again, ${late} s after it)`,
      nodes: short.map(s => ({ node: s.node, lacks: target - s.length })),
      lacking: sum(short.map(s => target - s.length)),
      needed: issued * (n - 1),
      emitMs: spread(replies.map(r => (r.ms as number | undefined) ?? (r.lastAt as number) - (r.startAt as number)), 0),
      // of the nodes that answered: a floor when some did not
      sendsPerNeededSoFar: round((sum(stats.map(s => s.sent)) - sum(before.filter(b => stats.some(s => s.node === b.node)).map(b => b.sent))) / (issued * (n - 1)), 3),
      sessions: changesBetween(nodes, startAt, Date.now()),
      sessionChanges: sessionTimeline(nodes, startAt)
    })
  }
  let convergedAt = Math.max(...reached.map(r => (r as PromiseFulfilledResult<Line>).value.at))
  let heads = new Set(reached.map(r => (r as PromiseFulfilledResult<Line>).value.heads as string))
  // equal lengths over the same events are equal heads; this checks it
  while (heads.size > 1) {
    if (Date.now() > deadline) throw new NotConverged(phase, { what: `all hold ${target} entries, but with ${heads.size} different heads` })
    await sleep(50)
    heads = new Set((await statsAll(nodes, TIMEOUT)).map(s => s.heads))
    convergedAt = Date.now()
  }
  const reachedAt = reached.map(r => (r as PromiseFulfilledResult<Line>).value.at)
  // duplicates still in flight when the last node has everything are the phase's too
  const after = await quiesce(nodes, Date.now() + TIMEOUT)
  const needed = issued * (n - 1)
  const sends = sum(after.map(s => s.sent)) - sum(before.map(s => s.sent))
  const sendsSeen = sum(after.map(s => s.sentSeen)) - sum(before.map(s => s.sentSeen))
  const counted = (key: string): number => syncGrowth(before, after, key)
  return {
    events: issued,
    emitMs: spread(replies.map(r => (r.ms as number | undefined) ?? (r.lastAt as number) - (r.startAt as number)), 0),
    sends,
    needed,
    sendsPerNeeded: round(sends / needed, 3),
    sendsPerNeededWithEnded: round(sendsSeen / needed, 3),
    // what the broadcast tree did: authors pruned and grafted (by IHave repair),
    // IHave items, and entries sent that were not stored (copies that crossed)
    tree: {
      prunes: counted('prunesSent'),
      grafts: counted('graftsSent'),
      repairGrafts: counted('repairGrafts'),
      ihaves: counted('ihavesSent'),
      notStored: counted('entriesSent') - counted('entriesStored')
    },
    convergeAfterLastEmitMs: convergedAt - lastEmitAt,
    convergeFromStartMs: convergedAt - startAt,
    nodeHadAllAfterLastEmitMs: spread(reachedAt.map(at => at - lastEmitAt), 0),
    // when sessions went down and came back, in s from the phase's start
    sessionChanges: sessionTimeline(nodes, startAt),
    sessions: changesBetween(nodes, startAt, Date.now()),
    sessionsAfter: spread(after.map(s => s.sessions)),
    window: [startAt, Date.now()]
  }
}

// One event emitted by node `from` with `mark`, awaited at every node: the
// ms until the last other node had it, and when each node (`seen`) and each
// other node (`others`) had it. `round` names it in a failure, after
// `roundsDone` rounds.
async function eventToAll (nodes: NodeProcess[], from: number, mark: string, round: string, roundsDone: number): Promise<{ ms: number, startAt: number, seen: number[], others: number[] }> {
  const reply = await nodes[from].request('emit-one', { mark }, TIMEOUT)
  const startAt = reply.startAt as number
  const until = Date.now() + TIMEOUT
  const seen = await Promise.all(nodes.map(node => node.seenBy(mark, until)))
  const missing = seen.flatMap((at, i) => at == null ? [i] : [])
  if (missing.length > 0) throw new NotConverged('one event to all', { what: `${round}: the event from node ${from} did not reach ${missing.length} nodes`, nodes: missing, roundsDone })
  const others = seen.filter((_, i) => i !== from) as number[]
  return { ms: Math.max(...others) - startAt, startAt, seen: seen as number[], others }
}

async function oneEvent (nodes: NodeProcess[], writers: number[], random: () => number, tag: string): Promise<Record<string, unknown>> {
  // The run's first Hello costs every process its first use of that event
  // type (the codecs protobufjs generates, code compiled on first call):
  // 2-3 times a later round at N = 40. It goes first, from a writer, and is
  // reported apart; the rounds measure a cluster that has seen the type.
  const warmUpMs = (await eventToAll(nodes, writers[0], `${tag}-warm-up`, 'the warm-up round', 0)).ms
  // what the node processes take at rest, over IDLE_MS with nothing emitted
  const rest = await quiesce(nodes, Date.now() + TIMEOUT)
  const restStart = Date.now()
  await sleep(IDLE_MS)
  const before = await statsAll(nodes, TIMEOUT)
  const idleCores = coresUsed(rest, before, Date.now() - restStart)
  const phaseStart = Date.now()
  // an author's first entry floods every link (the probes that form its
  // tree); later ones go down the tree: the two are reported apart too
  const wrote = new Set(writers)
  const first: number[] = []
  const later: number[] = []
  const last: number[] = []
  const each: number[] = []
  /** rounds whose event took more than SLOW_ROUND_MS to reach the last node */
  const slow: Array<{ round: number, from: number, first: boolean, ms: number, lastNode: number }> = []
  for (let r = 0; r < ROUNDS; r++) {
    const from = Math.floor(random() * nodes.length)
    const { ms, startAt, seen, others } = await eventToAll(nodes, from, `${tag}-${r}`, `round ${r}`, r)
    last.push(ms)
    const firstOfAuthor = !wrote.has(from)
    if (firstOfAuthor) first.push(ms)
    else later.push(ms)
    wrote.add(from)
    if (ms > SLOW_ROUND_MS) slow.push({ round: r, from, first: firstOfAuthor, ms, lastNode: seen.indexOf(ms + startAt) })
    for (const at of others) each.push(at - startAt)
    await sleep(100)
  }
  const after = await statsAll(nodes, TIMEOUT)
  const counted = (key: string): number => syncGrowth(before, after, key)
  const phaseMs = Date.now() - phaseStart
  const cores = coresUsed(before, after, phaseMs)
  // the three nodes that used the most CPU in the phase, with their share of a core
  const busiest = after.map((s, i) => ({ node: s.node, cores: round((s.cpuMs - before[i].cpuMs) / phaseMs, 2) })).sort((a, b) => b.cores - a.cores).slice(0, 3)
  const byRound = [...last]
  last.sort((a, b) => a - b)
  each.sort((a, b) => a - b)
  return {
    rounds: ROUNDS,
    warmUpMs,
    lastNodeMs: { p50: percentile(last, 0.5), p99: percentile(last, 0.99), max: last.at(-1) },
    perNodeMs: { p50: percentile(each, 0.5), p99: percentile(each, 0.99), max: each.at(-1) },
    byAuthor: { first: tail(first), later: tail(later) },
    cores,
    idleCores,
    busiest,
    gc: { rest: gcBetween(rest, before), phase: gcBetween(before, after) },
    slowRounds: slow,
    byRound,
    tree: { prunes: counted('prunesSent'), grafts: counted('graftsSent'), repairGrafts: counted('repairGrafts') }
  }
}

/** How much `pick` of all nodes grew from `before` to `after`. */
function growth (before: Stats[], after: Stats[], pick: (s: Stats) => number): number {
  return sum(after.map(pick)) - sum(before.map(pick))
}

/** How much a sync counter of all nodes grew from `before` to `after`. */
function syncGrowth (before: Stats[], after: Stats[], key: string): number {
  return growth(before, after, s => s.sync?.[key] ?? 0)
}

/** The cores all node processes kept busy from `before` to `after`, `ms` apart (on 2 cores, 2.0 is the whole machine). */
function coresUsed (before: Stats[], after: Stats[], ms: number): number {
  return round(growth(before, after, s => s.cpuMs) / ms, 2)
}

/** The GC pauses of all nodes between two samples: ms, and the major ones (ms and count). */
function gcBetween (before: Stats[], after: Stats[]): { ms: number, majorMs: number, major: number } {
  const grown = (key: 'ms' | 'majorMs' | 'major'): number => growth(before, after, s => s.gc?.[key] ?? 0)
  return { ms: round(grown('ms'), 0), majorMs: round(grown('majorMs'), 0), major: grown('major') }
}

/** How many, p50 and p99 (ms) of `values`. */
function tail (values: number[]): { n: number, p50?: number, p99?: number } {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted.length === 0 ? { n: 0 } : { n: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) }
}

interface Result {
  name: 'cluster'
  nodes: number
  writers: number[]
  problems: Array<{ phase: string, error: string, missing?: Record<string, unknown> }>
  [phase: string]: unknown
}

async function cluster (n: number): Promise<Result> {
  const random = prng(SEED * 1000 + n)
  const t = Date.now()
  const nodes: NodeProcess[] = []
  const k = Math.min(n, args.writers != null ? Number(args.writers) : 5)
  const writers: number[] = []
  while (writers.length < k) {
    const w = Math.floor(random() * n)
    if (!writers.includes(w)) writers.push(w)
  }
  // other work on the machine moves every figure here: the load is part of the record
  const result: Result = { name: 'cluster', nodes: n, writers, problems: [], loadavgBefore: loadavg().map(x => round(x, 1)) }
  const perTick = Math.max(1, Math.round(RATE * TICK / 1000))
  const ticks = Math.round(SECONDS * 1000 / TICK)
  const startInfo: Record<string, unknown> = {}
  const phases: Array<[string, () => Promise<Record<string, unknown>>]> = [
    ['start', () => start(nodes, n, random, startInfo)],
    ['settle', () => settle(nodes, (result.start as { lastJoinAt: number }).lastJoinAt)],
    ['steady', () => load('steady', nodes, writers, 'emit-steady', { perTick, intervalMs: TICK, ticks }, SECONDS * 1000)],
    ['burst', () => load('burst', nodes, writers, 'emit-burst', { count: BURST }, 0)],
    ['oneEvent', () => oneEvent(nodes, writers, random, `n${n}`)]
  ]
  try {
    for (const [name, phase] of phases) {
      progress(`N=${n}: ${name}`)
      try {
        result[name] = await phase()
      } catch (err) {
        const missing = err instanceof NotConverged ? err.missing : undefined
        result.problems.push({ phase: name, error: (err as Error).message, missing })
        result[name] = { status: err instanceof NotConverged ? 'did not converge' : 'failed', ...(name === 'start' ? startInfo : {}) }
        progress(`N=${n}: ${name}: ${(err as Error).message}${missing != null ? ` (${String(missing.what)})` : ''}`)
        // a node that is not running leaves nothing to measure
        if (name === 'start' || !(err instanceof NotConverged) || !args['keep-going']) break
      }
    }
    const stats = await statsSome(nodes, 15_000)
    result.rss = { nodesAnswered: stats.length, peakMB: spread(stats.map(s => s.peakRssMB)), lastMB: spread(stats.map(s => s.rssMB)) }
    const loads = ['steady', 'burst'].map(p => (result[p] as { window?: [number, number] } | undefined)?.window).filter(w => w != null)
    if (loads.length > 0) {
      const from = loads[0][0]
      const to = loads.at(-1)![1]
      result.dropped = { sessionsDown: changesBetween(nodes, from, to).down, sessionsUp: changesBetween(nodes, from, to).up, phases: loads.length }
    }
    result.sessionChangesTotal = changesBetween(nodes, 0, Date.now())
    const refused = nodes.flatMap(node => node.refused)
    if (refused.length > 0) result.refusedOrInvalid = refused.length
    const errors = nodes.flatMap((node, i) => node.errors.map(e => `node ${i}: ${e.slice(0, 300)}`))
    if (errors.length > 0) result.nodeErrors = errors.slice(0, 10)
  } finally {
    progress(`N=${n}: stopping ${nodes.length} nodes`)
    await Promise.all(nodes.map(node => node.stop()))
  }
  result.loadavgAfter = loadavg().map(x => round(x, 1))
  result.wallMs = Date.now() - t
  return result
}

function fmtSpread (s: Spread | undefined, unit = ''): string {
  if (s == null) return '-'
  return `${s.min} / ${s.mean} / ${s.max}${unit}`
}

function printTable (r: Result): void {
  type Row = [string, string, string?, string?]
  const rows: Row[] = []
  const get = <T>(phase: string): T | undefined => r[phase] as T | undefined
  const start = get<{ status?: string, listening?: number, elapsedMs?: number, openMs?: Spread, startedMs: number, connectMs: Spread, joinsFailed: string[] }>('start')
  if (start?.status != null) rows.push(['start', `${start.status}: ${start.listening ?? 0} of ${r.nodes} listening after ${round((start.elapsedMs ?? 0) / 1000, 1)} s`])
  if (start?.openMs != null) rows.push(['start: a node process open, ms min/mean/max', fmtSpread(start.openMs)])
  if (start?.startedMs != null) {
    rows.push(['start: all nodes listening', `${round(start.startedMs / 1000, 1)} s`])
    rows.push(['start: connect() ms min/mean/max', fmtSpread(start.connectMs)])
    if (start.joinsFailed.length > 0) rows.push(['start: joins failed', String(start.joinsFailed.length)])
  }
  const settle = get<{ status?: string, settleMs: number, allKnownMs: number, fullMeshNodes: number, changesAfterLastJoin: { up: number, down: number }, connections: Spread, connectedPeers: Spread, sessions: Spread }>('settle')
  if (settle?.status != null) rows.push(['settle', settle.status])
  else if (settle != null) {
    rows.push(['settle: every node knows every EventPeer, after last join', `${round(settle.allKnownMs / 1000, 2)} s`])
    rows.push(['settle: last session change after last join', `${round(settle.settleMs / 1000, 2)} s`])
    rows.push(['settle: session changes after last join (up/down)', `${settle.changesAfterLastJoin.up} / ${settle.changesAfterLastJoin.down}`])
    rows.push(['settle: libp2p connections per node min/mean/max', fmtSpread(settle.connections), `${r.nodes - 1} (full mesh)`])
    rows.push(['settle: connected peers per node', fmtSpread(settle.connectedPeers)])
    rows.push(['settle: sync sessions per node', fmtSpread(settle.sessions), `${r.nodes - 1} (full mesh)`])
    rows.push(['settle: nodes with a session to every other', `${settle.fullMeshNodes} of ${r.nodes}`])
  }
  for (const phase of ['steady', 'burst']) {
    const l = get<{ status?: string, events: number, emitMs: Spread, nodeHadAllAfterLastEmitMs: Spread, sendsPerNeeded: number, sendsPerNeededWithEnded: number, tree: Record<string, number>, convergeAfterLastEmitMs: number, convergeFromStartMs: number, sessions: { up: number, down: number } }>(phase)
    if (l == null) continue
    if (l.status != null) {
      rows.push([`${phase}`, l.status])
      continue
    }
    rows.push([`${phase}: events`, String(l.events)])
    rows.push([`${phase}: a writer's emits took ms min/mean/max`, fmtSpread(l.emitMs)])
    rows.push([`${phase}: sends per needed delivery`, String(l.sendsPerNeeded), '1.0 (ideal: lower is better)', String(round(l.sendsPerNeeded / 1, 2))])
    rows.push([`${phase}: tree: prunes / grafts (by IHave) / IHave items / copies not stored`, `${l.tree.prunes} / ${l.tree.grafts} (${l.tree.repairGrafts}) / ${l.tree.ihaves} / ${l.tree.notStored}`])
    if (l.sendsPerNeededWithEnded !== l.sendsPerNeeded) rows.push([`${phase}: the same, with sessions that ended`, String(l.sendsPerNeededWithEnded), '1.0'])
    rows.push([`${phase}: identical heads after last emit`, `${round(l.convergeAfterLastEmitMs / 1000, 2)} s`])
    rows.push([`${phase}: identical heads from first emit`, `${round(l.convergeFromStartMs / 1000, 2)} s`])
    rows.push([`${phase}: a node had all, ms after last emit min/mean/max`, fmtSpread(l.nodeHadAllAfterLastEmitMs)])
    rows.push([`${phase}: sessions up / down`, `${l.sessions.up} / ${l.sessions.down}`])
  }
  const one = get<{ status?: string, rounds: number, warmUpMs: number, lastNodeMs: Record<string, number>, perNodeMs: Record<string, number>, slowRounds: unknown[], cores: number, idleCores: number, busiest: Array<{ node: number, cores: number }>, gc: Record<'rest' | 'phase', { ms: number, majorMs: number, major: number }>, tree: Record<string, number>, byAuthor: Record<'first' | 'later', { n: number, p50?: number, p99?: number }> }>('oneEvent')
  if (one?.status != null) rows.push(['one event to all', one.status])
  else if (one != null) {
    rows.push(['one event: the run\'s first Hello (warm-up, not in the rounds), to the last node', `${one.warmUpMs} ms`])
    rows.push([`one event: to the last node, p50 / p99 (${one.rounds} rounds)`, `${one.lastNodeMs.p50} / ${one.lastNodeMs.p99} ms`])
    rows.push(['one event: to each node, p50 / p99', `${one.perNodeMs.p50} / ${one.perNodeMs.p99} ms`])
    const { first, later } = one.byAuthor
    rows.push(['one event: to the last node, an author\'s first / a later one, p50 / p99', `${first.p50 ?? '-'} / ${first.p99 ?? '-'} ms (${first.n}); ${later.p50 ?? '-'} / ${later.p99 ?? '-'} ms (${later.n})`])
    rows.push(['CPU of all node processes at rest / in the one-event phase, cores', `${one.idleCores} / ${one.cores}`, `${cpus().length} (the machine)`])
    rows.push(['one-event phase: the busiest nodes, cores', one.busiest.map(b => `node ${b.node} ${b.cores}`).join(', ')])
    const gcText = (g: { ms: number, majorMs: number, major: number }): string => `${g.ms} ms (${g.major} major, ${g.majorMs} ms)`
    rows.push(['GC pauses of all nodes at rest / in the one-event phase', `${gcText(one.gc.rest)} / ${gcText(one.gc.phase)}`])
    rows.push([`one event: rounds over ${SLOW_ROUND_MS} ms; prunes / grafts (by IHave)`, `${one.slowRounds.length}; ${one.tree.prunes} / ${one.tree.grafts} (${one.tree.repairGrafts})`])
  }
  const dropped = r.dropped as { sessionsDown: number } | undefined
  if (dropped != null) rows.push(['sessions dropped during load phases', String(dropped.sessionsDown), '0'])
  const rss = r.rss as { peakMB: Spread } | undefined
  if (rss != null) rows.push(['peak RSS per node MB min/mean/max', fmtSpread(rss.peakMB)])
  rows.push(['wall time for this N', `${round((r.wallMs as number) / 1000, 1)} s`])
  rows.push(['machine load average (1/5/15 min) before, after', `${(r.loadavgBefore as number[]).join(' ')}, ${(r.loadavgAfter as number[]).join(' ')}`])
  const width = [Math.max(...rows.map(x => x[0].length)), Math.max(...rows.map(x => x[1].length)), Math.max(6, ...rows.map(x => (x[2] ?? '').length))]
  console.log(`\n== ${r.nodes} nodes, ${r.writers.length} writers (nodes ${r.writers.join(', ')}) ==`)
  console.log(`${'figure'.padEnd(width[0])}  ${'value'.padEnd(width[1])}  ${'ideal'.padEnd(width[2])}  ratio`)
  for (const [a, b, c, d] of rows) console.log(`${a.padEnd(width[0])}  ${b.padEnd(width[1])}  ${(c ?? '').padEnd(width[2])}  ${d ?? ''}`.trimEnd())
  for (const p of r.problems) {
    // the per-node lists and timelines are in the JSON line
    const brief = Object.entries(p.missing ?? {}).filter(([key, v]) => key !== 'what' && (typeof v !== 'object' || key === 'emitMs' || key === 'sessions'))
      .map(([key, v]) => `${key} ${JSON.stringify(v)}`)
    console.log(`problem in ${p.phase}: ${p.error}${p.missing != null ? `: ${String(p.missing.what)}` : ''}${brief.length > 0 ? `; ${brief.join(', ')}` : ''}`)
  }
}

const t = Date.now()
progress(`cluster bench: nodes ${SIZES.join(',')}, seed ${SEED}, steady ${RATE}/s per writer for ${SECONDS} s, burst ${BURST} per writer, timeout ${TIMEOUT / 1000} s`)
for (const n of SIZES) {
  const r = await cluster(n)
  printTable(r)
  console.log(JSON.stringify(r))
  // a phase that did not converge is a figure; a node that failed is not
  if (r.problems.some(p => p.missing == null)) process.exitCode = 1
}
console.log(`total wall time: ${round((Date.now() - t) / 1000, 1)} s`)
