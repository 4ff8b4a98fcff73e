// A big log (1,000,000 events by default, BENCH_LOG_EVENTS to change) on
// classic-level: its size on disk, how long it takes to open, to read from
// the beginning (the log's entries, and the emitter's decoded events) and to
// verify. The ceiling of the reads, in the same run: classic-level iterating
// every record of the same db in batches (raw bytes, nothing decoded).
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter } from '../src/index.js'
import { folderBytes, report, round, tempDir } from './util.js'

const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const message = { from: 'bench', message: 'a small event of about forty bytes' }
const N = Number(process.env.BENCH_LOG_EVENTS ?? 1_000_000)
/** emits started together at a time while the log is built */
const CHUNK = 10_000
/** entries a log read takes at a time */
const READ = 4096

async function build (path: string): Promise<void> {
  const e = await HyperEmitter.open(path, schema)
  const started = performance.now()
  for (let i = 0; i < N; i += CHUNK) {
    await Promise.all(Array.from({ length: Math.min(CHUNK, N - i) }, () => e.emit('Hello', message)))
  }
  console.log(`# built a log of ${N} events in ${round((performance.now() - started) / 1000, 1)} s`)
  await e.close()
}

/** Every record of the feed, in batches: what any read of the log costs at least (records, and seconds). */
async function rawScan (path: string): Promise<{ records: number, seconds: number }> {
  const db = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  await db.open()
  const started = performance.now()
  let records = 0
  const it = db.sublevel<Buffer, Buffer>('feed-v3', { keyEncoding: 'buffer', valueEncoding: 'buffer' }).iterator()
  for (let batch = await it.nextv(READ); batch.length > 0; batch = await it.nextv(READ)) records += batch.length
  await it.close()
  const ms = performance.now() - started
  await db.close()
  return { records, seconds: ms / 1000 }
}

const dir = await tempDir()
try {
  const path = join(dir.path, 'db')
  await build(path)
  report({ name: 'log.disk', value: round((await folderBytes(path)) / 1e6, 1), unit: 'MB', events: N })
  const raw = await rawScan(path)
  let started = performance.now()
  const e = await HyperEmitter.open(path, schema)
  report({ name: 'log.open', value: round(performance.now() - started, 1), unit: 'ms', events: N })
  started = performance.now()
  let read = 0
  for (let at = 1; at <= e.log.length; at += READ) read += (await e.log.read(at, READ)).length
  const readMs = performance.now() - started
  // in events: the N events of the records iterated in that time
  const ceiling = { ceiling: round(N / raw.seconds), ceilingName: `classic-level iterating the ${raw.records} records of the feed, without decoding: the ${N} events over its time` }
  report({ name: 'log.read', value: round(read / (readMs / 1000)), unit: 'events/s', goal: '>= 200000', ...ceiling, events: read })
  started = performance.now()
  let events = 0
  for await (const _ of e.events({ from: 'beginning', live: false })) events++
  report({ name: 'log.events', value: round(events / ((performance.now() - started) / 1000)), unit: 'events/s', note: 'decoded by the schema', ...ceiling, events })
  started = performance.now()
  const verified = await e.log.verify()
  if (!verified.ok) throw new Error(`verify: ${JSON.stringify(verified.problems.slice(0, 5))}`)
  report({ name: 'log.verify', value: round(performance.now() - started), unit: 'ms', goal: `<= ${round(5000 * N / 1_000_000)}`, events: verified.entries })
  await e.close()
} finally {
  await dir.cleanup()
}
