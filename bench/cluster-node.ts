// One node of the cluster benchmark (bench/cluster.ts), in its own process: a
// HyperEmitter on memory-level, driven by JSON lines on stdin and answering
// with JSON lines on stdout. A thin adapter: the driver decides and measures.
//
//   node dist/bench/cluster-node.js '<config JSON>'
//
// Config: {index, options (emitter options), maxLife (ms)}.
//
// stdout (t = type, at = Date.now(): every process reads the same clock):
//   {t:'open', peerId, pid, at}
//   {t:'connect'|'disconnect', peer, at}        status peer:connect / peer:disconnect
//   {t:'refused', peer, code, reason, at} / {t:'invalid', peer, count, reason, at}
//   {t:'seen', tag, at}                         the Hello listener got the event emitted with `tag`
//   {t:'reply', tag, ...}                       the answer to a command with that tag
//   {t:'error', message, tag?, at}
//
// stdin commands, each {cmd, tag, ...}:
//   listen                    -> {addrs}
//   connect {addr}            -> {peer, ms}
//   emit-steady {perTick, intervalMs, ticks}  -> {issued, startAt, lastAt}
//   emit-burst {count}        -> {issued, startAt, lastAt, ms}
//   emit-one {mark}           -> {startAt, at}  (every node's listener prints `seen` with `mark`)
//   await-length {length, timeoutMs} -> {length, heads, at} once the log holds `length` entries
//   stats                     -> {length, heads, sessions, connections, connectedPeers, sent, sentSeen, received, sync, rssMB, peakRssMB, cpuMs, gc}
//                                (sync: the sync service's counters; gc: main-thread GC pauses so far, {ms, majorMs, major})
//   close                     -> closes and exits
// It also exits when stdin ends (the driver is gone) and after maxLife ms.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { PerformanceObserver, constants as perf } from 'node:perf_hooks'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter, type HyperEmitterOptions } from '../src/index.js'

interface Config {
  index: number
  /** emitter options; may hold options this version of the emitter does not know yet (activePeers) */
  options: HyperEmitterOptions & Record<string, unknown>
  maxLife: number
}

interface Command {
  cmd: string
  tag?: string
  addr?: string
  perTick?: number
  intervalMs?: number
  ticks?: number
  count?: number
  mark?: string
  length?: number
  timeoutMs?: number
}

/** How often RSS is sampled for its peak. */
const RSS_SAMPLE_MS = 200
/** How often await-length looks at the log's length. */
const LENGTH_POLL_MS = 5
/** Values of one node's Integer events: node i emits i * SPAN + k. */
const SPAN = 10_000_000

const config = JSON.parse(process.argv[2] ?? '{}') as Config

function out (line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify({ ...line, at: line.at ?? Date.now() }) + '\n')
}

const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const emitter = new HyperEmitter(new MemoryLevel(), schema, config.options)

// peers() counts what was sent to each listed peer since open, but drops a
// peer whose session ended: its last count seen is kept here, so that
// `sentSeen` still holds it (as of the last sample, at most 200 ms old)
const sentByPeer = new Map<string, number>()
function sampleSent (): number {
  let now = 0
  for (const p of emitter.peers()) {
    sentByPeer.set(p.id, Math.max(sentByPeer.get(p.id) ?? 0, p.sent))
    now += p.sent
  }
  return now
}

let peakRss = process.memoryUsage.rss()
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage.rss())
  sampleSent()
}, RSS_SAMPLE_MS).unref()

// the main thread's garbage-collection pauses so far: all, and the major ones
const gc = { ms: 0, majorMs: 0, major: 0 }
new PerformanceObserver(list => {
  for (const e of list.getEntries()) {
    gc.ms += e.duration
    if ((e as { detail?: { kind?: number } }).detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR) {
      gc.majorMs += e.duration
      gc.major++
    }
  }
}).observe({ entryTypes: ['gc'] })
let closing: Promise<void> | undefined

function shutdown (code: number): Promise<void> {
  closing ??= (async () => {
    const force = setTimeout(() => { process.exit(code === 0 ? 3 : code) }, 5000)
    try {
      await emitter.close()
    } catch (err) {
      out({ t: 'error', message: `close failed: ${(err as Error).message}` })
    }
    clearTimeout(force)
    process.exit(code)
  })()
  return closing
}

setTimeout(() => {
  out({ t: 'error', message: `alive for ${config.maxLife} ms: exiting` })
  void shutdown(1)
}, config.maxLife).unref()
process.stdin.on('end', () => { void shutdown(0) })
process.stdin.on('error', () => { void shutdown(0) })
process.on('SIGTERM', () => { void shutdown(0) })

