// HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007) as a state
// machine: messages, failures and the time come in as method calls; messages
// to send and changes of the active view go out as actions (`poll`). No
// socket, timer, promise or clock inside, and randomness comes from the
// injected `random`, so the libp2p driver and a simulator of thousands of
// nodes run the same code, each with its own clock. Every call costs at most
// a few passes over the views, which are small.
//
// Each node keeps an ACTIVE view (at most activeSize peers: the ones it keeps
// a connection and a sync session with; links are symmetric) and a PASSIVE
// view (at most passiveSize peers it knows of, to fill the active view from).
// Neither view ever holds `self`; the passive view never holds an active peer.
//
// Join. A node sends `join` to its contact. The contact adds the joiner to its
// active view (if full, it first drops a random active peer: `disconnect` to
// it, `down`, into the passive view), emits `up`, answers `neighbor-reply
// {accept: true}`, and sends `forward-join {peer: joiner, ttl: arwl}` to every
// other active peer. The joiner adds the contact when that answer comes. A
// join from a peer that is already active is answered, not forwarded.
//
// forward-join. If ttl is 0 or the receiver has at most one active peer, it
// adds `peer` to its active view (dropping a random one if full; nothing at
// all if `peer` is itself or already active) and sends it `neighbor {high:
// true}`. Otherwise it adds `peer` to its passive view when ttl === prwl, and
// passes `forward-join {peer, ttl: ttl - 1}` to a random active peer other
// than the sender and `peer`; with none, it adds `peer` as for ttl 0.
//
// neighbor. A high priority one is always accepted (dropping a random active
// peer if full), a low priority one only while the active view is not full.
// Accepted: the sender becomes active (`up`, unless it already was) and gets
// `neighbor-reply {accept: true}`. Refused: `{accept: false}`, and the sender
// is kept in the passive view.
//
// neighbor-reply. A peer answers a node's Joins and Neighbors (those that
// end a forward-join walk included) in the order they were sent, so answers
// are matched to them in that order, timed out ones included; an answer to
// an earlier request than the latest is passed over. A request is pending
// until its answer, its timeout, or the peer becoming active by other means
// (if this node drops the peer later, the peer may still accept the request
// before the disconnect comes, and then drops this node again). An accept
// that answers a pending Join or Neighbor makes the sender active, unless
// the view is full by now: then it gets `disconnect` and stays passive. A
// refusal leaves the peer passive; it is not asked again for retryBackoff,
// another one is tried at the next fill. An answer that was not asked for,
// or to a request that is no longer pending, never changes the views; if it
// is an accept from a peer that is not active, that peer may count this node
// as active while this node does not, so it is sent `disconnect`.
//
// disconnect. The sender leaves the active view (`down`) for the passive one;
// it is not asked again for retryBackoff, and the view is filled at once.
//
// Fill. Every fillInterval and right after an active peer left, each place
// of the active view that no active peer or pending request takes gets a
// `neighbor` to a random passive peer out of its backoff, at once; one is
// high priority when there is no active peer and no request pending. An
// answer not there within replyTimeout counts as a failure of that peer.
// While the view is not empty, refusals in a row double the time to the next
// fill (up to 30 s); a change of the active view resets it. Small clusters
// therefore end up fully connected when activeSize allows.
//
// Shuffle. Every shuffleInterval, if it has an active peer, a node sends a
// random active peer `shuffle {origin: self, ttl: prwl, peers: [self, up to
// shuffleActive other active peers, up to shufflePassive passive peers]}`. A
// receiver with ttl > 0 and more than one active peer passes it on (ttl - 1)
// to a random active peer other than the sender and the origin; otherwise it
// answers the origin directly (the driver dials it if needed) with
// `shuffle-reply {peers: as many random passive peers as it received}` and
// integrates the received peers into its passive view. The origin integrates
// the one reply to its last shuffle; other replies are ignored. Integration
// skips self, active peers and duplicates; when the passive view is full it
// evicts first the peers this node sent in that exchange (its shuffle, or its
// reply), then random ones.
//
// Failures. `failed(peer)`: an active peer leaves the view (`down`) for the
// passive one and the view is filled at once; a pending request to it is
// over, and answers still due from the peer are taken as lost with the link.
// A passive peer that failed is not tried for retryBackoff ×
// 2^(failures in a row - 1), at most 30 s; becoming active resets the count.
//
// Every `up` of a peer is followed by exactly one `down` before its next `up`.
// The driver must deliver the messages from one peer in the order sent (a
// stream does): the views stay symmetric because each side's messages
// reflect its view at the time.

