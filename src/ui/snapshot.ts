// The page's views of the node, as plain JSON-ready data: the peers (with
// the overlay's views and libp2p's connections), the node itself, the log's
// summary, the recent DAG, and one entry. Built from the emitter's public
// parts and read-only accessors; nothing here writes.
import { readEntry, toHex } from '../log/entry.js'
import { toJson, type PeerIds } from './json.js'
import type { HyperEmitter } from '../emitter.js'
import type { PeerReports } from './reports.js'

/** Peers listed at most: the ones with sessions first, then the active view, connections, the passive view, the peer store. */
export const MAX_PEERS_SHOWN = 200
/** Authors listed per peer in its lag, the largest first. */
const MAX_LAG_AUTHORS = 8
/** Authors listed in the log summary, the longest chains first. */
const MAX_AUTHORS_SHOWN = 200
/** Heads listed in the log summary. */
const MAX_HEADS_SHOWN = 32
/** Most entries of the DAG picture. */
export const MAX_DAG = 500

/** How far one side is behind the other, per author. */
export interface Lag {
  /** entries in all */
  total: number
  /** the authors with the most, each with how many */
  authors: Array<{ author: string, peerId: string, n: number }>
}

/** Where a peer stands to this node: in the overlay's active view (with a session), connected only, in the passive view, or only known. */
export type PeerPlace = 'active' | 'connected' | 'passive' | 'known'

export interface PeerView {
  id: string
  place: PeerPlace
  /** the connection's remote address, or a known one */
  address: string
  direction?: string
  /** ms, libp2p's last ping round trip */
  rtt?: number
  streams: number
  session: boolean
  /** the peer has sent everything this node lacked when the session started */
  synced: boolean
  /** both sides agreed on lazy push (Plumtree) */
  lazy: boolean
  /** entries sent to and received from it since the emitter opened */
  sent: number
  received: number
  /** entries this node holds that the peer lacks, as far as the session knows */
  peerLacks?: Lag
  /** entries the peer holds (said in its Hello or announced since) that this node lacks */
  lacks?: Lag
  /** authors the peer gets from another peer (it pruned them here): its lag in them is not known here */
  elsewhere: number
  refused: number
  invalid: number
  last?: { at: number, what: string }
  blocked: boolean
  legacy: boolean
}

export interface PeersView {
  peers: PeerView[]
  /** peers known in all, before the cut to MAX_PEERS_SHOWN */
  total: number
  active: number
  passive: number
  connections: number
}

const PLACE_ORDER: Record<PeerPlace, number> = { active: 0, connected: 1, passive: 2, known: 3 }

/**
 * Every peer this node knows of: its sync sessions and active view, its
 * other connections, its passive view, and the peer store (peers learned
 * from EventPeer announcements, mDNS and identify). `known` is the peer
 * store's ids, read less often than this runs.
 */
