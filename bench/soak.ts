// Soak: one node emits at a steady rate with retention, for a long time; its
// disk (the db folder) and RSS must stay flat once the log reaches its bound.
// Not a CI test: it runs for minutes.
//
//   node dist/bench/soak.js [--rate 5000] [--minutes 10] [--max-events 100000] [--sample 10]
//
// Prints one line per sample (elapsed s, events emitted, log length, floor,
// kept, db MiB, RSS MiB, event-loop lag), then the ranges of disk and RSS
// after the first minute.
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter } from '../src/index.js'
import { folderBytes, tempDir } from './util.js'

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '5000' },
    minutes: { type: 'string', default: '10' },
    'max-events': { type: 'string', default: '100000' },
    sample: { type: 'string', default: '10' }
  }
})
const RATE = Number(values.rate)
const DURATION = Number(values.minutes) * 60_000
const MAX_EVENTS = Number(values['max-events'])
const SAMPLE = Number(values.sample) * 1000
/** Emits are started every TICK ms, RATE * TICK / 1000 at a time. */
const TICK = 10

const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const message = { from: 'soak', message: 'a small event of about forty bytes' }

const MiB = 1024 * 1024
const dir = await tempDir()
const path = join(dir.path, 'db')
const emitter = new HyperEmitter(new ClassicLevel(path), schema, { retention: { maxEvents: MAX_EVENTS } })
await emitter.ready()
const lag = monitorEventLoopDelay({ resolution: 20 })
lag.enable()

let emitted = 0
let failed = 0
let inFlight = 0
const start = Date.now()
let due = 0
const samples: Array<{ t: number, disk: number, rss: number, heap: number }> = []
console.log(`# soak: ${RATE} events/s for ${DURATION / 60_000} min, retention { maxEvents: ${MAX_EVENTS} }, db ${path}`)
console.log('#    s    emitted     length      floor    kept   db MiB  RSS MiB heap MiB  lag p99 ms  in flight')

const sample = async (): Promise<void> => {
  const t = Date.now() - start
  const disk = await folderBytes(path)
  // with --expose-gc, the heap is what stays live after a full collection
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const { rss, heapUsed: heap } = process.memoryUsage()
  samples.push({ t, disk, rss, heap })
  const log = emitter.log
  console.log([
    (t / 1000).toFixed(0).padStart(6), String(emitted).padStart(10), String(log.length).padStart(10), String(log.floor).padStart(10),
    String(log.length - log.floor).padStart(7), (disk / MiB).toFixed(1).padStart(8), (rss / MiB).toFixed(1).padStart(8), (heap / MiB).toFixed(1).padStart(8),
    (lag.percentile(99) / 1e6).toFixed(1).padStart(11), String(inFlight).padStart(10)
  ].join(' '))
  lag.reset()
}

await new Promise<void>(resolve => {
  const timer = setInterval(() => {
    const elapsed = Date.now() - start
    if (elapsed >= DURATION) {
      clearInterval(timer)
      resolve()
      return
    }
    // catch up with the schedule, but never keep more than a second of emits in flight
    const target = Math.floor(elapsed * RATE / 1000)
    while (due < target && inFlight < RATE) {
      due++
      inFlight++
      emitter.emit('Hello', message).then(() => { emitted++ }, () => { failed++ }).finally(() => { inFlight-- })
    }
  }, TICK)
  const sampler = setInterval(() => { void sample() }, SAMPLE)
  void Promise.resolve().then(async () => {
    await new Promise(resolve => setTimeout(resolve, DURATION + 100))
    clearInterval(sampler)
  })
})
while (inFlight > 0) await new Promise(resolve => setTimeout(resolve, 10))
await sample()
const report = await emitter.verify()
const late = samples.filter(s => s.t >= 60_000)
const range = (f: (s: { disk: number, rss: number, heap: number }) => number): string => late.length === 0
  ? 'n/a'
  : `${(Math.min(...late.map(f)) / MiB).toFixed(1)}–${(Math.max(...late.map(f)) / MiB).toFixed(1)} MiB`
console.log(`# emitted ${emitted} (${failed} failed) in ${((Date.now() - start) / 1000).toFixed(0)} s; kept ${emitter.log.length - emitter.log.floor}; verify ${report.ok ? 'ok' : 'FAILED'} (${report.entries} entries)`)
console.log(`# after the first minute: db ${range(s => s.disk)}, RSS ${range(s => s.rss)}, heap ${range(s => s.heap)}${(globalThis as { gc?: unknown }).gc == null ? ' (run node with --expose-gc for the heap after a full collection)' : ' (after a full collection)'}`)
await emitter.close()
await dir.cleanup()