/** Longest time a failing peer is left alone. */
const MAX_BACKOFF = 30_000
/**
 * ...but a peer whose active link broke in the last RECENT_MS is tried at
 * least this often: it was there a moment ago, and a partition that heals
 * or a peer that restarts should find its links back within seconds.
 */
const RECENT_MAX_BACKOFF = 2_000
const RECENT_MS = 10 * 60_000

export interface HyParViewInit {
  self: string
  /** most peers in the active view @default 6 */
  activeSize?: number
  /** most peers in the passive view @default 30 */
  passiveSize?: number
  /** active random walk length (ForwardJoin ttl) @default 6 */
  arwl?: number
  /** passive random walk length @default 3 */
  prwl?: number
  /** active peers sent in a shuffle @default 3 */
  shuffleActive?: number
  /** passive peers sent in a shuffle @default 4 */
  shufflePassive?: number
  /** ms between shuffles @default 10_000 */
  shuffleInterval?: number
  /** ms to wait for the answer to a Join or Neighbor before the peer counts as failed @default 5_000 */
  replyTimeout?: number
  /** ms between attempts to fill a non-full active view from the passive view @default 1_000 */
  fillInterval?: number
  /** ms a peer that failed is not tried again (doubling per failure in a row, up to 30 s) @default 1_000 */
  retryBackoff?: number
  /** uniform in [0, 1) @default Math.random */
  random?: () => number
}

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

/** A view: an array for random picks and a Set for lookups, kept in step. */
class View {
  readonly set = new Set<string>()
  readonly items: string[] = []

  constructor (readonly capacity: number) {}

  get size (): number { return this.items.length }
  get full (): boolean { return this.items.length >= this.capacity }
  has (peer: string): boolean { return this.set.has(peer) }

  add (peer: string): void {
    this.set.add(peer)
    this.items.push(peer)
  }

  delete (peer: string): boolean {
    if (!this.set.delete(peer)) return false
    const i = this.items.indexOf(peer)
    const last = this.items.pop() as string
    if (i < this.items.length) this.items[i] = last
    return true
  }
}

interface Backoff {
  /** failures in a row */
  failures: number
  /** not asked before this time */
  until: number
}

export class HyParView {
  readonly self: string
  private readonly activeView: View
  private readonly passiveView: View
  private readonly arwl: number
  private readonly prwl: number
  private readonly shuffleActive: number
  private readonly shufflePassive: number
  private readonly shuffleInterval: number
  private readonly replyTimeout: number
  private readonly fillInterval: number
  private readonly retryBackoff: number
  private readonly random: () => number
  private readonly actions: OverlayAction[] = []
  private head = 0
  /** Join and Neighbor requests awaiting an answer: peer to deadline */
  private readonly pending = new Map<string, number>()
  /**
   * Joins and Neighbors sent to a peer and not answered yet, timed out ones
   * included: the peer answers them in order, so only the last answer is
   * the one to the latest request
   */
  private readonly unanswered = new Map<string, number>()
  /** of passive peers only, so that it stays bounded */
  private readonly backoff = new Map<string, Backoff>()
  /** what the last shuffle sent: evicted first when its reply comes */
  private lastShuffle = new Set<string>()
  private shuffleOpen = false
  /** undefined until the first call that gives the time */
  private shuffleAt: number | undefined
  private fillAt = 0
  /** when the active link to each passive peer broke (while it stays passive) */
  private readonly lostAt = new Map<string, number>()
  /** between fills: fillInterval, doubling with each refusal in a row (up to MAX_BACKOFF) */
  private fillDelay: number

