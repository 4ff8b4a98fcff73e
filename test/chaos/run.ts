// The chaos run for multi-writer replication: N HyperEmitter nodes, each its
// own OS process in its own network namespace, all emitting at once while the
// driver isolates nodes, splits the network and kills (-9) and restarts
// nodes; then everything is healed and the logs must converge, with every
// acknowledged emit on every node, once, and no honest peer refused.
//
//   runChaos({ nodes: 5, seconds: 60, seed: 1 }) -> { figures, failures, ... }
//
// Phases: network and nodes up; each node connects explicitly to every
// lower-numbered node; all emit; faults for `seconds` (one at a time, drawn
// from a PRNG seeded with `seed`, printed with their time since the start);
// heal everything; stop emitting; wait (bounded) until every node has the same
// length and heads; check. See test/chaos/net.ts for the network and
// test/chaos/node.ts for a node.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { rmSync, readdirSync } from 'node:fs'
import { Prng } from './prng.js'
import { checkLogs } from './check.js'
import { Testbed, nodeIp, removeStale, pidRuns } from './net.js'
import { NodeProcess, type Line, type StatusLine } from './proc.js'

export interface ChaosOptions {
  /** nodes (processes, namespaces). @default 5 */
  nodes?: number
  /** seconds of emitting with faults. @default 120 */
  seconds?: number
  seed?: number
  /** events a second per node. @default 100 */
  rate?: number
  /** emits started together. @default 5 */
  group?: number
  /** ms to wait for convergence once emitting stopped. @default 60_000 */
  convergeTimeout?: number
  /** ms the whole run may take; every wait is cut to fit. @default generous */
  budget?: number
  /** where the run says what it does (faults, phases) */
  log?: (line: string) => void
  /** listening port of every node. @default 4000 */
  port?: number
  /** keep the db folders (their path is logged). @default false */
  keep?: boolean
  /** write every fault and every node's status lines to this JSON file */
  trace?: string
  /**
   * after each heal, or once a restarted node listens, ms to wait for sessions
   * between the affected nodes and every other node before the next fault is
   * drawn. @default 15_000
   */
  recoveryWait?: number
  /** fail a heal or restart after which sessions took longer than this (ms). @default no such check */
  maxRecoveryMs?: number
}

export type FaultKind = 'isolate' | 'split' | 'kill'

export interface Fault {
  kind: FaultKind
  /** the isolated, moved or killed nodes (0-based) */
  nodes: number[]
  /** ms since the start of the run */
  start: number
  /** when it was healed (link up, back on br0, restarted and listening), ms since the start */
  healed?: number
  /** the nodes that must get sessions with every other node again */
  affected: number[]
}

export interface Recovery {
  fault: Fault
  /** ms from heal to sessions between every affected node and every other node, both ways */
  ms?: number
  /** a later fault began before it recovered */
  interrupted: boolean
}

export interface ChaosFigures {
  seed: number
  nodes: number
  /** faults by kind */
  faults: Record<FaultKind, number>
  /** acknowledged emits, every incarnation of every node */
  acked: number
  /** acknowledged emits per second of emitting, all nodes */
  eventsPerSec: number
  /** ms of emitting */
  emitMs: number
  /** final log length (the largest) */
  length: number
  /** Integer values in logs that no one saw acknowledged (emits in flight at a kill) */
  unacked: number
  /** ms from the stop of emitting to identical length and heads, or null */
  convergeAfterStopMs: number | null
  /** ms from the last heal to identical length and heads, or null */
  convergeAfterHealMs: number | null
  /** time to sessions again after each heal or restart */
  recoveries: number
  recoveryMedianMs: number | null
  recoveryMaxMs: number | null
  /** heals after which a later fault began before the sessions were back */
  recoveryInterrupted: number
  /** (node, acked value) pairs missing from that node's log */
  lost: number
  /** values stored twice in one node's log */
  duplicates: number
  headsEqual: boolean
  verifyOk: number
  /** peer:refused events between nodes, as decided by the refusing side (remote false) */
  refusedSessions: number
  /** peer:refused events both sides saw */
  refusedEvents: number
  /** sum of peer:invalid counts */
  refusedEntries: number
  /** node pairs without a session on both sides at the end */
  pairsWithoutSession: number
  restarts: number
  ipMs: number
  ipCalls: number
  totalMs: number
}