export function peersView (emitter: HyperEmitter, reports: PeerReports, ids: PeerIds, known: ReadonlyMap<string, string>): PeersView {
  const node = emitter.node
  if (node == null || emitter.state !== 'open' || node.status !== 'started') return { peers: [], total: 0, active: 0, passive: 0, connections: 0 }
  const infos = new Map(emitter.peers().map(p => [p.id, p]))
  const overlay = node.services.overlay as typeof node.services.overlay | undefined
  const active = new Set(overlay?.active ?? [])
  const passive = new Set(overlay?.passive ?? [])
  const connections = node.getConnections()
  const byPeer = new Map<string, typeof connections>()
  for (const c of connections) {
    const id = c.remotePeer.toString()
    const list = byPeer.get(id) ?? []
    list.push(c)
    byPeer.set(id, list)
  }
  const self = node.peerId.toString()
  const place = (id: string): PeerPlace => infos.has(id) || active.has(id) ? 'active' : byPeer.has(id) ? 'connected' : passive.has(id) ? 'passive' : 'known'
  const all = new Set([...infos.keys(), ...active, ...byPeer.keys(), ...passive, ...known.keys()])
  all.delete(self)
  const order = [...all].sort((a, b) => PLACE_ORDER[place(a)] - PLACE_ORDER[place(b)] || a.localeCompare(b))
  const vector = emitter.log.vector()
  const sync = node.services.sync
  const peers = order.slice(0, MAX_PEERS_SHOWN).map((id): PeerView => {
    const info = infos.get(id)
    const conns = byPeer.get(id) ?? []
    const conn = conns.find(c => c.status === 'open') ?? conns[0]
    const report = reports.get(id)
    const session = sync.session(id)
    let peerLacks: Lag | undefined
    let lacks: Lag | undefined
    let elsewhere = 0
    if (session != null && !session.closed) {
      const remote = session.remoteVector()
      const ahead: Array<[string, number]> = []
      const behind: Array<[string, number]> = []
      for (const [author, mine] of vector) {
        if (remote.pruned(author)) { elsewhere++; continue }
        const theirs = remote.have.get(author) ?? 0
        if (mine > theirs) ahead.push([author, mine - theirs])
      }
      for (const [author, theirs] of remote.have) {
        const mine = vector.get(author) ?? 0
        if (theirs > mine) behind.push([author, theirs - mine])
      }
      peerLacks = lag(ahead, ids)
      lacks = lag(behind, ids)
    }
    return {
      id,
      place: place(id),
      address: conn?.remoteAddr.toString() ?? info?.address ?? known.get(id) ?? '',
      direction: conn?.direction,
      rtt: conn?.rtt,
      streams: conns.reduce((n, c) => n + c.streams.length, 0),
      session: info != null,
      synced: info?.synced ?? false,
      lazy: session?.lazy ?? false,
      sent: info?.sent ?? 0,
      received: info?.received ?? 0,
      peerLacks,
      lacks,
      elsewhere,
      refused: report?.refused ?? 0,
      invalid: report?.invalid ?? 0,
      last: report?.last,
      blocked: sync.isBlocked(id),
      legacy: overlay?.isLegacy(id) ?? false
    }
  })
  return { peers, total: order.length, active: active.size, passive: passive.size, connections: connections.length }
}

function lag (items: Array<[string, number]>, ids: PeerIds): Lag {
  let total = 0
  for (const [, n] of items) total += n
  items.sort((a, b) => b[1] - a[1])
  return { total, authors: items.slice(0, MAX_LAG_AUTHORS).map(([author, n]) => ({ author, peerId: ids.of(author), n })) }
}

export interface NodeView {
  /** hex author key */
  id: string
  peerId: string
  state: string
  online: boolean
  addresses: string[]
  connections: { inbound: number, outbound: number }
  /** open streams by protocol */
  streams: Record<string, number>
  dialQueue: number
  activeSize: number
  passiveSize: number
  topic: string
}

/** This node: its ids, addresses, and libp2p's connections and streams. */
export function nodeView (emitter: HyperEmitter): NodeView {
  const node = emitter.node
  const online = node != null && node.status === 'started' && emitter.state === 'open'
  const connections = { inbound: 0, outbound: 0 }
  const streams: Record<string, number> = {}
  if (online) {
    for (const c of node.getConnections()) {
      connections[c.direction === 'inbound' ? 'inbound' : 'outbound']++
      for (const s of c.streams) {
        const protocol = s.protocol ?? 'unnegotiated'
        streams[protocol] = (streams[protocol] ?? 0) + 1
      }
    }
  }
  return {
    id: emitter.id,
    peerId: emitter.peerId,
    state: emitter.state,
    online,
    addresses: online ? node.getMultiaddrs().map(a => a.toString()) : [],
    connections,
    streams,
    dialQueue: online ? node.getDialQueue().length : 0,
    activeSize: emitter.options.activePeers ?? 6,
    passiveSize: emitter.options.passivePeers ?? 30,
    topic: emitter.options.topic ?? ''
  }
}

