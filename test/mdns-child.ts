// A child program for test/mdns.test.ts: one HyperEmitter with mDNS on,
// run by the test inside a network namespace it created
// (`ip netns exec <ns> node dist/test/mdns-child.js <host> <name> <topic>`).
//
// It listens on <host>, emits one Hello { from: <name> }, and reports on
// stdout as JSON lines:
//   {"type":"ready","peerId":...,"addrs":[...]}      once it listens and has emitted
//   {"type":"discovered","peer":...}                 an mDNS (peer:discovery) find
//   {"type":"peer","peer":...}                       peer:connect (a sync session runs)
//   {"type":"refused","peer":...,"code":...}         peer:refused
//   {"type":"event","from":...}                      every Hello, its own included
//   {"type":"error","message":...}                   a failure; it then exits 1
//   {"type":"closed"}                                after close, before exiting
// It closes the emitter and exits on SIGTERM, SIGINT, or when stdin ends (the
// test died), so that it never outlives the test.
import { MemoryLevel } from 'memory-level'
import { HyperEmitter } from '../src/index.js'
import { fixture } from './helpers.js'

const [host, name, topic] = process.argv.slice(2)

function report (line: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(line) + '\n')
}

if (host == null || name == null || topic == null) {
  report({ t: 'error', message: 'usage: mdns-child.js <host> <name> <topic>' })
  process.exit(2)
}

let emitter: HyperEmitter | undefined
let closing: Promise<void> | undefined

function shutdown (code: number): Promise<void> {
  closing ??= (async () => {
    // never hang on close: a bounded wait, then exit anyway
    const force = setTimeout(() => { process.exit(code === 0 ? 3 : code) }, 5000)
    try {
      await emitter?.close()
      report({ t: 'closed' })
    } catch (err) {
      report({ t: 'error', message: `close failed: ${(err as Error).message}` })
      code = code === 0 ? 1 : code
    }
    clearTimeout(force)
    process.exit(code)
  })()
  return closing
}

// shutdown() is not awaited: it never rejects (close errors are reported) and it exits
process.on('SIGTERM', () => { void shutdown(0) })
process.on('SIGINT', () => { void shutdown(0) })
process.stdin.on('end', () => { void shutdown(0) })
process.stdin.on('error', () => { void shutdown(0) })
process.stdin.resume()

try {
  const e = new HyperEmitter(new MemoryLevel(), await fixture('messages.proto'), { mdns: true, topic, reconnectTimeout: 200 })
  emitter = e
  e.status.on('peer:connect', ({ peer }: { peer: string }) => { report({ t: 'peer', peer }) })
  e.status.on('peer:refused', ({ peer, code }: { peer: string, code: string }) => { report({ t: 'refused', peer, code }) })
  e.on<{ from: string }>('Hello', msg => { report({ t: 'event', from: msg.from }) })
  await e.ready()
  e.node?.addEventListener('peer:discovery', (evt) => {
    report({ t: 'discovered', peer: evt.detail.id.toString(), addrs: evt.detail.multiaddrs.map(a => a.toString()) })
  })
  const addrs = await e.listen(0, host)
  await e.emit('Hello', { from: name })
  report({ t: 'ready', peerId: e.peerId, addrs: addrs.map(a => a.toString()) })
} catch (err) {
  report({ t: 'error', message: (err as Error).stack ?? String(err) })
  await shutdown(1)
}
