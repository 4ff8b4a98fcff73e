// A peer in its own process for the replication benchmarks: fills a log on
// disk, listens on 127.0.0.1, drains raw benchmark streams, and prints its
// address as one JSON line. It exits when its stdin closes.
//
//   node peer.js DIR COUNT [awaited]
//
// The log is written by emits started 10,000 at a time (a signature per
// group of up to 1,024), or with `awaited` one by one (each entry signed,
// as an application that awaits each emit writes it).
import { join } from 'node:path'
import { readFile } from 'node:fs/promises'
import { HyperEmitter } from '../src/index.js'
import type { Stream } from '@libp2p/interface'
import { RAW } from './util.js'


const [dir, count, mode] = process.argv.slice(2)
const schema = await readFile(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const message = { from: 'bench', message: 'a small event of about forty bytes' }
const e = await HyperEmitter.open(join(dir, 'a'), schema)
const n = Number(count)
if (mode === 'awaited') {
  for (let i = 0; i < n; i++) await e.emit('Hello', message)
} else {
  for (let i = 0; i < n; i += 10_000) {
    await Promise.all(Array.from({ length: Math.min(10_000, n - i) }, () => e.emit('Hello', message)))
  }
}
const [addr] = await e.listen(0, '127.0.0.1')
await e.node!.handle(RAW, async (stream: Stream) => {
  for await (const _ of stream) { /* drain */ }
  await stream.close()
})
const sample = await e.log.read(1, 1000)
const entryBytes = sample.reduce((s, x) => s + x.bytes.byteLength, 0) / Math.max(1, sample.length)
console.log(JSON.stringify({ addr: addr.toString(), length: e.log.length, entryBytes }))
process.stdin.resume()
process.stdin.on('end', () => {
  e.close().then(() => process.exit(0), (err: unknown) => {
    console.error('close failed:', err)
    process.exit(1)
  })
})
