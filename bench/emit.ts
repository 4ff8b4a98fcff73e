// Emit and delivery throughput on classic-level, each against raw level batch
// writes of the same entry bytes measured in the same run.
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter } from '../src/index.js'
import { report, rssSampler, round, tempDir } from './util.js'

const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const message = { from: 'bench', message: 'a small event of about forty bytes' }
const which = process.argv[2] ?? 'all'

/** Raw classic-level: the entry bytes written in batches of 1024, ops/s. */
async function rawBatchPuts (entries: Uint8Array[], ids: Uint8Array[]): Promise<number> {
  const dir = await tempDir()
  const db = new ClassicLevel<Buffer, Buffer>(join(dir.path, 'raw'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  const start = performance.now()
  for (let i = 0; i < entries.length; i += 1024) {
    const ops = []
    for (let j = i; j < Math.min(entries.length, i + 1024); j++) ops.push({ type: 'put' as const, key: Buffer.from(ids[j]), value: Buffer.from(entries[j]) })
    await db.batch(ops)
  }
  const rate = entries.length / ((performance.now() - start) / 1000)
  await db.close()
  await dir.cleanup()
  return rate
}

/** Raw classic-level: single awaited puts of the entry bytes, ops/s. */
async function rawSinglePuts (entries: Uint8Array[], ids: Uint8Array[]): Promise<number> {
  const dir = await tempDir()
  const db = new ClassicLevel<Buffer, Buffer>(join(dir.path, 'raw'), { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  const start = performance.now()
  for (let i = 0; i < entries.length; i++) await db.put(Buffer.from(ids[i]), Buffer.from(entries[i]))
  const rate = entries.length / ((performance.now() - start) / 1000)
  await db.close()
  await dir.cleanup()
  return rate
}

// n emits started together, then awaited: events/s. With a listener, until
// the last listener call ('deliver').
async function concurrent (n: number, listen: boolean): Promise<void> {
  const dir = await tempDir()
  const e = await HyperEmitter.open(join(dir.path, 'db'), schema)
  const peak = rssSampler()
  let delivered = 0
  const all = new Promise<void>(resolve => {
    if (listen) e.on('Hello', () => { if (++delivered === n) resolve() })
    else resolve()
  })
  const start = performance.now()
  const pending = []
  for (let i = 0; i < n; i++) pending.push(e.emit('Hello', message))
  await Promise.all(pending)
  await all
  const elapsed = performance.now() - start
  const rss = peak()
  const entries = await e.log.read(1, n)
  const raw = await rawBatchPuts(entries.map(x => x.bytes), entries.map(x => x.id))
  const ceiling = { ceiling: round(raw), ceilingName: 'classic-level batch put of the same entry bytes', events: n, peakRssMB: rss }
  if (listen) report({ name: 'deliver', value: round(n / (elapsed / 1000)), unit: 'events/s', note: 'emit through to the last listener call', ...ceiling })
  else report({ name: 'emit.concurrent', value: round(n / (elapsed / 1000)), unit: 'events/s', goal: '>= 100000', ...ceiling })
  await e.close()
  await dir.cleanup()
}

async function sequential (n: number): Promise<void> {
  const dir = await tempDir()
  const e = await HyperEmitter.open(join(dir.path, 'db'), schema)
  const peak = rssSampler()
  const start = performance.now()
  for (let i = 0; i < n; i++) await e.emit('Hello', message)
  const elapsed = performance.now() - start
  const rss = peak()
  const entries = await e.log.read(1, n)
  const raw = await rawSinglePuts(entries.map(x => x.bytes), entries.map(x => x.id))
  report({ name: 'emit.sequential', value: round(n / (elapsed / 1000)), unit: 'events/s', ceiling: round(raw), ceilingName: 'classic-level single awaited put of the same entry bytes', goal: '>= 25000', events: n, peakRssMB: rss })
  await e.close()
  await dir.cleanup()
}

if (which === 'all' || which === 'emit.concurrent') await concurrent(Number(process.env.BENCH_EVENTS ?? 100_000), false)
if (which === 'all' || which === 'deliver') await concurrent(Number(process.env.BENCH_EVENTS ?? 100_000), true)
if (which === 'all' || which === 'emit.sequential') await sequential(Number(process.env.BENCH_SEQUENTIAL ?? 20_000))
