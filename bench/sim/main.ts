// The network simulator's command line:
//
//   npm run sim -- --nodes 1000 --seed 1 --writers 10 --events 100 --latency 1-50 --churn 0.1
//   npm run sim -- --nodes 1000,10000
//
// It runs the overlay and broadcast state machines that the nodes run
// (HyParView, the sync Sender, Prunes, PrunePolicy, LazyRepair; node.ts says
// what is modelled instead) for N nodes in one process, under virtual time
// on a simulated network (net.ts), deterministically from the seed. The
// scenario (scenario.ts): the nodes join one after another, each through a
// random earlier one, and the overlay settles; the writers' first entries
// form their trees; a steady stream at --rate; a burst (each writer commits
// its share at once); churn (a share of the nodes, writers spared, die and
// as many join, through random live ones); the steady stream again. Each step
// prints its figures as it ends: sends per delivery (entries sent /
// (entries × (N − 1)); 1.0 is the least), delivery, latency from emit to
// first store and hops, IHave notices, prunes, grafts, and the state of the
// active graph. This file only parses flags and prints.
import { parseArgs } from 'node:util'
import { performance } from 'node:perf_hooks'
import { parseLatency } from './net.js'
import { simulate, type Report } from './scenario.js'
import type { Counters, Spread } from './stats.js'

const USAGE = `usage: npm run sim -- [flags]
  --nodes N[,N...]     cluster sizes, each run on its own (default 1000; try 1000,10000)
  --seed S             seed of every random choice (default 1)
  --writers W          nodes that write (default 10)
  --events E           entries of the steady phase, and of the burst (default 100)
  --rate R             entries per second of the steady phases (default 100)
  --latency A-B        one-way link latency, uniform, ms (default 1-50), drawn for each message
  --per-link           draw it once per pair of nodes instead
  --churn F            share of nodes that die, and as many that join (default 0.1)
  --join-gap MS        between two joins (default 10)
  --settle MS          overlay settling after the joins and after churn (default 30000)
  --active K           HyParView active view size (default 6)
  --passive K          HyParView passive view size (default 30)
  --graft-timeout MS   LazyRepair's wait before a graft (default GRAFT_TIMEOUT)
  --settled-prune MS   try a change: the first deliverer's session must be this old before a duplicate prunes
  --orphan-graft       try a change: when the first deliverer's session ends, graft on the next IHave at once
  --announce           each node writes an entry as it joins, as a real node writes its EventPeer
  --optimize K         try a change: Plumtree's optimization, a link whose IHave came K or more hops sooner replaces the tree link
  --cores K            one machine of K cores runs every node, as in the cluster benchmark (with --message-cost)
  --message-cost MS    CPU ms a message costs its sender and its receiver, each node one thread (with --cores)`

const GOAL_SENDS = 1.2