  constructor (init: HyParViewInit) {
    this.self = init.self
    this.activeView = new View(atLeast(init.activeSize ?? 6, 1))
    this.passiveView = new View(atLeast(init.passiveSize ?? 30, 0))
    this.arwl = atLeast(init.arwl ?? 6, 0)
    this.prwl = atLeast(init.prwl ?? 3, 0)
    this.shuffleActive = atLeast(init.shuffleActive ?? 3, 0)
    this.shufflePassive = atLeast(init.shufflePassive ?? 4, 0)
    this.shuffleInterval = atLeast(init.shuffleInterval ?? 10_000, 1)
    this.replyTimeout = atLeast(init.replyTimeout ?? 5_000, 1)
    this.fillInterval = atLeast(init.fillInterval ?? 1_000, 1)
    this.fillDelay = this.fillInterval
    this.retryBackoff = atLeast(init.retryBackoff ?? 1_000, 0)
    this.random = init.random ?? Math.random
  }

  get active (): ReadonlySet<string> { return this.activeView.set }
  /** Whether a Join or Neighbor sent to `peer` awaits its answer. */
  awaits (peer: string): boolean { return this.pending.has(peer) }
  get passive (): ReadonlySet<string> { return this.passiveView.set }

  /** When `tick` is due next (possibly already past), or undefined. */
  get timeout (): number | undefined {
    if (this.shuffleAt === undefined) return undefined
    let t = this.activeView.size > 0 ? this.shuffleAt : undefined
    for (const deadline of this.pending.values()) t = t === undefined ? deadline : Math.min(t, deadline)
    if (this.freePlaces > 0 && this.passiveView.items.some(p => !this.pending.has(p))) {
      t = t === undefined ? this.fillAt : Math.min(t, this.fillAt)
    }
    return t
  }

  /** Joins the overlay through `contact` (sends it Join; the contact is added to the active view when it answers neighbor-reply accept). */
  join (contact: string, now: number): void {
    this.start(now)
    if (contact === this.self || this.activeView.has(contact) || this.pending.has(contact)) return
    this.request(contact, { type: 'join' }, now)
  }

  /**
   * Peers heard of elsewhere (mDNS, EventPeer announcements in the log, saved
   * peers): into the passive view, each new one in place of a random one
   * when it is full.
   */
  learn (peers: Iterable<string>, now: number): void {
    this.start(now)
    for (const peer of peers) this.addPassive(peer)
  }

  /** A message from `from`. */
  receive (from: string, message: OverlayMessage, now: number): void {
    this.start(now)
    if (from === this.self) return
    switch (message.type) {
      case 'join': return this.onJoin(from)
      case 'forward-join': return this.onForwardJoin(from, message.peer, this.ttl(message.ttl, this.arwl))
      case 'neighbor': return this.onNeighbor(from, message.high === true)
      case 'neighbor-reply': return this.onNeighborReply(from, message.accept === true, now)
      case 'disconnect': return this.onDisconnect(from, now)
      case 'shuffle': return this.onShuffle(from, message.origin, this.ttl(message.ttl, this.prwl), message.peers)
      case 'shuffle-reply': return this.onShuffleReply(message.peers)
    }
  }

  /**
   * The link to `peer` broke, or a send/dial to it failed: if it was active it
   * leaves the active view (a `down` action) and goes to the passive view
   * with a retry backoff; a pending Join/Neighbor to it is over.
   */
  failed (peer: string, now: number): void {
    this.start(now)
    if (peer === this.self) return
    this.unanswered.delete(peer)
    const wasPending = this.pending.delete(peer)
    const wasActive = this.activeView.has(peer)
    if (wasActive) this.removeActive(peer)
    if (wasActive || wasPending) this.addPassive(peer)
    if (wasActive && this.passiveView.has(peer)) this.lostAt.set(peer, now)
    this.backOff(peer, now)
    if (wasActive) this.fill(now)
  }