export interface LogView {
  length: number
  clock: number
  heads: string[]
  headCount: number
  authors: Array<{ author: string, peerId: string, seq: number, head: string, clock: number, self: boolean }>
  authorCount: number
  /** bytes in the db's folder; null for a db without one */
  disk: number | null
}

/** The log's length, heads and authors. */
export function logView (emitter: HyperEmitter, ids: PeerIds, disk: number | null): LogView {
  const l = emitter.log
  if (l.closed) return { length: 0, clock: 0, heads: [], headCount: 0, authors: [], authorCount: 0, disk }
  const own = emitter.id
  const vector = [...l.vector()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
  let clock = 0
  const authors = vector.map(([author, seq], i) => {
    const head = l.authorHead(author)
    if (head.clock > clock) clock = head.clock
    return i < MAX_AUTHORS_SHOWN ? { author, peerId: ids.of(author), seq, head: toHex(head.id), clock: head.clock, self: author === own } : undefined
  }).filter(a => a != null)
  const heads = l.heads()
  return {
    length: l.length,
    clock,
    heads: heads.slice(0, MAX_HEADS_SHOWN).map(toHex),
    headCount: heads.length,
    authors,
    authorCount: vector.length,
    disk
  }
}

/** One entry of the DAG picture. */
export interface DagEntry {
  seq: number
  id: string
  author: string
  authorSeq: number
  clock: number
  prev: string
  links: string[]
  name: string
  signed: boolean
}

/** The last `limit` entries of the change feed, for the DAG picture. */
export async function dagView (emitter: HyperEmitter, limit: number): Promise<{ length: number, entries: DagEntry[] }> {
  const l = emitter.log
  const n = Math.max(1, Math.min(MAX_DAG, Math.floor(limit)))
  const length = l.length
  const from = Math.max(1, length - n + 1)
  const read = length === 0 ? [] : await l.read(from, n)
  return {
    length,
    entries: read.map(e => ({
      seq: e.seq,
      id: toHex(e.id),
      author: toHex(e.entry.author),
      authorSeq: e.entry.seq,
      clock: e.entry.clock,
      prev: toHex(e.entry.prev),
      links: e.entry.links.map(toHex),
      name: e.entry.name,
      signed: e.entry.signature.byteLength > 0
    }))
  }
}

/** An entry as the page's detail panel shows it. */
export interface EntryView {
  id: string
  author: string
  peerId: string
  authorSeq: number
  clock: number
  timestamp: number
  name: string
  prev: string
  links: string[]
  /** 'signed': it carries its author's signature; 'covered': a later signed entry of its author reaches it through `prev` links */
  signature: 'signed' | 'covered'
  size: number
  /** the payload as JSON text, or why it could not be decoded */
  payload: string
  payloadError?: string
}

/** The stored entry with hex id `id`, or undefined. */
export async function entryView (emitter: HyperEmitter, id: string, ids: PeerIds): Promise<EntryView | undefined> {
  if (!/^[0-9a-f]{2,200}$/.test(id) || id.length % 2 !== 0) return undefined
  const bytes = await emitter.log.get(Buffer.from(id, 'hex'))
  if (bytes == null) return undefined
  const entry = readEntry(bytes)
  const author = toHex(entry.author)
  let payload: string
  let payloadError: string | undefined
  try {
    payload = toJson(emitter.schema.decode(entry.name, entry.payload))
  } catch (err) {
    // an event of a schema version this node does not know: stored and relayed all the same
    payloadError = (err as Error).message
    payload = JSON.stringify(Buffer.from(entry.payload).toString('base64'))
  }
  return {
    id,
    author,
    peerId: ids.of(author),
    authorSeq: entry.seq,
    clock: entry.clock,
    timestamp: entry.timestamp,
    name: entry.name,
    prev: toHex(entry.prev),
    links: entry.links.map(toHex),
    signature: entry.signature.byteLength > 0 ? 'signed' : 'covered',
    size: bytes.byteLength,
    payload,
    payloadError
  }
}
