// What the overlay's state machine (hyparview.ts) is told and tells its
// driver: the messages between peers, the actions, and the bounds put on the
// fields of a message from the wire, where a peer may send anything.

export type OverlayMessage =
  | { type: 'join' }
  | { type: 'forward-join', peer: string, ttl: number }
  | { type: 'neighbor', high: boolean }
  | { type: 'neighbor-reply', accept: boolean }
  | { type: 'disconnect' }
  | { type: 'shuffle', origin: string, ttl: number, peers: string[] }
  | { type: 'shuffle-reply', peers: string[] }

export type OverlayAction =
  | { type: 'send', to: string, message: OverlayMessage }
  /** `peer` entered the active view: the driver keeps a connection and a sync session with it */
  | { type: 'up', peer: string }
  /** `peer` left the active view: the driver ends the session and drops the connection once pending sends are out */
  | { type: 'down', peer: string }

/** A ttl from the wire as a whole number in [0, most]: a peer cannot send a walk around forever. */
export function ttl (ttl: unknown, most: number): number {
  return typeof ttl === 'number' && ttl > 0 ? Math.min(Math.floor(ttl), most) : 0
}

/** Peer ids from the wire: strings only, at most `most`. */
export function peerList (peers: unknown, most: number): string[] {
  if (!Array.isArray(peers)) return []
  const list: string[] = []
  for (const p of peers) {
    if (list.length >= most) break
    if (typeof p === 'string') list.push(p)
  }
  return list
}