  /** Timers that are due fire (shuffle, reply timeouts, fill). */
  tick (now: number): void {
    this.start(now)
    for (const [peer, deadline] of this.pending) {
      if (deadline > now) continue
      // its answer may still come, so it stays unanswered
      this.pending.delete(peer)
      this.addPassive(peer)
      this.backOff(peer, now)
    }
    if (this.shuffleAt !== undefined && now >= this.shuffleAt) {
      this.shuffleAt = now + this.shuffleInterval
      if (this.activeView.size > 0) this.shuffle()
    }
    if (now >= this.fillAt) this.fill(now)
  }

  poll (): OverlayAction | undefined {
    if (this.head >= this.actions.length) return undefined
    const action = this.actions[this.head++]
    if (this.head === this.actions.length) {
      this.actions.length = 0
      this.head = 0
    }
    return action
  }

  private start (now: number): void {
    if (this.shuffleAt !== undefined) return
    // spread out, so that nodes started together do not shuffle together
    this.shuffleAt = now + Math.floor(this.random() * this.shuffleInterval)
    this.fillAt = now
  }

  private onJoin (from: string): void {
    if (this.activeView.has(from)) {
      // a repeated join is answered, not spread again
      this.send(from, { type: 'neighbor-reply', accept: true })
      return
    }
    this.addActive(from)
    this.send(from, { type: 'neighbor-reply', accept: true })
    for (const peer of this.activeView.items) {
      if (peer !== from) this.send(peer, { type: 'forward-join', peer: from, ttl: this.arwl })
    }
  }

  private onForwardJoin (from: string, peer: unknown, ttl: number): void {
    if (typeof peer !== 'string' || peer === this.self) return
    if (ttl === 0 || this.activeView.size <= 1) return this.addForwarded(peer)
    if (ttl === this.prwl) this.addPassive(peer)
    const next = this.pick(this.activeView.items, p => p !== from && p !== peer)
    if (next === undefined) return this.addForwarded(peer)
    this.send(next, { type: 'forward-join', peer, ttl: ttl - 1 })
  }

  private addForwarded (peer: string): void {
    if (this.activeView.has(peer)) return
    this.addActive(peer)
    // answered like any other, but not waited for: the peer is active already
    this.unanswered.set(peer, (this.unanswered.get(peer) ?? 0) + 1)
    this.send(peer, { type: 'neighbor', high: true })
  }

  private onNeighbor (from: string, high: boolean): void {
    if (this.activeView.has(from)) {
      this.send(from, { type: 'neighbor-reply', accept: true })
    } else if (high || !this.activeView.full) {
      this.addActive(from)
      this.send(from, { type: 'neighbor-reply', accept: true })
    } else {
      this.send(from, { type: 'neighbor-reply', accept: false })
      this.addPassive(from)
    }
  }

  private onNeighborReply (from: string, accept: boolean, now: number): void {
    const due = this.unanswered.get(from) ?? 0
    if (due > 1) {
      this.unanswered.set(from, due - 1)
      return
    }
    this.unanswered.delete(from)
    const asked = due === 1 && this.pending.delete(from)
    if (this.activeView.has(from)) return
    if (accept && asked && !this.activeView.full) {
      this.addActive(from)
      return
    }
    // the peer may hold this node active, and this node may have sent it a
    // disconnect since the request: a second one does no harm
    if (accept) this.send(from, { type: 'disconnect' })
    if (asked) {
      this.addPassive(from)
      this.hold(from, now)
      // peers that are full say no: a view that is not empty is not pressed
      // on them every second
      if (this.activeView.size > 0) {
        this.fillDelay = Math.min(MAX_BACKOFF, this.fillDelay * 2)
        this.fillAt = now + this.fillDelay
      }
    }
  }

