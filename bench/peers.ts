// HyperEmitter next to Hypercore in the same run: emits started together
// against Hypercore's batched append of 1,000, emits awaited one by one
// against awaited appends, and catch-up over loopback TCP, both on disk in
// temp folders. Each run is its own process, and the two alternate, first one
// then the other, round after round, so that a slow minute on a shared machine
// falls on both. Hypercore is a devDependency of the benchmarks only, and this
// file alone imports it.
//
//   node dist/bench/peers.js                                       the table
//   node dist/bench/peers.js run <figure> <system> <n> <block>     one run, one JSON line
//   node dist/bench/peers.js hypercore-peer <dir> <n> <block>      Hypercore's A for sync.catchup
// (<block>: a Hypercore block in hex)
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { createServer, connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { MemoryLevel } from 'memory-level'
import type Hypercore from 'hypercore'
import { HyperEmitter } from '../src/index.js'
import { report, rssSampler, round, tempDir } from './util.js'

const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
// the event of emit.ts and sync.ts
const message = { from: 'bench', message: 'a small event of about forty bytes' }
const BATCH = 1000
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const EVENTS = Number(process.env.BENCH_EVENTS ?? 100_000)
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 10_000)
const CATCHUP = Number(process.env.BENCH_CATCHUP ?? 50_000)
// a run that takes longer is stuck
const RUN_TIMEOUT = 5 * 60_000

type System = 'hyperemitter' | 'hypercore'
type Figure = 'emit.concurrent' | 'deliver' | 'emit.sequential' | 'sync.catchup'

interface Row {
  figure: Figure
  label: string
  events: number
  goal: string
  met: (ours: number, ratio: number) => boolean
}

const rows: Row[] = [
  { figure: 'emit.concurrent', label: `emits started together / batched append of ${BATCH.toLocaleString('en-US')} (events/s)`, events: EVENTS, goal: '≥ 1.2 × Hypercore', met: (_, ratio) => ratio >= 1.2 },
  { figure: 'deliver', label: `emits started together to the last listener call / batched append of ${BATCH.toLocaleString('en-US')} to the last block of a live read stream (events/s)`, events: EVENTS, goal: '≥ 1.0 × Hypercore', met: (_, ratio) => ratio >= 1.0 },
  { figure: 'emit.sequential', label: 'emits awaited one by one / awaited append (events/s)', events: SEQUENTIAL, goal: '≥ 25,000/s', met: ours => ours >= 25_000 },
  { figure: 'sync.catchup', label: 'catch-up over loopback TCP, A in its own process (events/s)', events: CATCHUP, goal: '≥ 120,000/s', met: ours => ours >= 120_000 }
]

/**
 * What a Hypercore application would append for our event: its name and its
 * protobuf payload, the part of our entry that is not links, clock or
 * signature (Hypercore keeps its own tree and signature beside the blocks).
 * BENCH_BLOCK_BYTES sets another size, such as that of our whole entry.
 */
async function eventBlock (): Promise<{ block: Uint8Array, entryBytes: number }> {
  const e = await HyperEmitter.open(new MemoryLevel(), schema)
  await Promise.all(Array.from({ length: 1000 }, () => e.emit('Hello', message)))
  const entries = await e.log.read(e.log.length - 999, 1000)
  await e.close()
  const { name, payload } = entries[0].entry
  const event = Buffer.concat([Buffer.from(name), payload])
  const size = Number(process.env.BENCH_BLOCK_BYTES ?? event.byteLength)
  const block = Buffer.alloc(size)
  for (let i = 0; i < size; i += event.byteLength) event.copy(block, i)
  return { block, entryBytes: entries.reduce((sum, x) => sum + x.bytes.byteLength, 0) / entries.length }
}

async function openHypercore (path: string, key?: Uint8Array): Promise<Hypercore> {
  const { default: Core } = await import('hypercore')
  const core = new Core(path, key)
  await core.ready()
  return core
}

async function fill (core: Hypercore, block: Uint8Array, n: number): Promise<void> {
  const batch = Array.from({ length: BATCH }, () => block)
  for (let i = 0; i < n; i += BATCH) await core.append(n - i >= BATCH ? batch : batch.slice(0, n - i))
}

