// A small cluster in one process with its web view: NODES emitters (6 by
// default) keeping ACTIVE sync peers each (3), every one emitting now and
// then, and the view of the first one at http://127.0.0.1:PORT/ (8080).
//
//   npm run build && node dist/examples/web-view.js
import { readFileSync } from 'node:fs'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter } from 'hyperemitter'
import { serveUI } from 'hyperemitter/ui'

const schema = readFileSync(new URL('../../test/fixtures/messages.proto', import.meta.url), 'utf8')
const count = Number(process.env.NODES ?? 6)
const every = Number(process.env.EVERY_MS ?? 200)

const nodes: HyperEmitter[] = []
for (let i = 0; i < count; i++) nodes.push(new HyperEmitter(new MemoryLevel(), schema, { activePeers: Number(process.env.ACTIVE ?? 3) }))
const addresses = []
for (const node of nodes) addresses.push((await node.listen(0, '127.0.0.1'))[0])
// each joins through one earlier node: the overlay does the rest
for (let i = 1; i < count; i++) await nodes[i].connect(addresses[Math.floor(Math.random() * i)])

const ui = await serveUI(nodes[0], { port: Number(process.env.PORT ?? 8080), allowEmit: true })
console.log(`web view of the first node: ${ui.url}`)

const names = ['Matteo', 'Ada', 'Linus', 'Grace', 'Alan', 'Barbara']
let n = 0
const timer = setInterval(() => {
  const node = nodes[n % count]
  const done = n % 5 === 0
    ? node.emit('Integer', { value: n })
    : node.emit('Hello', { from: names[n % names.length], message: `hello number ${n}` })
  done.catch(() => {})
  n++
}, every)

const stop = async (): Promise<void> => {
  clearInterval(timer)
  await ui.close()
  await Promise.all(nodes.map(async node => { await node.close() }))
}
process.once('SIGINT', () => { void stop() })
process.once('SIGTERM', () => { void stop() })
