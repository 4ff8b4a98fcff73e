// Fuzz (c): a live node fed mutated frames over real libp2p streams by
// hostile peers (test/hostile-peer.ts), across reconnects and blocks; after
// every fuzz frame a valid probe frame tells whether the session lives.
import fc from 'fast-check'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter } from '../../src/index.js'
import { entryId, toHex } from '../../src/log/entry.js'
import { SyncMessage } from '../../src/pb/sync.js'
import { WINDOW, refuseName } from '../../src/sync/constants.js'
import { HostilePeer, type RawStream, hello, entriesMessage } from '../hostile-peer.js'
import { planInput, planMessage, type Corpus, type Plan } from './corpus.js'
import type { Multiaddr } from '@multiformats/multiaddr'

/** What happened to a fuzz frame, as the next probe shows. */
export type Outcome = 'stored' | 'notice' | 'survived' | `ended:${string}` | 'slow' | 'hung'

export interface NetworkSummary {
  frames: number
  probes: number
  sessions: number
  /** hostile peer ids used: a new one after each block */
  peers: number
  blocked: number
  outcomes: Record<string, Record<string, number>>
  stored: number
  storedFromPool: number
  failures: string[]
  /** probes not answered: by the kinds of the frame before and of this one, and whether the answer came later */
  hung: Record<string, number>
  honest: boolean
  rssStartMB: number
  rssPeakMB: number
  ms: number
}

/** One hostile peer that sends plans, one frame at a time, each followed by a probe. */
class Driver {
  readonly #c: Corpus
  readonly #e: HyperEmitter
  readonly #addr: Multiaddr
  readonly #sum: NetworkSummary
  #p: HostilePeer | undefined
  #s: RawStream | undefined
  #sentEntries = 0
  #cursor = 0

  constructor (c: Corpus, e: HyperEmitter, addr: Multiaddr, sum: NetworkSummary) {
    this.#c = c
    this.#e = e
    this.#addr = addr
    this.#sum = sum
  }

