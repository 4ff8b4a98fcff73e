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
}

const METRICS: Array<{ key: keyof MetricsSnapshot, name: string, type: 'counter' | 'gauge', help: string }> = [
  { key: 'emitted', name: 'hyperemitter_events_emitted_total', type: 'counter', help: 'Events this process wrote (its own entries stored since it started, EventPeer included).' },
  { key: 'received', name: 'hyperemitter_events_received_total', type: 'counter', help: 'Events by other authors that peers sent and this process stored since it started.' },
  { key: 'refused', name: 'hyperemitter_entries_refused_total', type: 'counter', help: 'Entries from peers that failed validation and were not stored.' },
  { key: 'peers', name: 'hyperemitter_peers', type: 'gauge', help: 'Connected peers with a running sync session.' },
  { key: 'entries', name: 'hyperemitter_log_entries', type: 'gauge', help: 'Entries in the local log.' },
  { key: 'syncLag', name: 'hyperemitter_sync_lag', type: 'gauge', help: 'Connected peers that have not yet sent everything this node lacked; 0 when caught up with all.' }
]

/** The Prometheus text exposition of a snapshot. */
export function formatMetrics (s: MetricsSnapshot): string {
  return METRICS.map(m => `# HELP ${m.name} ${m.help}\n# TYPE ${m.name} ${m.type}\n${m.name} ${s[m.key]}\n`).join('')
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
      syncLag: peers.filter(p => !p.synced).length
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