export interface ChaosResult {
  figures: ChaosFigures
  failures: string[]
  faults: Fault[]
  recoveries: Recovery[]
}

interface ChaosNode {
  i: number
  name: string
  ns: string
  ip: string
  db: string
  peerId?: string
  incs: NodeProcess[]
}

/** sessions must hold this long to count as back */
const STABLE_MS = 1000
const START_TIMEOUT = 20_000
const CONNECT_TIMEOUT = 30_000
const MESH_TIMEOUT = 15_000
const STOP_TIMEOUT = 15_000
const STATE_TIMEOUT = 60_000
const POLL_MS = 250
/** incarnations per node: values have one decimal digit for it */
const MAX_INCARNATION = 9

const DIR_PREFIX = 'hyperemitter-chaos-'

// db folders of drivers that were killed (their pid no longer runs)
function removeStaleDirs (): string[] {
  const removed: string[] = []
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^${DIR_PREFIX}(\\d+)-`).exec(name)
    if (m == null || Number(m[1]) === process.pid || pidRuns(Number(m[1]))) continue
    rmSync(join(tmpdir(), name), { recursive: true, force: true })
    removed.push(name)
  }
  return removed
}

let signalsHooked = false
function hookSignals (): void {
  if (signalsHooked) return
  signalsHooked = true
  // the 'exit' handlers of net.ts and proc.ts then remove namespaces and kill children
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => { process.exit(130) })
}

function sleep (ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, Math.max(0, ms)))
}

function median (xs: number[]): number | null {
  if (xs.length === 0) return null
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : Math.round((s[m - 1] + s[m]) / 2)
}

export async function runChaos (options: ChaosOptions = {}): Promise<ChaosResult> {
  const n = options.nodes ?? 5
  const seconds = options.seconds ?? 120
  const seed = options.seed ?? 1
  const rate = options.rate ?? 100
  const group = options.group ?? 5
  const port = options.port ?? 4000
  const convergeTimeout = options.convergeTimeout ?? 60_000
  const recoveryWait = options.recoveryWait ?? 15_000
  const log = options.log ?? ((line: string) => { console.log(line) })
  if (n < 3 || n > 100) throw new RangeError('nodes must be 3..100 (a split moves two nodes; addresses are .10 to .109)')
  const t0 = Date.now()
  const budget = options.budget ?? (seconds * 1000 + convergeTimeout + 4 * 60_000)
  const deadline = t0 + budget
  const left = (): number => deadline - Date.now()
  /** `ms`, cut to what is left of the budget (at least 1 s, to fail clearly) */
  const within = (ms: number): number => Math.max(1000, Math.min(ms, left()))
  const since = (t: number): string => `${((t - t0) / 1000).toFixed(1).padStart(6)} s`
  const say = (text: string): void => { log(`[${since(Date.now())}] ${text}`) }

  hookSignals()
  const rng = new Prng(seed)
  const failures: string[] = []
  const fail = (text: string): void => {
    failures.push(text)
    say(`FAILURE: ${text.split('\n')[0]}`)
  }
  const faults: Fault[] = []
  const stale = [...removeStale(), ...removeStaleDirs()]
  if (stale.length > 0) say(`removed what dead runs left: ${stale.join(', ')}`)
  const net = new Testbed(n)
  const dir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid}-`))
  const removeDir = (): void => { if (options.keep !== true) rmSync(dir, { recursive: true, force: true, maxRetries: 3 }) }
  // on an early exit too (the nodes are SIGKILLed by proc.ts' exit handler)
  process.once('exit', removeDir)
  const nodes: ChaosNode[] = Array.from({ length: n }, (_, i) => ({
    i, name: `n${i + 1}`, ns: net.ns[i], ip: nodeIp(i), db: join(dir, `n${i + 1}`), incs: []
  }))
  const byPeer = new Map<string, number>()
  const current = (node: ChaosNode): NodeProcess => node.incs[node.incs.length - 1]
  const maxLife = budget + 30_000

  let emitStart = 0
  let emitEnd = 0
  let lastHeal = 0
  let convergedAt: number | undefined
  let finalState: Line[] = []
  let dumps: Array<Array<[number, string]> | undefined> = []

  // Starts an incarnation of a node: explicit connects only at the first start.
  const start = async (node: ChaosNode, emitNow: boolean): Promise<NodeProcess> => {
    const incarnation = node.incs.length
    const first = incarnation === 0
    const proc = new NodeProcess(`${node.name}#${incarnation}`, node.ns, {
      node: node.i + 1,
      incarnation,
      db: node.db,
      host: node.ip,
      port,
      connect: first ? nodes.slice(0, node.i).map(o => ({ host: o.ip, port })) : [],
      rate,
      group,
      emitNow,
      maxLife
    })
    node.incs.push(proc)
    // a watcher, not awaited: exited never rejects, and fail() only records
    void proc.exited.then(() => {
      if (!proc.ending) fail(`${proc.name} exited by itself (code ${String(proc.exit?.code)}, signal ${String(proc.exit?.signal)})${proc.tail()}`)
    })
    const open = await proc.waitFor(l => l.t === 'open', within(START_TIMEOUT), 'its db to open')
    proc.checkProcess(pid => net.holds(node.i, pid))
    const peerId = open.peerId as string
    if (node.peerId != null && node.peerId !== peerId) throw new Error(`${proc.name} has peer id ${peerId}, not ${node.peerId} as before`)
    node.peerId = peerId
    byPeer.set(peerId, node.i)
    const ready = await proc.waitFor(l => l.t === 'ready', within(START_TIMEOUT), 'it to listen')
    if (!first) {
      const boot = proc.lines.find(l => l.t === 'boot')
      const s = (at: number | undefined): string => at == null ? '?' : ((at - proc.startedAt) / 1000).toFixed(1)
      say(`${proc.name} modules loaded after ${s(boot?.at)} s, db open after ${s(open.at)} s, listening after ${s(ready.at)} s`)
    }
    return proc
  }

  // Whether a has a session with b at time t, as a's status lines tell.
  const upAt = (a: number, b: number, t: number): boolean => {
    const peer = nodes[b].peerId
    const inc = nodes[a].incs.find(p => p.startedAt <= t && t < (p.exit?.at ?? Infinity))
    if (inc == null || peer == null) return false
    let up = false
    for (const s of inc.status) {
      if (s.at > t) break
      if (s.peer !== peer) continue
      if (s.t === 'connect') up = true
      else if (s.t === 'disconnect') up = false
    }
    return up
  }
  const meshAt = (affected: number[], t: number): boolean => affected.every(a =>
    nodes.every(o => o.i === a || (upAt(a, o.i, t) && upAt(o.i, a, t))))
  const missingFor = (affected: number[], t: number): string[] => {
    const out: string[] = []
    for (const a of affected) {
      for (const o of nodes) {
        if (o.i === a || (affected.includes(o.i) && o.i < a)) continue
        const ab = upAt(a, o.i, t)
        const ba = upAt(o.i, a, t)
        if (!ab || !ba) out.push(`${nodes[a].name}-${o.name}${ab ? ` (only ${nodes[a].name} has it)` : ba ? ` (only ${o.name} has it)` : ''}`)
      }
    }
    return out
  }
  const missingPairs = (t: number): string[] => {
    const out: string[] = []
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) if (!upAt(a, b, t) || !upAt(b, a, t)) out.push(`${nodes[a].name}-${nodes[b].name}`)
    }
    return out
  }

  // Waits until the affected nodes have sessions (both sides) with every other
  // node, held for STABLE_MS, or until recoveryWait passed or emitting ends.
  const settle = async (fault: Fault, end: number): Promise<void> => {
    const h = t0 + fault.healed!
    // from now: a restarted node may have taken seconds to start
    const by = Math.min(Date.now() + recoveryWait, end)
    if (by <= Date.now()) return
    let holding: number | undefined
    // sessions all up at `by` get the time to show they hold
    while (Date.now() < by || (holding != null && Date.now() < by + STABLE_MS)) {
      const now = Date.now()
      if (!meshAt(fault.affected, now)) holding = undefined
      else if (now - (holding ??= now) >= STABLE_MS) {
        say(`sessions back ${((holding - h) / 1000).toFixed(1)} s after the ${fault.kind === 'kill' ? 'restart' : 'heal'}`)
        return
      }
      await sleep(100)
    }
    say(`sessions not all back ${((Date.now() - h) / 1000).toFixed(1)} s after the ${fault.kind === 'kill' ? 'restart' : 'heal'}: missing ${missingFor(fault.affected, Date.now()).join(', ')}`)
  }

  const heal = (fault: Fault): void => {
    fault.healed = Date.now() - t0
    lastHeal = Date.now()
  }

  const restart = async (node: ChaosNode, why: string): Promise<void> => {
    try {
      await start(node, true)
    } catch (err) {
      fail(`${node.name} did not come back after ${why}: ${(err as Error).message}`)
    }
  }

  try {
    say(`chaos run: seed ${seed}, ${n} nodes, ${seconds} s of emitting at ${rate}/s per node with faults; db folders in ${dir}`)
    await net.create()
    say(`network up: hub ${net.hub}, nodes ${nodes.map(o => `${o.name} ${o.ip}`).join(', ')} (${net.ipCalls} ip commands, ${Math.round(net.ipMs)} ms)`)

    await Promise.all(nodes.map(async node => start(node, false)))
    say(`${n} nodes listening on port ${port}`)
    const connects = await Promise.allSettled(nodes.map(async node => {
      const proc = current(node)
      const done = proc.waitFor(l => l.t === 'connect-done', within(CONNECT_TIMEOUT), 'its explicit connects')
      proc.send({ cmd: 'connect' })
      await done
      for (const l of proc.lines) if (l.t === 'connect-error') fail(`${node.name} could not connect to ${String(l.to)}: ${String(l.message)}`)
    }))
    for (const c of connects) if (c.status === 'rejected') fail(`connect phase: ${(c.reason as Error).message}`)
    const meshBy = Date.now() + within(MESH_TIMEOUT)
    while (missingPairs(Date.now()).length > 0 && Date.now() < meshBy) await sleep(100)
    const notMeshed = missingPairs(Date.now())
    if (notMeshed.length > 0) fail(`no full mesh ${MESH_TIMEOUT} ms after the explicit connects: no session (both sides) between ${notMeshed.join(', ')}`)
    else say('full mesh: every pair of nodes has a session')

    for (const node of nodes) current(node).send({ cmd: 'emit' })
    emitStart = Date.now()
    say(`emitting for ${seconds} s`)

    // faults, one at a time; kinds in shuffled rounds so that each comes up
    const end = emitStart + seconds * 1000
    let kinds: FaultKind[] = []
    while (true) {
      const gap = rng.range(1000, 3000)
      if (kinds.length === 0) kinds = rng.shuffle(['isolate', 'split', 'kill'] as FaultKind[])
      let kind = kinds.shift()!
      const duration = kind === 'kill' ? rng.range(1000, 3000) : rng.range(3000, 10_000)
      const order = rng.shuffle(nodes.map(o => o.i))
      if (Date.now() + gap + 3000 > end || left() < 30_000) break
      await sleep(gap)
      const ms = Math.min(duration, end - Date.now())
      if (kind === 'kill' && !order.some(i => nodes[i].incs.length <= MAX_INCARNATION && current(nodes[i]).alive)) kind = 'isolate'
      if (kind === 'isolate') {
        const i = order[0]
        const fault: Fault = { kind, nodes: [i], start: Date.now() - t0, affected: [i] }
        faults.push(fault)
        say(`isolate ${nodes[i].name}: eth0 down for ${(ms / 1000).toFixed(1)} s`)
        await net.isolate(i)
        await sleep(ms)
        await net.reconnect(i)
        heal(fault)
        say(`heal: ${nodes[i].name} eth0 up`)
        await settle(fault, end)
      } else if (kind === 'split') {
        const moved = order.slice(0, 2).sort((a, b) => a - b)
        const rest = nodes.filter(o => !moved.includes(o.i)).map(o => o.name)
        const fault: Fault = { kind, nodes: moved, start: Date.now() - t0, affected: nodes.map(o => o.i) }
        faults.push(fault)
        say(`split ${moved.map(i => nodes[i].name).join(',')} | ${rest.join(',')}: moved to br1 for ${(ms / 1000).toFixed(1)} s`)
        for (const i of moved) await net.bridge(i, 'br1')
        await sleep(ms)
        for (const i of moved) await net.bridge(i, 'br0')
        heal(fault)
        say(`heal: ${moved.map(i => nodes[i].name).join(',')} back on br0`)
        await settle(fault, end)
      } else {
        const node = nodes[order.find(i => nodes[i].incs.length <= MAX_INCARNATION && current(nodes[i]).alive)!]
        const proc = current(node)
        const fault: Fault = { kind, nodes: [node.i], start: Date.now() - t0, affected: [node.i] }
        faults.push(fault)
        say(`kill -9 ${proc.name} (pid ${proc.pid}, ${proc.acks.length} acked); restart in ${(duration / 1000).toFixed(1)} s`)
        await proc.kill9()
        say(`${proc.name} is gone (pid ${proc.pid} ended by SIGKILL)`)
        await sleep(duration)
        say(`restart ${node.name} as ${node.name}#${node.incs.length} on the same db, ip and port, no explicit connect`)
        await restart(node, `kill -9 of ${proc.name}`)
        // a restart is over once the node listens again: its start-up time
        // (module load, db open) is the machine's, not the protocol's
        heal(fault)
        await settle(fault, end)
      }
    }
    const tail = end - Date.now()
    if (tail > 0) await sleep(tail)

    // heal everything: links up, all on br0, every node running
    const healed = await net.healAll()
    for (const node of nodes) {
      if (!current(node).alive) {
        healed.push(`restart ${node.name}`)
        await restart(node, `${current(node).name} died`)
      }
    }
    await net.check()
    if (healed.length > 0) {
      lastHeal = Date.now()
      say(`final heal: ${healed.join(', ')}`)
    }
    if (lastHeal === 0) lastHeal = Date.now()
    say(`all healed (last heal at ${since(lastHeal)}); stopping the emitters`)

    const stops = await Promise.allSettled(nodes.map(async node => {
      const proc = current(node)
      const stopped = await proc.request('stop', 'stopped', within(STOP_TIMEOUT))
      if (stopped.acked !== proc.acks.length) fail(`harness: ${proc.name} says ${String(stopped.acked)} emits were acknowledged, the driver read ${proc.acks.length} ack lines`)
    }))
    for (const s of stops) if (s.status === 'rejected') fail(`stop: ${(s.reason as Error).message}`)
    emitEnd = Date.now()
    const acked = nodes.reduce((sum, o) => sum + o.incs.reduce((s, p) => s + p.acks.length, 0), 0)
    say(`emitting stopped: ${acked} emits acknowledged; waiting up to ${convergeTimeout / 1000} s for identical length and heads`)

    // convergence
    const convergeBy = Date.now() + within(convergeTimeout)
    let last: Line[] = []
    while (Date.now() < convergeBy) {
      const answers = await Promise.allSettled(nodes.map(async node => current(node).request('heads', 'heads', within(10_000))))
      if (answers.every(a => a.status === 'fulfilled')) {
        last = answers.map(a => a.value)
        const key = (l: Line): string => `${String(l.length)} ${JSON.stringify(l.heads)}`
        if (last.every(l => key(l) === key(last[0]))) {
          convergedAt = Math.max(...last.map(l => l.at!))
          break
        }
      }
      await sleep(POLL_MS)
    }
    if (convergedAt != null) {
      say(`converged: length ${String(last[0].length)}, ${(last[0].heads as string[]).length} heads, ${((convergedAt - emitEnd) / 1000).toFixed(1)} s after the stop, ${((convergedAt - lastHeal) / 1000).toFixed(1)} s after the last heal`)
    } else {
      fail(`no convergence ${convergeTimeout / 1000} s after emitting stopped: ${last.length === 0 ? 'nodes did not answer' : last.map((l, i) => `${nodes[i].name} length ${String(l.length)} heads ${(l.heads as string[]).length} peers ${(l.peers as string[]).length}`).join('; ')}`)
    }

    // final state and contents
    const states = await Promise.allSettled(nodes.map(async node => current(node).request('state', 'state', within(STATE_TIMEOUT))))
    finalState = states.map((s, i) => {
      if (s.status === 'rejected') fail(`state of ${nodes[i].name}: ${(s.reason as Error).message}`)
      return s.status === 'fulfilled' ? s.value : { t: 'none' }
    })
    say('final state read (verify() on every node); reading every log')
    const got = await Promise.allSettled(nodes.map(async node => current(node).dump(within(STATE_TIMEOUT))))
    dumps = got.map((d, i) => {
      if (d.status === 'rejected') fail(`dump of ${nodes[i].name}: ${(d.reason as Error).message}`)
      return d.status === 'fulfilled' ? d.value : undefined
    })
  } catch (err) {
    fail(`harness: ${(err as Error).stack ?? String(err)}`)
  }
  const observedUntil = Date.now()
  say('logs read; closing the nodes')

  // stop the nodes, remove the network and the dbs
  await Promise.allSettled(nodes.map(async node => { for (const p of node.incs) await p.stop() }))
  say('nodes closed; removing the network')
  net.destroy()
  const leftovers = net.leftovers()
  if (leftovers.length > 0) fail(`harness: namespaces still there after removal: ${leftovers.join(', ')}`)
  if (options.keep === true) say(`db folders kept in ${dir}`)
  else await rm(dir, { recursive: true, force: true })
  process.off('exit', removeDir)

  // ---- checks ----
  const logs = checkLogs(
    nodes.flatMap(o => o.incs.map(p => ({ by: p.name, acks: p.acks }))),
    nodes.map(o => ({ name: o.name, values: dumps[o.i] }))
  )
  for (const p of logs.problems) fail(p)
  const { lost, duplicates, unacked } = logs

  const states = finalState.filter(s => s.t === 'state')
  const headsEqual = states.length === n && states.every(s => JSON.stringify(s.heads) === JSON.stringify(states[0].heads))
  if (states.length === n && !headsEqual) {
    fail(`heads differ: ${states.map((s, i) => `${nodes[i].name} length ${String(s.length)} heads ${(s.heads as string[]).map(h => h.slice(0, 12)).join(',')}`).join('; ')}`)
  }
  let verifyOk = 0
  for (const [i, s] of finalState.entries()) {
    const v = s.verify as { ok: boolean, entries: number, problems: unknown[] } | undefined
    if (v?.ok === true) verifyOk++
    else if (v != null) fail(`verify() failed on ${nodes[i].name}: ${JSON.stringify(v.problems)}`)
  }

  const allStatus: Array<StatusLine & { by: string }> = []
  for (const node of nodes) for (const p of node.incs) for (const s of p.status) allStatus.push({ ...s, by: p.name })
  const refused = allStatus.filter(s => s.t === 'refused')
  const invalid = allStatus.filter(s => s.t === 'invalid')
  const refusedSessions = refused.filter(s => s.remote !== true).length
  const refusedEntries = invalid.reduce((sum, s) => sum + (s.count as number), 0)
  const who = (peer: string): string => { const i = byPeer.get(peer); return i == null ? peer : nodes[i].name }
  if (refused.length > 0) {
    const shown = refused.slice(0, 6).map(s => `${s.by} ${s.remote === true ? 'was refused by' : 'refused'} ${who(s.peer)} at ${since(s.at)}: ${String(s.code)} ${String(s.reason)}`)
    fail(`${refusedSessions} sessions refused between honest nodes (${refused.length} peer:refused events): ${shown.join('; ')}${refused.length > 6 ? '; …' : ''}`)
  }
  if (invalid.length > 0) {
    const shown = invalid.slice(0, 4).map(s => `${s.by} got ${String(s.count)} from ${who(s.peer)} at ${since(s.at)}: ${String(s.reason)}`)
    fail(`${refusedEntries} entries from honest nodes refused (${invalid.length} peer:invalid events): ${shown.join('; ')}${invalid.length > 4 ? '; …' : ''}`)
  }
  const unknownPeers = new Set(allStatus.filter(s => !byPeer.has(s.peer)).map(s => s.peer))
  if (unknownPeers.size > 0) fail(`harness: sessions with peers that are not nodes of the run: ${[...unknownPeers].join(', ')}`)

  let pairsWithoutSession: number
  if (states.length === n) {
    const without: string[] = []
    for (let a = 0; a < n; a++) {
      for (let b = a + 1; b < n; b++) {
        const ab = (states[a].peers as string[]).includes(nodes[b].peerId!)
        const ba = (states[b].peers as string[]).includes(nodes[a].peerId!)
        if (!ab || !ba) without.push(`${nodes[a].name}-${nodes[b].name}${ab ? ` (only ${nodes[a].name} lists it)` : ba ? ` (only ${nodes[b].name} lists it)` : ''}`)
      }
    }
    pairsWithoutSession = without.length
    if (without.length > 0) fail(`no session at the end between ${without.join(', ')}`)
  } else {
    pairsWithoutSession = n * (n - 1) / 2
  }

  for (const node of nodes) {
    for (const p of node.incs) {
      for (const e of p.errors) fail(`${p.name} reported: ${e.slice(0, 1500)}`)
      if (p.junk.length > 0) fail(`harness: ${p.name} printed lines that are not JSON: ${p.junk.slice(0, 3).join(' | ')}`)
    }
  }

  // recovery after each heal or restart, from the nodes' status lines
  const recoveries: Recovery[] = []
  const times = new Set<number>()
  for (const node of nodes) {
    for (const p of node.incs) {
      times.add(p.startedAt)
      if (p.exit != null) times.add(p.exit.at)
      for (const s of p.status) times.add(s.at)
    }
  }
  const sorted = [...times].filter(t => t <= observedUntil).sort((a, b) => a - b)
  for (const [k, fault] of faults.entries()) {
    if (fault.healed == null) continue
    const h = t0 + fault.healed
    const next = faults[k + 1] != null ? t0 + faults[k + 1].start : Infinity
    const candidates = [h, ...sorted.filter(t => t > h)]
    let back: number | undefined
    for (const [j, c] of candidates.entries()) {
      if (!meshAt(fault.affected, c)) continue
      let holds = true
      for (let m = j + 1; m < candidates.length && candidates[m] <= c + STABLE_MS; m++) {
        if (!meshAt(fault.affected, candidates[m])) { holds = false; break }
      }
      if (holds) { back = c; break }
    }
    const interrupted = back == null ? next !== Infinity : back > next
    const r: Recovery = { fault, ms: back == null || interrupted ? undefined : back - h, interrupted }
    recoveries.push(r)
    const what = `${fault.kind} ${fault.nodes.map(i => nodes[i].name).join(',')} healed at ${since(h)}`
    if (r.ms != null) {
      log(`  recovery after ${what}: ${(r.ms / 1000).toFixed(1)} s`)
    } else {
      const upTo = Math.min(next, observedUntil) - 1
      log(`  recovery after ${what}: ${interrupted ? `not back before the next fault at ${since(next)}` : `never all back (watched until ${since(observedUntil)})`}; missing then: ${missingFor(fault.affected, upTo).join(', ')}`)
    }
  }
  const recovered = recoveries.filter(r => r.ms != null).map(r => r.ms!)
  const neverBack = recoveries.filter(r => r.ms == null && !r.interrupted)
  if (options.maxRecoveryMs != null) {
    const slow = recoveries.filter(r => r.ms == null ? r.interrupted : r.ms > options.maxRecoveryMs!)
    if (slow.length > 0) fail(`sessions took longer than ${options.maxRecoveryMs} ms to come back after ${slow.map(r => `${r.fault.kind} ${r.fault.nodes.map(i => nodes[i].name).join(',')} (${r.ms == null ? 'not back before the next fault' : `${(r.ms / 1000).toFixed(1)} s`})`).join(', ')}`)
  }
  if (neverBack.length > 0) fail(`sessions never all came back after ${neverBack.map(r => `${r.fault.kind} ${r.fault.nodes.map(i => nodes[i].name).join(',')} (healed at ${since(t0 + r.fault.healed!)})`).join(', ')}`)

  const totalAcked = nodes.reduce((sum, o) => sum + o.incs.reduce((k, p) => k + p.acks.length, 0), 0)
  const emitMs = emitEnd > emitStart ? emitEnd - emitStart : 0
  const figures: ChaosFigures = {
    seed,
    nodes: n,
    faults: {
      isolate: faults.filter(f => f.kind === 'isolate').length,
      split: faults.filter(f => f.kind === 'split').length,
      kill: faults.filter(f => f.kind === 'kill').length
    },
    acked: totalAcked,
    eventsPerSec: emitMs > 0 ? Math.round(totalAcked / (emitMs / 1000)) : 0,
    emitMs,
    length: Math.max(0, ...states.map(s => s.length as number)),
    unacked,
    convergeAfterStopMs: convergedAt != null ? Math.max(0, convergedAt - emitEnd) : null,
    convergeAfterHealMs: convergedAt != null ? Math.max(0, convergedAt - lastHeal) : null,
    recoveries: recovered.length,
    recoveryMedianMs: median(recovered),
    recoveryMaxMs: recovered.length > 0 ? Math.max(...recovered) : null,
    recoveryInterrupted: recoveries.filter(r => r.interrupted).length,
    lost,
    duplicates,
    headsEqual,
    verifyOk,
    refusedSessions,
    refusedEvents: refused.length,
    refusedEntries,
    pairsWithoutSession,
    restarts: nodes.reduce((s, o) => s + o.incs.length - 1, 0),
    ipMs: Math.round(net.ipMs),
    ipCalls: net.ipCalls,
    totalMs: Date.now() - t0
  }
  if (options.trace != null) {
    const trace = {
      t0,
      emitStart,
      emitEnd,
      lastHeal,
      convergedAt,
      options: { ...options, log: undefined },
      faults,
      recoveries: recoveries.map(r => ({ ...r, fault: faults.indexOf(r.fault) })),
      nodes: nodes.map(o => ({
        name: o.name,
        peerId: o.peerId,
        incarnations: o.incs.map(p => ({ name: p.name, pid: p.pid, startedAt: p.startedAt, exit: p.exit, acked: p.acks.length, status: p.status, lines: p.lines, errors: p.errors, stderr: p.stderr }))
      })),
      finalState,
      failures
    }
    await writeFile(options.trace, JSON.stringify(trace, null, 1))
    say(`trace written to ${options.trace}`)
  }
  say(`done: ${failures.length === 0 ? 'no failures' : `${failures.length} failures`}`)
  return { figures, failures, faults, recoveries }
}