/** Reads blocks of `core` from the first as they are appended, until `n`. */
async function readLive (core: Hypercore, n: number): Promise<void> {
  const stream = core.createReadStream({ start: 0, live: true })
  // not for-await: leaving that loop waits for the live stream to end
  await new Promise<void>((resolve, reject) => {
    let read = 0
    stream.on('error', reject)
    stream.on('data', () => { if (++read === n) resolve() })
  })
  stream.destroy()
}

/**
 * One measurement in this process: events/s and the peak RSS of this process.
 * Ours are the timed loops of emit.ts and sync.ts, without their ceilings.
 */
async function measure (figure: Figure, system: System, n: number, block: Uint8Array): Promise<{ value: number, events: number, peakRssMB: number }> {
  const dir = await tempDir()
  try {
    if (figure === 'sync.catchup') return await catchup(system, dir.path, n, block)
    const peak = rssSampler()
    let elapsed: number
    if (system === 'hyperemitter') {
      const e = await HyperEmitter.open(join(dir.path, 'db'), schema)
      let delivered = 0
      const all = new Promise<void>(resolve => {
        if (figure === 'deliver') e.on('Hello', () => { if (++delivered === n) resolve() })
        else resolve()
      })
      const start = performance.now()
      if (figure !== 'emit.sequential') {
        const pending = []
        for (let i = 0; i < n; i++) pending.push(e.emit('Hello', message))
        await Promise.all(pending)
        await all
      } else {
        for (let i = 0; i < n; i++) await e.emit('Hello', message)
      }
      elapsed = performance.now() - start
      await e.close()
    } else {
      const core = await openHypercore(join(dir.path, 'core'))
      const start = performance.now()
      if (figure === 'deliver') await Promise.all([fill(core, block, n), readLive(core, n)])
      else if (figure === 'emit.concurrent') await fill(core, block, n)
      else for (let i = 0; i < n; i++) await core.append(block)
      elapsed = performance.now() - start
      await core.close()
    }
    return { value: n / (elapsed / 1000), events: n, peakRssMB: peak() }
  } finally {
    await dir.cleanup()
  }
}

// A fills its log (ours: bench/peer.js, as in sync.ts) and serves it from its
// own process; B, here, is timed from its first dial until it holds all of it.
async function catchup (system: System, dir: string, n: number, block: Uint8Array): Promise<{ value: number, events: number, peakRssMB: number }> {
  const args = system === 'hyperemitter'
    ? [fileURLToPath(new URL('./peer.js', import.meta.url)), dir, String(n)]
    : [fileURLToPath(import.meta.url), 'hypercore-peer', dir, String(n), Buffer.from(block).toString('hex')]
  const peer = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] })
  try {
    const [line] = await once(createInterface({ input: peer.stdout }), 'line') as [string]
    const info = JSON.parse(line) as { addr: string, length: number, port: number, key: string }
    const peak = rssSampler()
    let elapsed: number
    if (system === 'hyperemitter') {
      const b = await HyperEmitter.open(join(dir, 'b'), schema)
      const start = performance.now()
      await b.connect(info.addr)
      await b.synced()
      elapsed = performance.now() - start
      const got = b.log.length
      await b.close()
      if (got < info.length) throw new Error(`b has ${got} of ${info.length}`)
    } else {
      const b = await openHypercore(join(dir, 'b'), Buffer.from(info.key, 'hex'))
      const start = performance.now()
      const socket = connect(info.port, '127.0.0.1')
      const stream = b.replicate(true)
      // ended by us once the range is in
      socket.on('error', () => {})
      stream.on('error', () => {})
      socket.pipe(stream).pipe(socket)
      await b.download({ start: 0, end: info.length }).done()
      elapsed = performance.now() - start
      const got = b.contiguousLength
      socket.destroy()
      await b.close()
      if (got < info.length) throw new Error(`b has ${got} of ${info.length}`)
    }
    return { value: info.length / (elapsed / 1000), events: info.length, peakRssMB: peak() }
  } finally {
    peer.stdin.end()
    if (peer.exitCode == null) await once(peer, 'exit')
  }
}