  private onDisconnect (from: string, now: number): void {
    if (!this.activeView.has(from)) return
    this.removeActive(from)
    this.addPassive(from)
    this.hold(from, now)
    this.fill(now)
  }

  private onShuffle (from: string, origin: unknown, ttl: number, peers: unknown): void {
    if (typeof origin !== 'string' || origin === this.self) return
    const received = this.peerList(peers, 1 + this.shuffleActive + this.shufflePassive)
    if (ttl > 0 && this.activeView.size > 1) {
      const next = this.pick(this.activeView.items, p => p !== from && p !== origin)
      if (next !== undefined) {
        this.send(next, { type: 'shuffle', origin, ttl: ttl - 1, peers: received })
        return
      }
    }
    const reply = this.sample(this.passiveView.items, received.length, p => p !== origin)
    this.send(origin, { type: 'shuffle-reply', peers: reply })
    this.integrate(received, new Set(reply))
  }

  private onShuffleReply (peers: unknown): void {
    if (!this.shuffleOpen) return
    this.shuffleOpen = false
    this.integrate(this.peerList(peers, this.lastShuffle.size), this.lastShuffle)
  }

  private shuffle (): void {
    const target = this.pick(this.activeView.items) as string
    const peers = [
      this.self,
      ...this.sample(this.activeView.items, this.shuffleActive, p => p !== target),
      ...this.sample(this.passiveView.items, this.shufflePassive)
    ]
    this.lastShuffle = new Set(peers)
    this.shuffleOpen = true
    this.send(target, { type: 'shuffle', origin: this.self, ttl: this.prwl, peers })
  }

  /** Into the passive view; when full, in place of those in `evictFirst` that are still there, then of random ones. */
  private integrate (peers: string[], evictFirst: Set<string>): void {
    for (const peer of peers) {
      if (peer === this.self || this.activeView.has(peer) || this.passiveView.has(peer)) continue
      if (this.passiveView.full) {
        let victim: string | undefined
        for (const p of evictFirst) {
          evictFirst.delete(p)
          if (this.passiveView.has(p)) {
            victim = p
            break
          }
        }
        victim ??= this.pick(this.passiveView.items)
        if (victim === undefined) return // a passive view of size 0
        this.removePassive(victim)
      }
      this.passiveView.add(peer)
    }
  }

  /** Places of the active view that no active peer or pending request takes. */
  private get freePlaces (): number {
    return this.activeView.capacity - this.activeView.size - this.pending.size
  }

  // One Neighbor per free place, at once: a node that lost its peers (or
  // restarted) has them back in one round trip. High priority for one only,
  // and only when there is no active peer or request.
  private fill (now: number): void {
    this.fillAt = now + this.fillDelay
    let high = this.activeView.size === 0 && this.pending.size === 0
    for (let free = this.freePlaces; free > 0; free--) {
      const peer = this.pick(this.passiveView.items, p => !this.pending.has(p) && (this.backoff.get(p)?.until ?? 0) <= now)
      if (peer === undefined) return
      this.request(peer, { type: 'neighbor', high }, now)
      high = false
    }
  }

  /** Sends a Join or Neighbor and waits replyTimeout for its answer. */
  private request (peer: string, message: OverlayMessage, now: number): void {
    this.pending.set(peer, now + this.replyTimeout)
    this.unanswered.set(peer, (this.unanswered.get(peer) ?? 0) + 1)
    this.send(peer, message)
  }

  private addActive (peer: string): void {
    if (this.activeView.full) {
      const victim = this.pick(this.activeView.items) as string
      this.send(victim, { type: 'disconnect' })
      this.removeActive(victim)
      this.addPassive(victim)
    }
    this.passiveView.delete(peer)
    this.backoff.delete(peer)
    this.lostAt.delete(peer)
    // a request to it is over: if the peer is dropped later, it may still
    // accept the request before the disconnect comes, and drop this node again
    this.pending.delete(peer)
    this.activeView.add(peer)
    this.fillDelay = this.fillInterval
    this.actions.push({ type: 'up', peer })
  }