/** The figures as one table row per run. */
export function figureTable (results: ChaosResult[]): string {
  const s = (ms: number | null): string => ms == null ? '-' : (ms / 1000).toFixed(1)
  const head = ['seed', 'faults i/s/k', 'acked', 'ev/s', 'length', 'conv stop s', 'conv heal s', 'recov med/max s', 'interrupted', 'refused sess', 'refused entries', 'lost', 'dup', 'heads eq', 'verify', 'pairs w/o', 'ip ms', 'failures']
  const rows = results.map(({ figures: f, failures }) => [
    String(f.seed), `${f.faults.isolate}/${f.faults.split}/${f.faults.kill}`, String(f.acked), String(f.eventsPerSec), String(f.length),
    s(f.convergeAfterStopMs), s(f.convergeAfterHealMs), `${s(f.recoveryMedianMs)}/${s(f.recoveryMaxMs)}`, String(f.recoveryInterrupted),
    String(f.refusedSessions), String(f.refusedEntries), String(f.lost), String(f.duplicates), f.headsEqual ? 'yes' : 'NO',
    `${f.verifyOk}/${f.nodes}`, String(f.pairsWithoutSession), String(f.ipMs), String(failures.length)
  ])
  const width = head.map((h, c) => Math.max(h.length, ...rows.map(r => r[c].length)))
  const line = (r: string[]): string => r.map((x, c) => x.padStart(width[c])).join(' | ')
  return [line(head), width.map(w => '-'.repeat(w)).join('-|-'), ...rows.map(line)].join('\n')
}