emitter.status.on('peer:connect', ({ peer }: { peer: string }) => { out({ t: 'connect', peer }) })
emitter.status.on('peer:disconnect', ({ peer }: { peer: string }) => { out({ t: 'disconnect', peer }) })
emitter.status.on('peer:refused', ({ peer, code, reason }: { peer: string, code: string, reason: string }) => { out({ t: 'refused', peer, code, reason }) })
emitter.status.on('peer:invalid', ({ peer, count, reason }: { peer: string, count: number, reason: string }) => { out({ t: 'invalid', peer, count, reason }) })
emitter.on('Hello', (msg: { message?: string }) => { out({ t: 'seen', tag: msg.message }) })

let value = config.index * SPAN

function emitInteger (): Promise<unknown> {
  return emitter.emit('Integer', { value: value++ })
}

/** A short digest of the sorted heads: equal digests, equal heads. */
function headsDigest (): string {
  const hash = createHash('sha256')
  for (const h of emitter.log.heads().map(x => Buffer.from(x).toString('hex')).sort()) hash.update(h)
  return hash.digest('hex').slice(0, 16)
}

// keeps to the schedule on average: ticks that come late emit what is due
async function emitSteady (perTick: number, intervalMs: number, ticks: number): Promise<Record<string, unknown>> {
  const total = perTick * ticks
  const startAt = Date.now()
  const pending: Array<Promise<unknown>> = []
  let issued = 0
  await new Promise<void>(resolve => {
    const tick = (): void => {
      const due = Math.min(total, (Math.floor((Date.now() - startAt) / intervalMs) + 1) * perTick)
      for (; issued < due; issued++) pending.push(emitInteger())
      if (issued >= total) {
        clearInterval(timer)
        resolve()
      }
    }
    const timer = setInterval(tick, intervalMs)
    tick()
  })
  await Promise.all(pending)
  return { issued, startAt, lastAt: Date.now() }
}

async function awaitLength (length: number, timeoutMs: number): Promise<Record<string, unknown>> {
  const end = Date.now() + timeoutMs
  while (emitter.log.length < length) {
    if (Date.now() > end) throw new Error(`length ${emitter.log.length} of ${length} after ${timeoutMs} ms`)
    await new Promise(resolve => setTimeout(resolve, LENGTH_POLL_MS))
  }
  return { length: emitter.log.length, heads: headsDigest() }
}

/** CPU time this process used so far (user and system), ms. */
function cpuMs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

function stats (): Record<string, unknown> {
  const peers = emitter.peers()
  const node = emitter.node
  return {
    length: emitter.log.length,
    heads: headsDigest(),
    sessions: peers.length,
    connections: node?.getConnections().length ?? null,
    connectedPeers: node?.getPeers().length ?? null,
    sent: sampleSent(),
    sentSeen: [...sentByPeer.values()].reduce((s, n) => s + n, 0),
    received: peers.reduce((s, p) => s + p.received, 0),
    sync: node?.services.sync.counters ?? null,
    rssMB: process.memoryUsage.rss() / 1024 / 1024,
    peakRssMB: peakRss / 1024 / 1024,
    cpuMs: cpuMs(),
    gc: { ...gc }
  }
}

async function run (c: Command): Promise<Record<string, unknown>> {
  switch (c.cmd) {
    case 'listen':
      return { addrs: (await emitter.listen(0, '127.0.0.1')).map(a => a.toString()) }
    case 'connect': {
      const t = performance.now()
      const peer = await emitter.connect(c.addr!)
      return { peer, ms: performance.now() - t }
    }
    case 'emit-steady':
      return await emitSteady(c.perTick!, c.intervalMs!, c.ticks!)
    case 'emit-burst': {
      const startAt = Date.now()
      const t = performance.now()
      await Promise.all(Array.from({ length: c.count! }, () => emitInteger()))
      return { issued: c.count, startAt, lastAt: Date.now(), ms: performance.now() - t }
    }
    case 'emit-one': {
      const startAt = Date.now()
      await emitter.emit('Hello', { from: String(config.index), message: c.mark })
      return { startAt }
    }
    case 'await-length':
      return await awaitLength(c.length!, c.timeoutMs!)
    case 'stats':
      return stats()
    case 'close':
      await shutdown(0)
      return {}
    default:
      throw new Error(`unknown command ${c.cmd}`)
  }
}

try {
  await emitter.ready()
  out({ t: 'open', peerId: emitter.peerId, pid: process.pid })
  createInterface({ input: process.stdin }).on('line', line => {
    let c: Command
    try {
      c = JSON.parse(line) as Command
    } catch {
      out({ t: 'error', message: `not JSON: ${line.slice(0, 200)}` })
      return
    }
    run(c).then(
      reply => { out({ ...reply, t: 'reply', tag: c.tag }) },
      (err: Error) => { out({ t: 'error', tag: c.tag, message: `${c.cmd}: ${err.message}` }) }
    )
  })
} catch (err) {
  out({ t: 'error', message: (err as Error).stack ?? String(err) })
  await shutdown(1)
}