async function hypercorePeer (dir: string, n: number, block: Uint8Array): Promise<void> {
  const core = await openHypercore(join(dir, 'a'))
  await fill(core, block, n)
  const server = createServer(socket => {
    const stream = core.replicate(false)
    // the far end goes away when it has all it asked for
    socket.on('error', () => {})
    stream.on('error', () => {})
    socket.pipe(stream).pipe(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  console.log(JSON.stringify({ port, key: Buffer.from(core.key).toString('hex'), length: core.length }))
  process.stdin.resume()
  await once(process.stdin, 'end')
  server.close()
  await core.close()
  process.exit(0)
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

const count = (n: number): string => Math.round(n).toLocaleString('en-US')
const spread = (values: number[], show: (n: number) => string): string =>
  values.length < 2 ? show(values[0]) : `${show(median(values))} (${show(Math.min(...values))}–${show(Math.max(...values))})`

async function table (): Promise<void> {
  const { block, entryBytes } = await eventBlock()
  const hypercoreVersion = (JSON.parse(await readFile(join(dirname(createRequire(import.meta.url).resolve('hypercore')), 'package.json'), 'utf8')) as { version: string }).version
  const loadBefore = loadavg()[0]
  const started = performance.now()
  const lines: string[] = []
  for (const row of rows) {
    const values: Record<System, number[]> = { hyperemitter: [], hypercore: [] }
    for (let r = 0; r < ROUNDS; r++) {
      const order: System[] = r % 2 === 0 ? ['hyperemitter', 'hypercore'] : ['hypercore', 'hyperemitter']
      for (const system of order) {
        const res = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'run', row.figure, system, String(row.events), Buffer.from(block).toString('hex')], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', timeout: RUN_TIMEOUT })
        const out = res.stdout.trim().split('\n').at(-1) ?? ''
        if (res.status !== 0 || !out.startsWith('{')) throw new Error(`${row.figure} on ${system} failed (${res.status ?? res.signal})`)
        const figure = JSON.parse(out) as { value: number }
        values[system].push(figure.value)
        console.log(JSON.stringify({ ...figure, round: r + 1 }))
      }
    }
    const ours = median(values.hyperemitter)
    const ratio = ours / median(values.hypercore)
    const ratios = values.hyperemitter.map((v, i) => v / values.hypercore[i])
    lines.push(`| ${row.label}, ${count(row.events)} events | ${spread(values.hyperemitter, count)} | ${spread(values.hypercore, count)} | ${ratio.toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ${row.goal}: ${row.met(ours, ratio) ? 'met' : 'not met'} |`)
  }
  const seconds = (performance.now() - started) / 1000
  console.log([
    '',
    `HyperEmitter (classic-level) and Hypercore ${hypercoreVersion} (its RocksDB storage), both in temp folders; Node ${process.version}, ${cpus().length} CPUs, load average ${loadBefore.toFixed(2)} before and ${loadavg()[0].toFixed(2)} after, ${round(seconds)} s.`,
    `Each figure: ${ROUNDS} rounds, each run in its own process, the order alternating. A Hypercore block: ${block.byteLength} bytes, ${process.env.BENCH_BLOCK_BYTES == null ? 'the event\'s name and protobuf payload' : 'BENCH_BLOCK_BYTES'}; our entry: ${round(entryBytes)} bytes on average (name, payload, links, clock, signature).`,
    'Median (range) over the rounds; ratio: HyperEmitter\'s median over Hypercore\'s (range of the ratios within each round).',
    '',
    '| figure | HyperEmitter | Hypercore | ratio | goal |',
    '|---|---|---|---|---|',
    ...lines
  ].join('\n'))
}

const [mode, ...rest] = process.argv.slice(2)
if (mode === 'run') {
  const [figure, system, n, hex] = rest as [Figure, System, string, string]
  const result = await measure(figure, system, Number(n), Buffer.from(hex, 'hex'))
  report({ name: figure, system, value: round(result.value), unit: 'events/s', events: result.events, peakRssMB: result.peakRssMB })
} else if (mode === 'hypercore-peer') {
  const [dir, n, hex] = rest
  await hypercorePeer(dir, Number(n), Buffer.from(hex, 'hex'))
} else {
  await table()
}
