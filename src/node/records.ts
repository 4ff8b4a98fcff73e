import type { AbstractLevel } from 'abstract-level'
import type { AnyLevel } from '../log/log.js'

/** The network's records: its own sublevel of the db, beside the log's. */
const SUBLEVEL = 'network'
/** Key of the last EventPeer this node wrote (its JSON), in the state sublevel. */
const EVENT_PEER_KEY = 'event-peer'
/** Key of the version of the network's records: set once the older ones are moved in. */
const FORMAT_KEY = 'format'
const FORMAT = '1'
/** Where versions before FORMAT kept saved peers (a sublevel of the db)... */
const LEGACY_PEERS = 'peers'
/** ...and the last EventPeer (a key of the log's `meta` sublevel). */
const LEGACY_META = 'meta'

/** A peer saved for redialling after a restart. */
export interface SavedPeer {
  addrs: string[]
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Level = AbstractLevel<any, any, any>

/**
 * What the network keeps in the db across restarts: the peers to go back
 * to, and the last EventPeer this node wrote, so that it announces itself
 * again only when its addresses change.
 */
export class NetworkRecords {
  readonly #db: Level
  readonly #peers: Level
  /** the last EventPeer and the records' format */
  readonly #state: Level
  #migrating: Promise<void> | undefined

  constructor (db: AnyLevel) {
    this.#db = db as unknown as Level
    const own = this.#db.sublevel(SUBLEVEL, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
    this.#peers = own.sublevel('peers', { keyEncoding: 'utf8', valueEncoding: 'json' }) as unknown as Level
    this.#state = own.sublevel('state', { keyEncoding: 'utf8', valueEncoding: 'utf8' }) as unknown as Level
  }

  /**
   * Moves what older versions kept elsewhere into the network's sublevel,
   * in one batch, once: saved peers, and the last EventPeer, so that an
   * upgraded node does not announce itself again. Every read waits for it.
   */
  migrate (): Promise<void> {
    this.#migrating ??= (async () => {
      if (await this.#state.get(FORMAT_KEY) === FORMAT) return
      const legacyPeers = this.#db.sublevel(LEGACY_PEERS, { keyEncoding: 'utf8', valueEncoding: 'json' })
      const legacyMeta = this.#db.sublevel(LEGACY_META, { keyEncoding: 'utf8', valueEncoding: 'utf8' })
      const ops: Array<{ type: 'put' | 'del', sublevel: Level, key: string, value?: unknown }> = []
      for await (const [id, entry] of legacyPeers.iterator()) {
        ops.push({ type: 'put', sublevel: this.#peers, key: id, value: entry })
        ops.push({ type: 'del', sublevel: legacyPeers as unknown as Level, key: id })
      }
      const lastPeer = await legacyMeta.get(EVENT_PEER_KEY)
      if (lastPeer != null && await this.#state.get(EVENT_PEER_KEY) == null) {
        ops.push({ type: 'put', sublevel: this.#state, key: EVENT_PEER_KEY, value: lastPeer })
      }
      ops.push({ type: 'put', sublevel: this.#state, key: FORMAT_KEY, value: FORMAT })
      await this.#db.batch(ops as never)
    })()
    return this.#migrating
  }

  async hasPeers (): Promise<boolean> {
    await this.migrate()
    for await (const _ of this.#peers.keys({ limit: 1 })) return true
    return false
  }

  /** The saved peers, by peer id. */
  async * peers (): AsyncGenerator<[string, SavedPeer]> {
    await this.migrate()
    yield * this.#peers.iterator() as AsyncIterable<[string, SavedPeer]>
  }

  async savePeer (id: string, peer: SavedPeer): Promise<void> {
    await this.#peers.put(id, peer)
  }

  /** The JSON of the last EventPeer this node wrote. */
  async lastAnnouncement (): Promise<string | undefined> {
    await this.migrate()
    return await this.#state.get(EVENT_PEER_KEY) as string | undefined
  }

  async setLastAnnouncement (encoded: string): Promise<void> {
    await this.#state.put(EVENT_PEER_KEY, encoded)
  }
}
