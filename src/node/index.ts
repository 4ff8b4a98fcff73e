import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { widenReceiveWindow } from './yamux-window.js'
import { oneWritePerSend } from './one-write.js'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import { privateKeyFromRaw } from '@libp2p/crypto/keys'
import { preSharedKey, generateKey } from '@libp2p/pnet'
import { HyperEmitterError } from '../errors.js'
import { hyperSync, type SyncInit, type SyncService } from '../sync/index.js'
import { hyperOverlay, type OverlayInit, type OverlayService } from '../overlay/service.js'
import type { Identity } from '../log/identity.js'
import type { Identify } from '@libp2p/identify'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TransportManager } from '@libp2p/interface-internal'

export interface NodeInit {
  /** the log's key: the node's peer id is its author key */
  identity: Identity
  sync: SyncInit
  /**
   * The overlay's options; false for none (a node whose sessions its user
   * picks with `sync.wanted`; `services.overlay` is then absent, and nothing
   * closes connections that no view needs)
   */
  overlay?: OverlayInit | false
  /** discover peers on the LAN by mDNS. @default false */
  mdns?: boolean
  /** the mDNS service name is derived from it, so clusters stay apart. @default '' */
  topic?: string
  /** ms between libp2p's redials of a lost keep-alive peer. @default 1000 */
  reconnectTimeout?: number
  /** most open connections. @default 100 */
  maxConnections?: number
  /** inbound connections a second from one host. @default 50 */
  inboundConnectionThreshold?: number
  /** refuses connections to and from these peers */
  isBlocked?: (peer: string) => boolean
  /** a private network key (swarm key file bytes): only nodes holding it connect */
  psk?: Uint8Array
}

export type HyperNode = Libp2p<{ identify: Identify, sync: SyncService, overlay: OverlayService, listener: Listener }>

/** Listens on more addresses while the node runs. */
export interface Listener {
  listen: (addrs: Multiaddr[]) => Promise<void>
}

/**
 * libp2p 3 listens on its `addresses.listen` config when it starts, and has
 * no public call to listen on an address later (the emitter starts its node
 * at open when it has saved peers, before any `listen()`). Its transport
 * manager has one; a service is how libp2p hands its components to a module,
 * as it hands the registrar to the sync service. This one passes `listen` on.
 */
function listener (): (components: { transportManager: TransportManager }) => Listener {
  return (components) => ({
    listen: async (addrs) => { await components.transportManager.listen(addrs) }
  })
}

/**
 * How long libp2p's connection monitor waits for its ping before it aborts a
 * connection. Its default adapts down to 5 s, so a ping sent into a partition
 * of a few seconds, or to a process busy storing a burst, aborted connections
 * that were fine again a moment later, and their sessions with them (seconds
 * after a heal). At 30 s, processes of a cluster bench loaded past what the
 * machine can do still lost some. A connection that is really gone ends by
 * TCP reset when the peer comes back, or after this.
 */
const PING_TIMEOUT = 60_000
/** redials libp2p makes before it gives up on a keep-alive peer */
const RECONNECT_RETRIES = 5
/** stored peer addresses stay usable this long: a node may be down for days */
const MAX_ADDRESS_AGE = 7 * 24 * 3600 * 1000

/** mDNS service tag of a topic: a DNS label of at most 63 characters. */
export function serviceTag (topic: string): string {
  const label = topic.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 40)
  return `_hyperemitter${label === '' ? '' : `-${label}`}._udp.local`
}

/** A libp2p node with TCP, Noise, Yamux, identify, the sync service, and mDNS when asked. */
export async function createNode (init: NodeInit): Promise<HyperNode> {
  const isBlocked = init.isBlocked ?? (() => false)
  // sessions go to the peers of the overlay's active view (and to older
  // nodes), unless the caller decides
  const started: { overlay?: OverlayService } = {}
  const wanted = init.sync.wanted ?? ((peer: string): boolean => started.overlay?.wanted(peer) ?? false)
  const node = await createLibp2p({
    privateKey: privateKeyFromRaw(init.identity.rawPrivateKey),
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [oneWritePerSend(noise())],
    streamMuxers: [yamux()],
    connectionProtector: init.psk != null ? preSharedKey({ psk: init.psk }) : undefined,
    peerDiscovery: init.mdns === true ? [mdns({ serviceTag: serviceTag(init.topic ?? ''), interval: 2000 })] : [],
    peerStore: { maxAddressAge: MAX_ADDRESS_AGE, maxPeerAge: MAX_ADDRESS_AGE },
    connectionManager: {
      maxConnections: init.maxConnections ?? 100,
      inboundConnectionThreshold: init.inboundConnectionThreshold ?? 50,
      reconnectRetries: RECONNECT_RETRIES,
      reconnectRetryInterval: init.reconnectTimeout ?? 1000,
      // a steady pace: a partition that heals or a peer that restarts is
      // found within a second, and the network layer goes on after these
      reconnectBackoffFactor: 1
    },
    connectionMonitor: { pingTimeout: { minTimeout: PING_TIMEOUT, maxTimeout: PING_TIMEOUT } },
    connectionGater: {
      denyDialPeer: (peer) => isBlocked(peer.toString()),
      denyInboundEncryptedConnection: (peer) => isBlocked(peer.toString())
    },
    services: {
      identify: identify(),
      sync: hyperSync({ ...init.sync, wanted, widenWindow: widenReceiveWindow }),
      ...(init.overlay === false ? {} : { overlay: hyperOverlay(init.overlay) }),
      listener: listener()
    },
    start: false
  })
  started.overlay = node.services.overlay
  return node as HyperNode
}

const PSK_FORMAT = /^\/key\/swarm\/psk\/1\.0\.0\/\r?\n\/base16\/\r?\n[0-9a-fA-F]{64}\s*$/

/** A new private network key, in the swarm key file format libp2p-pnet reads. */
export function generatePsk (): Uint8Array {
  const key = new Uint8Array(95)
  generateKey(key)
  return key
}

/** Checks a private network key; throws HyperEmitterError ERR_INVALID_PSK. */
export function checkPsk (psk: Uint8Array | string): Uint8Array {
  const bytes = typeof psk === 'string' ? new TextEncoder().encode(psk) : psk
  if (!PSK_FORMAT.test(new TextDecoder().decode(bytes))) {
    throw new HyperEmitterError('the psk is not a swarm key (/key/swarm/psk/1.0.0/, /base16/, 64 hex digits)', 'ERR_INVALID_PSK')
  }
  return bytes
}