function main (): void {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '1' },
      writers: { type: 'string', default: '10' },
      events: { type: 'string', default: '100' },
      rate: { type: 'string', default: '100' },
      latency: { type: 'string', default: '1-50' },
      churn: { type: 'string', default: '0.1' },
      'join-gap': { type: 'string', default: '10' },
      settle: { type: 'string', default: '30000' },
      active: { type: 'string' },
      passive: { type: 'string' },
      'graft-timeout': { type: 'string' },
      'per-link': { type: 'boolean' },
      'orphan-graft': { type: 'boolean' },
      'settled-prune': { type: 'string' },
      optimize: { type: 'string' },
      announce: { type: 'boolean' },
      cores: { type: 'string' },
      'message-cost': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    console.log(USAGE)
    return
  }
  const num = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined
    const n = Number(text)
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} takes a number, not "${text}"`)
    return n
  }
  const latency = parseLatency(values.latency, values['per-link'] === true)
  if ((values.cores === undefined) !== (values['message-cost'] === undefined)) throw new Error('--cores and --message-cost go together')
  const cpu = values.cores === undefined ? undefined : { cores: num('cores', values.cores) as number, perMessage: num('message-cost', values['message-cost']) as number }
  for (const size of values.nodes.split(',')) {
    const nodes = num('nodes', size) as number
    const wall = performance.now()
    console.log(`\n=== ${nodes} nodes, seed ${values.seed}, ${values.writers} writers, ${values.events} events, latency ${latency.min}-${latency.max} ms ${latency.perLink === true ? 'per link' : 'per message'}, churn ${values.churn}${values['orphan-graft'] === true ? ', orphan graft' : ''}${values['settled-prune'] !== undefined ? `, settled prune ${values['settled-prune']} ms` : ''}${values.optimize !== undefined ? `, optimize ${values.optimize}` : ''}${values.announce === true ? ', an entry per join' : ''}${cpu !== undefined ? `, ${cpu.cores} cores, ${cpu.perMessage} ms a message` : ''}`)
    const { cluster } = simulate({
      nodes,
      seed: num('seed', values.seed),
      writers: num('writers', values.writers),
      events: num('events', values.events),
      rate: num('rate', values.rate),
      latency,
      churn: num('churn', values.churn),
      joinGap: num('join-gap', values['join-gap']),
      settle: num('settle', values.settle),
      activeSize: num('active', values.active),
      passiveSize: num('passive', values.passive),
      graftTimeout: num('graft-timeout', values['graft-timeout']),
      orphanGraft: values['orphan-graft'],
      settledPrune: num('settled-prune', values['settled-prune']),
      optimize: num('optimize', values.optimize),
      announce: values.announce,
      cpu,
      onReport: r => { console.log(format(r)) }
    })
    const cpuUsed = cluster.net.cpu === undefined ? '' : `, CPU ${s(cluster.net.cpu.used)} (${f(cluster.net.cpu.used / cluster.now)} cores on average)`
    console.log(`total: ${s(cluster.now)} virtual, ${s(performance.now() - wall)} wall, ${cluster.clock.steps.toLocaleString('en')} events, ${cluster.net.messages.toLocaleString('en')} messages${cpuUsed}`)
  }
}

function s (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}

function f (n: number, digits = 2): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n)
}

function spreadOf (x: Spread, unit = ''): string {
  return `p50 ${f(x.p50, unit === '' ? 0 : 1)}${unit} p99 ${f(x.p99, unit === '' ? 0 : 1)}${unit} max ${f(x.max, unit === '' ? 0 : 1)}${unit}`
}

function traffic (c: Counters, deliveries: number): string {
  const per = (n: number): string => deliveries > 0 ? f(n / deliveries) : '-'
  return `IHave ${c.ihaves} frames (${per(c.ihaves)}/delivery, ${c.ihaveItems} items), prunes ${c.prunes} (${c.prunedAuthors} authors), grafts ${c.grafts} (${c.dueGrafts} due${c.swaps > 0 ? `, ${c.swaps} swaps` : ''}), ` +
    `log reads ${c.reads}, held ${c.held}, sessions +${c.sessionsOpened}/-${c.sessionsEnded}, overlay ${c.overlay} msgs (${c.overlayFailures} failed)`
}

function format (r: Report): string {
  const lines: string[] = []
  switch (r.kind) {
    case 'setup': {
      const g = r.graph
      lines.push(`setup: ${r.nodes} nodes joined over ${s(r.joinTime)}; connected ${r.connectedAfter === undefined ? 'never' : `${s(r.connectedAfter)} after the last join`}; settled (no session change for 2 s) ${r.quietAfter === undefined ? 'never' : s(r.quietAfter)} after it, last change ${s(r.lastChange)}`)
      lines.push(`  active degree min ${g.degree.min} mean ${f(g.degree.mean)} max ${g.degree.max}; connected ${g.connected ? 'yes' : `no (${g.reached}/${g.live})`}; ` +
        `asymmetric ${g.asymmetric}, empty ${g.empty}, out of bounds ${g.outOfBounds}; sessions ${g.sessions} (${g.sessionsNotActive} off the view)`)
      lines.push(`  overlay ${r.counters.overlay} msgs; ${s(r.virtual)} virtual, ${s(r.wall)} wall`)
      break
    }
    case 'phase': {
      lines.push(`${r.name}: ${r.entries} entries to ${r.live - 1} nodes each`)
      lines.push(`  sends per delivery ${f(r.sendsPerDelivery, 3)} (goal <= ${GOAL_SENDS}; 1.0 is the least); delivery ${f(100 * r.deliveryRatio, 2)}%${r.complete ? '' : ' (deadline passed)'}`)
      lines.push(`  latency ${spreadOf(r.latency, ' ms')} (goal p99 <= ${f(r.latencyGoal, 0)} ms = 10 x link p99); hops ${spreadOf(r.hops)}`)
      lines.push(`  time on the wire p50 ${f(r.transitP50, 1)} ms p99 ${f(r.transitP99, 1)} ms (a link's latency and the wait behind its earlier messages)`)
      lines.push(`  tree: nodes the next entry would miss by eager push alone, summed over the writers: ${r.cutOff}`)
      lines.push(`  deliveries a graft brought ${r.grafted} (${f(100 * r.grafted / Math.max(1, r.counters.deliveries), 2)}%)${r.grafted > 0 ? `, latency ${spreadOf(r.graftedLatency, ' ms')}` : ''}; ` +
        `commits that found a session's window full ${r.counters.windowFull}`)
      lines.push(`  ${traffic(r.counters, r.counters.deliveries)}`)
      lines.push(`  ${s(r.virtual)} virtual, ${s(r.wall)} wall`)
      break
    }
    case 'churn': {
      const g = r.graph
      const c = r.counters
      lines.push(`churn: ${r.killed} nodes killed, ${r.joined} joined; after settling: connected ${g.connected ? 'yes' : `no (${g.reached}/${g.live})`}; ` +
        `views within bounds ${g.outOfBounds === 0 && g.empty === 0 && g.deadActive === 0 ? 'yes' : 'no'} (out of bounds ${g.outOfBounds}, empty ${g.empty}, dead in active ${g.deadActive}, asymmetric ${g.asymmetric})`)
      lines.push(`  active degree min ${g.degree.min} mean ${f(g.degree.mean)} max ${g.degree.max}; sessions ${g.sessions} (${g.sessionsNotActive} off the view)`)
      lines.push(`  catch-up: ${c.entrySends} entries sent for ${c.deliveries} first stores (${c.deliveries > 0 ? f(c.entrySends / c.deliveries) : '-'} per store)`)
      lines.push(`  ${traffic(c, c.deliveries)}`)
      lines.push(`  ${s(r.virtual)} virtual, ${s(r.wall)} wall`)
      break
    }
  }
  return lines.join('\n')
}

try {
  main()
} catch (err) {
  console.error((err as Error).message)
  console.error(USAGE)
  process.exitCode = 2
}