  private removeActive (peer: string): void {
    this.activeView.delete(peer)
    this.fillDelay = this.fillInterval
    this.actions.push({ type: 'down', peer })
  }

  private addPassive (peer: string): void {
    if (peer === this.self || this.activeView.has(peer) || this.passiveView.has(peer)) return
    if (this.passiveView.full) {
      const victim = this.pick(this.passiveView.items)
      if (victim === undefined) return
      this.removePassive(victim)
    }
    this.passiveView.add(peer)
  }

  /** Evicts a passive peer: what is known of it goes too, so that memory stays bounded by the views. */
  private removePassive (peer: string): void {
    if (!this.passiveView.delete(peer)) return
    this.backoff.delete(peer)
    this.lostAt.delete(peer)
    if (!this.pending.has(peer)) this.unanswered.delete(peer)
  }

  /** The backoff record of a passive peer (created), or undefined for any other. */
  private backoffOf (peer: string): Backoff | undefined {
    if (!this.passiveView.has(peer)) return undefined
    let backoff = this.backoff.get(peer)
    if (backoff === undefined) {
      backoff = { failures: 0, until: 0 }
      this.backoff.set(peer, backoff)
    }
    return backoff
  }

  /** A passive peer that failed once more in a row is left alone for longer. */
  private backOff (peer: string, now: number): void {
    const backoff = this.backoffOf(peer)
    if (backoff === undefined) return
    backoff.failures++
    const recent = now - (this.lostAt.get(peer) ?? -Infinity) < RECENT_MS
    backoff.until = now + Math.min(recent ? RECENT_MAX_BACKOFF : MAX_BACKOFF, this.retryBackoff * 2 ** Math.min(backoff.failures - 1, 30))
  }

  /** A passive peer that refused or dropped this node is not asked again for retryBackoff; not a failure. */
  private hold (peer: string, now: number): void {
    const backoff = this.backoffOf(peer)
    if (backoff !== undefined) backoff.until = Math.max(backoff.until, now + this.retryBackoff)
  }

  private send (to: string, message: OverlayMessage): void {
    this.actions.push({ type: 'send', to, message })
  }

  /** A ttl from the wire as a whole number in [0, most]: a peer cannot send a walk around forever. */
  private ttl (ttl: unknown, most: number): number {
    return typeof ttl === 'number' && ttl > 0 ? Math.min(Math.floor(ttl), most) : 0
  }

  /** Peer ids from the wire: strings only, at most `most`. */
  private peerList (peers: unknown, most: number): string[] {
    if (!Array.isArray(peers)) return []
    const list: string[] = []
    for (const p of peers) {
      if (list.length >= most) break
      if (typeof p === 'string') list.push(p)
    }
    return list
  }

  private index (n: number): number {
    return Math.min(n - 1, Math.floor(this.random() * n))
  }

  /** A random item that passes `keep`, or undefined. */
  private pick (items: readonly string[], keep?: (p: string) => boolean): string | undefined {
    if (keep === undefined) return items.length === 0 ? undefined : items[this.index(items.length)]
    const candidates = items.filter(keep)
    return candidates.length === 0 ? undefined : candidates[this.index(candidates.length)]
  }

  /** Up to `k` random items that pass `keep`. */
  private sample (items: readonly string[], k: number, keep?: (p: string) => boolean): string[] {
    const candidates = keep === undefined ? items.slice() : items.filter(keep)
    const n = Math.min(k, candidates.length)
    for (let i = 0; i < n; i++) {
      const j = i + this.index(candidates.length - i)
      const t = candidates[i]
      candidates[i] = candidates[j]
      candidates[j] = t
    }
    candidates.length = n
    return candidates
  }
}

function atLeast (n: number, least: number): number {
  return Number.isFinite(n) ? Math.max(least, Math.floor(n)) : least
}
