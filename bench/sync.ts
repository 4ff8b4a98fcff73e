// Replication figures over TCP + Noise + Yamux on 127.0.0.1, each next to the
// raw libp2p stream between the same two nodes, measured in the same run.
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { MemoryLevel } from 'memory-level'
import { lpStream } from '@libp2p/utils'
import { HyperEmitter } from '../src/index.js'
import { cpuMeter, percentile, report, rssSampler, round, tempDir, RAW } from './util.js'
import type { Stream } from '@libp2p/interface'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'


const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const message = { from: 'bench', message: 'a small event of about forty bytes' }
const which = process.argv[2] ?? 'all'
const ECHO = '/hyperemitter-bench/echo/1.0.0'

/** Raw throughput: `bytes` pushed through one libp2p stream in 64 KiB sends, in bytes/s. */
async function rawThroughput (from: HyperEmitter, to: string, bytes: number): Promise<number> {
  const stream = await from.node!.dialProtocol(multiaddr(to), RAW)
  const chunk = new Uint8Array(64 * 1024)
  const start = performance.now()
  for (let sent = 0; sent < bytes; sent += chunk.byteLength) {
    if (!stream.send(chunk)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
  }
  // the far side has read it all when it closes its end after ours
  await stream.close()
  return bytes / ((performance.now() - start) / 1000)
}

/** Raw round trip: one small length-prefixed frame echoed, p50 and p99 in ms. */
async function rawRoundTrip (from: HyperEmitter, to: HyperEmitter, n: number): Promise<[number, number]> {
  await to.node!.handle(ECHO, async (stream: Stream) => {
    const lp = lpStream(stream)
    for (let i = 0; i < n; i++) await lp.write(await lp.read())
  })
  const lp = lpStream(await from.node!.dialProtocol(to.node!.getMultiaddrs()[0], ECHO))
  const times: number[] = []
  const frame = new Uint8Array(150)
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    await lp.write(frame)
    await lp.read()
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return [percentile(times, 0.5), percentile(times, 0.99)]
}

// A fills its log and serves it from another process, so that each side has
// a core, as two machines would.
// `signed`: A's log is written by awaited emits, each entry signed, so B
// checks a signature per entry (sync.catchup.signed).
async function catchup (n: number, signed = false): Promise<void> {
  const dir = await tempDir()
  const args = [fileURLToPath(new URL('./peer.js', import.meta.url)), dir.path, String(n), ...(signed ? ['awaited'] : [])]
  const peer = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  const [line] = await once(createInterface({ input: peer.stdout }), 'line') as [string]
  const info = JSON.parse(line) as { addr: string, length: number, entryBytes: number }
  const b = await HyperEmitter.open(join(dir.path, 'b'), schema)
  const first = await catchUpFrom(b, info, peer.pid)
  const raw = await rawThroughput(b, info.addr, Math.max(64 * 1024 * 1024, Math.round(info.entryBytes * info.length)))
  const common = { unit: 'events/s', ceiling: round(raw / info.entryBytes), ceilingName: 'raw libp2p stream bytes/s between the same two nodes, divided by the entry size', rawMBs: round(raw / 1e6, 1), entryBytes: round(info.entryBytes), events: info.length }
  if (signed) report({ name: 'sync.catchup.signed', value: first.rate, ...common, ...first.figures, note: 'A log written by awaited emits, every entry signed: B checks a signature per entry' })
  else report({ name: 'sync.catchup', value: first.rate, ...common, ...first.figures, goal: '>= 120000', rssGoal: '< 200', seconds: first.seconds, ...(info.length >= 1_000_000 ? { secondsGoal: `<= ${round(10 * info.length / 1_000_000, 1)}` } : {}), note: 'A serves from its own process; B (measured, RSS too) stores to classic-level' })
  await b.close()
  if (!signed && info.length < 1_000_000) {
    // the same again into a new db in the same processes: code V8 has
    // optimized already, as in a node that has run a while (a partition heals)
    const again = await HyperEmitter.open(join(dir.path, 'b2'), schema)
    const warm = await catchUpFrom(again, info, peer.pid)
    report({ name: 'sync.catchup.warm', value: warm.rate, ...common, ...warm.figures, seconds: warm.seconds, note: 'a second catch-up by a new db in the same B from the same A: the JIT warm-up of both left out' })
    await again.close()
  }
  peer.stdin.end()
  await once(peer, 'exit')
  await dir.cleanup()
}

/**
 * `b` catches up from A (`info`, process `pid`): the rate from connect() to
 * synced(), B's peak RSS, and the CPU each side used per entry (all its
 * threads: V8's compilers and GC, level's, libuv's).
 */
async function catchUpFrom (b: HyperEmitter, info: { addr: string, length: number }, pid: number | undefined): Promise<{ rate: number, seconds: number, figures: Record<string, number | undefined> }> {
  const peak = rssSampler()
  const cpu = cpuMeter(pid)
  const start = performance.now()
  await b.connect(info.addr)
  await b.synced()
  const elapsed = performance.now() - start
  const used = cpu()
  const rss = peak()
  if (b.log.length < info.length) throw new Error(`b has ${b.log.length} of ${info.length}`)
  const perEntry = (ms: number | undefined): number | undefined => ms == null ? undefined : round(ms * 1000 / info.length, 2)
  return {
    rate: round(info.length / (elapsed / 1000)),
    seconds: round(elapsed / 1000, 2),
    figures: {
      peakRssMB: rss,
      cpuUsPerEntryB: perEntry(used.self),
      cpuUsPerEntryA: perEntry(used.child),
      coresUsed: used.child == null ? undefined : round((used.self + used.child) / elapsed, 2)
    }
  }
}

async function latency (n: number): Promise<void> {
  const a = await HyperEmitter.open(new MemoryLevel(), schema)
  const b = await HyperEmitter.open(new MemoryLevel(), schema)
  const [addr] = await a.listen(0, '127.0.0.1')
  await b.connect(addr)
  await b.synced()
  let arrived: (() => void) | undefined
  b.on('Hello', () => { arrived?.() })
  const times: number[] = []
  for (let i = 0; i < n; i++) {
    const got = new Promise<void>(resolve => { arrived = resolve })
    const t = performance.now()
    await a.emit('Hello', message)
    await got
    times.push(performance.now() - t)
  }
  times.sort((x, y) => x - y)
  await b.listen(0, '127.0.0.1')
  const [raw50, raw99] = await rawRoundTrip(a, b, 2000)
  report({ name: 'sync.latency.p50', value: round(percentile(times, 0.5), 3), unit: 'ms', ceiling: round(raw50, 3), ceilingName: 'raw libp2p round trip p50 (a floor: lower is better)', goal: '<= 1', events: n })
  report({ name: 'sync.latency.p99', value: round(percentile(times, 0.99), 3), unit: 'ms', ceiling: round(raw99, 3), ceilingName: 'raw libp2p round trip p99 (a floor: lower is better)', goal: '<= 5', events: n })
  await a.close()
  await b.close()
}

async function chain (length: number, writers: number, perWriter: number): Promise<void> {
  const opts = { inboundConnectionThreshold: 1000 }
  const nodes = await Promise.all(Array.from({ length }, () => HyperEmitter.open(new MemoryLevel(), schema, opts)))
  const addrs = []
  for (const n of nodes) addrs.push((await n.listen(0, '127.0.0.1'))[0])
  for (let i = 1; i < length; i++) await nodes[i].connect(addrs[i - 1])
  await Promise.all(nodes.map(n => n.synced()))
  await waitFor(() => new Set(nodes.map(n => n.log.length)).size === 1)
  const before = nodes[0].log.length
  const arrivals = nodes.map(n => new Promise<void>(resolve => { n.once('Hello', () => { resolve() }) }))
  const start = performance.now()
  await nodes[0].emit('Hello', message)
  await Promise.all(arrivals)
  const oneEvent = performance.now() - start
  report({ name: `sync.chain${length}.one-event`, value: round(oneEvent, 1), unit: 'ms', note: `one event from the first to all ${length} nodes of a chain` })
  // a ring of `writers` nodes, each emitting perWriter events at once
  const ring = nodes.slice(0, writers)
  await ring[ring.length - 1].connect(addrs[0])
  const target = before + 1 + writers * perWriter
  const heads = (n: HyperEmitter): string => n.log.heads().map(h => Buffer.from(h).toString('hex')).sort().join()
  const sent = (): number => nodes.reduce((sum, n) => sum + n.peers().reduce((s, p) => s + p.sent, 0), 0)
  const sentBefore = sent()
  const t = performance.now()
  await Promise.all(ring.map((n, i) => Promise.all(Array.from({ length: perWriter }, (_, j) => n.emit('Integer', { value: i * perWriter + j })))))
  await waitFor(() => nodes.every(n => n.log.length === target) && new Set(nodes.map(heads)).size === 1)
  const elapsed = performance.now() - t
  // each of the other nodes needs each entry once: more sends are duplicates
  const sends = sent() - sentBefore
  const needed = writers * perWriter * (length - 1)
  report({ name: `sync.chain${length}.converge`, value: round(elapsed, 1), unit: 'ms', sends, sendsPerNeeded: round(sends / needed, 2), connections: nodes.reduce((s, n) => s + n.peers().length, 0) / 2, note: `${writers} nodes each emit ${perWriter} at once; until all ${length} nodes hold all ${writers * perWriter} with identical heads; sends counts entries sent on all links (sessions that ended during the run are not counted)` })
  await Promise.all(nodes.map(n => n.close()))
}

async function waitFor (check: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 2))
  }
}

if (which === 'all' || which === 'sync.catchup') await catchup(Number(process.env.BENCH_EVENTS ?? 100_000))
if (which === 'all' || which === 'sync.catchup.signed') await catchup(Number(process.env.BENCH_SIGNED ?? 20_000), true)
if (which === 'all' || which === 'sync.latency') await latency(Number(process.env.BENCH_LATENCY ?? 10_000))
if (which === 'all' || which === 'sync.chain20') await chain(20, 10, 1000)
