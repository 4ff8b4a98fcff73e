import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'

/** A TCP address as EventPeer carries it. */
export interface PeerAddress {
  ip: string
  port: number
}

/** `ip`/`port` pairs of the TCP multiaddrs. */
export function tcpAddresses (addrs: Multiaddr[]): PeerAddress[] {
  const out: PeerAddress[] = []
  for (const ma of addrs) {
    const parts = ma.getComponents()
    const ip = parts.find(p => p.name === 'ip4' || p.name === 'ip6' || p.name === 'dns4' || p.name === 'dns6' || p.name === 'dns')
    const port = parts.find(p => p.name === 'tcp')
    if (ip?.value != null && port?.value != null) out.push({ ip: ip.value, port: Number(port.value) })
  }
  return out
}

/** The multiaddr of an EventPeer address. */
export function toMultiaddr (a: PeerAddress, peer?: string): Multiaddr {
  const proto = /^\d+\.\d+\.\d+\.\d+$/.test(a.ip) ? 'ip4' : a.ip.includes(':') ? 'ip6' : 'dns'
  return multiaddr(`/${proto}/${a.ip}/tcp/${a.port}${peer != null ? `/p2p/${peer}` : ''}`)
}
