import { createServer, type Server } from 'node:http'
import type { HyperEmitter, LogEntry, StatusEvents } from '../index.js'

/** The numbers /metrics reports. */
export interface MetricsSnapshot {
  emitted: number
  received: number
  refused: number
  peers: number
  entries: number
  syncLag: number
  /** the node's libp2p connections and streams, and what its overlay and sync sessions did; absent while it is offline */
  node?: NodeFigures
}

/** What libp2p, the overlay and the sync service say, for /metrics. */
export interface NodeFigures {
  connections: { inbound: number, outbound: number }
  /** open streams by protocol and direction */
  streams: Array<{ protocol: string, direction: string, count: number }>
  /** dials waiting or under way */
  dialQueue: number
  overlay: { active: number, passive: number }
  /** the sync service's counters since the node started (SyncCounters) */
  sync: Record<string, number>
}

const METRICS: Array<{ key: Exclude<keyof MetricsSnapshot, 'node'>, name: string, type: 'counter' | 'gauge', help: string }> = [
  { key: 'emitted', name: 'hyperemitter_events_emitted_total', type: 'counter', help: 'Events this process wrote (its own entries stored since it started, EventPeer included).' },
  { key: 'received', name: 'hyperemitter_events_received_total', type: 'counter', help: 'Events by other authors that peers sent and this process stored since it started.' },
  { key: 'refused', name: 'hyperemitter_entries_refused_total', type: 'counter', help: 'Entries from peers that failed validation and were not stored.' },
  { key: 'peers', name: 'hyperemitter_peers', type: 'gauge', help: 'Connected peers with a running sync session.' },
  { key: 'entries', name: 'hyperemitter_log_entries', type: 'gauge', help: 'Entries in the local log.' },
  { key: 'syncLag', name: 'hyperemitter_sync_lag', type: 'gauge', help: 'Connected peers that have not yet sent everything this node lacked; 0 when caught up with all.' }
]

/** The Prometheus text exposition of a snapshot. */
export function formatMetrics (s: MetricsSnapshot): string {
  const text = METRICS.map(m => `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n${m.name} ${s[m.key]}\n`).join('')
  return s.node == null ? text : text + formatNode(s.node)
}

// after the six above, which stay as they were
function formatNode (n: NodeFigures): string {
  const out: string[] = []
  const metric = (name: string, type: string, help: string, samples: Array<[Record<string, string>, number]>): void => {
    out.push(`# HELP ${name} ${help}\n# TYPE ${name} ${type}\n`)
    for (const [labels, value] of samples) out.push(`${name}${formatLabels(labels)} ${value}\n`)
  }
  metric('libp2p_connection_manager_connections', 'gauge', 'Open libp2p connections, by direction.',
    [[{ direction: 'inbound' }, n.connections.inbound], [{ direction: 'outbound' }, n.connections.outbound]])
  metric('libp2p_protocol_streams', 'gauge', 'Open libp2p streams, by protocol and direction.',
    n.streams.map(s => [{ protocol: s.protocol, direction: s.direction }, s.count]))
  metric('libp2p_dial_queue_length', 'gauge', 'Dials waiting or under way.', [[{}, n.dialQueue]])
  metric('hyperemitter_overlay_peers', 'gauge', 'Peers in the overlay\'s views: active (sync sessions) and passive (in reserve).',
    [[{ view: 'active' }, n.overlay.active], [{ view: 'passive' }, n.overlay.passive]])
  for (const [key, value] of Object.entries(n.sync)) {
    const name = `hyperemitter_sync_${key.replace(/[A-Z]/g, c => '_' + c.toLowerCase())}_total`
    metric(name, 'counter', `The sync sessions' ${key} since the node started (protocols/README.md §5.8).`, [[{}, value]])
  }
  return out.join('')
}

function formatLabels (labels: Record<string, string>): string {
  const items = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
  return items.length === 0 ? '' : `{${items.join(',')}}`
}

/** What the node's libp2p, overlay and sync service say now; undefined while it is offline. */
export function nodeFigures (emitter: HyperEmitter): NodeFigures | undefined {
  const node = emitter.node
  if (node == null || node.status !== 'started' || emitter.state !== 'open') return undefined
  const connections = { inbound: 0, outbound: 0 }
  const streams = new Map<string, { protocol: string, direction: string, count: number }>()
  for (const c of node.getConnections()) {
    connections[c.direction === 'inbound' ? 'inbound' : 'outbound']++
    for (const s of c.streams) {
      const protocol = s.protocol ?? 'unnegotiated'
      const key = `${protocol} ${s.direction}`
      const item = streams.get(key) ?? { protocol, direction: s.direction, count: 0 }
      item.count++
      streams.set(key, item)
    }
  }
  const overlay = node.services.overlay as typeof node.services.overlay | undefined
  return {
    connections,
    streams: [...streams.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || a.direction.localeCompare(b.direction)),
    dialQueue: node.getDialQueue().length,
    overlay: { active: overlay?.active.length ?? 0, passive: overlay?.passive.length ?? 0 },
    sync: { ...node.services.sync.counters }
  }
}

/**
 * Counts what an emitter does from now on. Emitted and received come from the
 * log's commits (by author) rather than from the peers' session counters,
 * which restart with every session and would make the totals go down.
 */
export class Metrics {
  readonly #emitter: HyperEmitter
  readonly #own: Buffer
  readonly #unsubscribe: () => void
  readonly #onInvalid = (e: StatusEvents['peer:invalid']): void => { this.#refused += e.count }
  #emitted = 0
  #received = 0
  #refused = 0

  constructor (emitter: HyperEmitter) {
    this.#emitter = emitter
    this.#own = Buffer.from(emitter.log.identity.publicKey)
    this.#unsubscribe = emitter.log.onCommit(entries => { this.#count(entries) })
    emitter.status.on('peer:invalid', this.#onInvalid)
  }

  snapshot (): MetricsSnapshot {
    const peers = this.#emitter.peers()
    return {
      emitted: this.#emitted,
      received: this.#received,
      refused: this.#refused,
      peers: peers.length,
      entries: this.#emitter.log.closed ? 0 : this.#emitter.log.length,
      syncLag: peers.filter(p => !p.synced).length,
      node: nodeFigures(this.#emitter)
    }
  }

  close (): void {
    this.#unsubscribe()
    this.#emitter.status.off('peer:invalid', this.#onInvalid)
  }

  #count (entries: LogEntry[]): void {
    for (const e of entries) {
      if (this.#own.equals(e.entry.author)) this.#emitted++
      else this.#received++
    }
  }
}

/** Serves `GET /metrics` on 127.0.0.1:port; rejects if the port is taken. */
export async function serveMetrics (port: number, snapshot: () => MetricsSnapshot): Promise<{ close: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' })
      res.end(formatMetrics(snapshot()))
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' })
      res.end('not found: try /metrics\n')
    }
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