  async #session (): Promise<RawStream> {
    const sync = this.#e.node!.services.sync
    for (let attempt = 0; ; attempt++) {
      if (this.#s != null && this.#s.ending == null) return this.#s
      this.#s?.abort()
      this.#s = undefined
      if (this.#p != null && (sync.isBlocked(this.#p.peerId) || attempt > 0)) {
        await this.#p.stop()
        this.#p = undefined
      }
      if (this.#p == null) {
        this.#p = await HostilePeer.create()
        this.#sum.peers++
      }
      try {
        const s = await this.#p.open(this.#addr, 3000)
        await s.send(hello(this.#e))
        if (await s.remoteHello(3000) == null) throw new Error('no Hello')
        this.#s = s
        this.#sentEntries = 0
        this.#sum.sessions++
        // resume the DAG where the node's log stops
        this.#cursor = 0
        while (this.#cursor < this.#c.pool.length && await this.#e.log.get(this.#c.poolIds[this.#cursor]) != null) this.#cursor++
        return s
      } catch {
        if (attempt > 5) throw new Error('cannot open a session with the node')
      }
    }
  }

  async #sendEntries (s: RawStream, frame: Uint8Array): Promise<boolean> {
    await s.waitFor(() => this.#sentEntries - s.acks < WINDOW || s.ending != null, 2000)
    this.#sentEntries++
    return s.sendFrame(frame)
  }

  #last = 'start'

  async run (plan: Plan): Promise<Outcome> {
    const outcome = await this.#run(plan)
    this.#last = plan.kind
    return outcome
  }

  async #run (plan: Plan): Promise<Outcome> {
    const s = await this.#session()
    const c = this.#c
    const length = this.#e.log.length
    const notices = s.frames.filter(f => f.refuse != null).length
    switch (plan.kind) {
      case 'valid': {
        const from = this.#cursor >= c.pool.length ? 0 : this.#cursor
        const entries = c.pool.slice(from, from + plan.n)
        this.#cursor = from + entries.length
        await this.#sendEntries(s, SyncMessage.encode(entriesMessage(entries)))
        break
      }
      case 'entries':
        for (const x of plan.entries) if (x.legit) c.legit.add(toHex(entryId(x.bytes)))
        await this.#sendEntries(s, SyncMessage.encode(entriesMessage(plan.entries.map(x => x.bytes))))
        break
      case 'message': await s.send(planMessage(plan)); break
      case 'hello': await s.send(hello(this.#e)); break
      case 'frame': case 'random': {
        // an Entries frame costs a window credit even when it is mangled
        if (plan.bytes[0] === 0x12) await this.#sendEntries(s, plan.bytes)
        else await s.sendFrame(plan.bytes)
        break
      }
      case 'wire': await s.sendRaw(plan.bytes); break
    }
    // the probe: a valid frame (the DAG's first entry, a duplicate once
    // stored); its Ack says the fuzz frame before it was read and survived
    const acks = s.acks
    await this.#sendEntries(s, SyncMessage.encode(entriesMessage([c.pool[0]])))
    this.#sum.probes++
    // raw wire bytes may leave the node inside a frame: wait less, and
    // start a new stream after them in any case
    const wire = plan.kind === 'wire'
    const answered = await s.waitFor(() => s.acks > acks || s.ending != null, wire ? 300 : 1000)
    if (s.ending != null) {
      // the last Refuse is the one that ended the session (earlier ones are notices)
      const last = s.frames.filter(f => f.refuse != null).at(-1)?.refuse
      const code = last != null && s.frames.filter(f => f.refuse != null).length > notices ? refuseName(last.code) : 'reset'
      if (this.#p != null && this.#e.node!.services.sync.isBlocked(this.#p.peerId)) this.#sum.blocked++
      return `ended:${code}`
    }
    if (!answered) {
      // a busy node answers late; a node that waits for the rest of a frame
      // that never comes (legitimate) does not: start over
      const late = await s.waitFor(() => s.acks > acks || s.ending != null, wire ? 200 : 1000)
      const key = `${this.#last}>${plan.kind}:${late ? 'late' : 'never'}`
      this.#sum.hung[key] = (this.#sum.hung[key] ?? 0) + 1
      s.abort()
      return late ? 'slow' : 'hung'
    }
    if (wire) s.abort()
    if (this.#e.log.length > length) return 'stored'
    if (s.frames.filter(f => f.refuse != null).length > notices) return 'notice'
    return 'survived'
  }

  async stop (): Promise<void> {
    this.#s?.abort()
    await this.#p?.stop()
  }
}

/**
 * Runs `frames` fuzz frames against a live node from `peers` hostile peers at
 * once; checks the node's log and that an honest peer is still served.
 */
export async function fuzzNetwork (c: Corpus, opts: { frames: number, seed: number, peers?: number, onProgress?: (done: number) => void }): Promise<NetworkSummary> {
  const started = Date.now()
  const rssStart = process.memoryUsage.rss()
  let rssPeak = rssStart
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage.rss()) }, 50)
  const sum: NetworkSummary = { frames: 0, probes: 0, sessions: 0, peers: 0, blocked: 0, outcomes: {}, stored: 0, storedFromPool: 0, failures: [], hung: {}, honest: false, rssStartMB: 0, rssPeakMB: 0, ms: 0 }
  // a fuzzer reconnects far faster than libp2p's default 5 connections a second per host
  const e = new HyperEmitter(new MemoryLevel(), c.schemaText, { inboundConnectionThreshold: 10_000, maxConnections: 1000 })
  const [addr] = await e.listen(0)
  const base = e.log.length
  // plans are drawn in chunks, each with its own seed, so that memory stays flat
  const arb = planInput(c)
  let chunk: Plan[] = []
  let chunks = 0
  let drawn = 0
  const nextPlan = (): Plan | undefined => {
    if (drawn >= opts.frames) return undefined
    if (chunk.length === 0) chunk = fc.sample(arb, { numRuns: 500, seed: opts.seed + chunks++ }).reverse()
    drawn++
    return chunk.pop()
  }
  const drivers = Array.from({ length: opts.peers ?? 1 }, () => new Driver(c, e, addr, sum))
  try {
    await Promise.all(drivers.map(async d => {
      for (let plan = nextPlan(); plan != null; plan = nextPlan()) {
        let outcome: Outcome
        try {
          outcome = await d.run(plan)
        } catch (err) {
          sum.failures.push(`driver: ${(err as Error).name}: ${(err as Error).message}`)
          return
        }
        sum.frames++
        const byKind = (sum.outcomes[plan.kind] ??= {})
        byKind[outcome] = (byKind[outcome] ?? 0) + 1
        if (sum.frames % 1000 === 0) opts.onProgress?.(sum.frames)
      }
    }))
    await Promise.all(drivers.map(async d => { await d.stop() }))
    // the node's log: consistent, and nothing in it that we did not build
    const report = await e.verify()
    if (!report.ok) sum.failures.push(`verify: ${JSON.stringify(report.problems.slice(0, 3))}`)
    const poolHex = new Set(c.poolIds.map(toHex))
    const own = toHex(e.log.identity.publicKey)
    for (const x of await e.log.read(base + 1, 10_000_000)) {
      const hex = toHex(x.id)
      sum.stored++
      if (poolHex.has(hex)) sum.storedFromPool++
      if (!c.legit.has(hex) && toHex(x.entry.author) !== own) sum.failures.push(`stored an entry nobody built: ${hex}`)
    }
    // and the node still serves an honest peer
    const honest = new HyperEmitter(new MemoryLevel(), c.schemaText, { reconnectTimeout: 100 })
    try {
      await honest.connect(addr)
      const got = new Promise<boolean>(resolve => {
        const timer = setTimeout(() => { resolve(false) }, 10_000)
        e.on('Integer', (m: { value: number }) => { if (m.value === 99) { clearTimeout(timer); resolve(true) } })
      })
      await honest.emit('Integer', { value: 99 })
      sum.honest = await got
    } finally {
      await honest.close()
    }
  } finally {
    clearInterval(sampler)
    await e.close()
  }
  sum.rssStartMB = Math.round(rssStart / 1048576)
  sum.rssPeakMB = Math.round(Math.max(rssPeak, process.memoryUsage.rss()) / 1048576)
  sum.ms = Date.now() - started
  return sum
}
