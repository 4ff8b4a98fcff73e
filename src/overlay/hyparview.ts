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
// Every `up` of a peer is followed by exactly one `down` before its next `up`.
// The rules for each message, the fill, the shuffle and failures are in
// README.md (Rules); view.ts holds the views and the random picks,
// backoff.ts when a passive peer may be asked again, fill.ts when a round of
// fill is due, and messages.ts the messages and actions. The driver must
// deliver the messages from one peer in the order sent (a stream does): the views
// stay symmetric because each side's messages reflect its view at the time.
import { Backoffs } from './backoff.js'
import { FillRounds } from './fill.js'
import { peerList, ttl, type OverlayAction, type OverlayMessage } from './messages.js'
import { Picker, View } from './view.js'

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
  private readonly random: () => number
  private readonly picker: Picker
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
  private readonly backoffs: Backoffs
  /** what the last shuffle sent: evicted first when its reply comes */
  private lastShuffle = new Set<string>()
  private shuffleOpen = false
  /** undefined until the first call that gives the time */
  private shuffleAt: number | undefined
  private readonly rounds: FillRounds

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
    this.rounds = new FillRounds(atLeast(init.fillInterval ?? 1_000, 1))
    this.backoffs = new Backoffs(atLeast(init.retryBackoff ?? 1_000, 0))
    this.random = init.random ?? Math.random
    this.picker = new Picker(this.random)
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
      t = t === undefined ? this.rounds.at : Math.min(t, this.rounds.at)
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
      case 'forward-join': return this.onForwardJoin(from, message.peer, ttl(message.ttl, this.arwl))
      case 'neighbor': return this.onNeighbor(from, message.high === true)
      case 'neighbor-reply': return this.onNeighborReply(from, message.accept === true, now)
      case 'disconnect': return this.onDisconnect(from, now)
      case 'shuffle': return this.onShuffle(from, message.origin, ttl(message.ttl, this.prwl), message.peers)
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
    if (wasActive && this.passiveView.has(peer)) this.backoffs.lost(peer, now)
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
    if (now >= this.rounds.at) this.fill(now)
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
    this.rounds.start(now)
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
    const next = this.picker.pick(this.activeView.items, p => p !== from && p !== peer)
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
      // a refusal: the round asks on (fill.ts); once nobody is left to ask
      // and no answer is awaited, a view that is not empty waits longer
      if (this.rounds.mayAskOn && this.freePlaces > 0 && this.ask(now)) {
        this.rounds.asked()
      } else if (this.activeView.size > 0 && this.pending.size === 0) {
        this.rounds.over(now)
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
    const received = peerList(peers, 1 + this.shuffleActive + this.shufflePassive)
    if (ttl > 0 && this.activeView.size > 1) {
      const next = this.picker.pick(this.activeView.items, p => p !== from && p !== origin)
      if (next !== undefined) {
        this.send(next, { type: 'shuffle', origin, ttl: ttl - 1, peers: received })
        return
      }
    }
    const reply = this.picker.sample(this.passiveView.items, received.length, p => p !== origin)
    this.send(origin, { type: 'shuffle-reply', peers: reply })
    this.integrate(received, new Set(reply))
  }

  private onShuffleReply (peers: unknown): void {
    if (!this.shuffleOpen) return
    this.shuffleOpen = false
    this.integrate(peerList(peers, this.lastShuffle.size), this.lastShuffle)
  }

  private shuffle (): void {
    const target = this.picker.pick(this.activeView.items) as string
    const peers = [
      this.self,
      ...this.picker.sample(this.activeView.items, this.shuffleActive, p => p !== target),
      ...this.picker.sample(this.passiveView.items, this.shufflePassive)
    ]
    this.lastShuffle = new Set(peers)
    this.shuffleOpen = true
    this.send(target, { type: 'shuffle', origin: this.self, ttl: this.prwl, peers })
  }

  /** Into the passive view; when full, in place of those in `evictFirst` that are still there, then of random ones. */
  private integrate (peers: string[], evictFirst: Set<string>): void {
    for (const peer of peers) this.addPassive(peer, evictFirst)
  }

  /** Places of the active view that no active peer or pending request takes. */
  private get freePlaces (): number {
    return this.activeView.capacity - this.activeView.size - this.pending.size
  }

  // A round of fill: one Neighbor per free place, at once, so that a node
  // that lost its peers (or restarted) has them back in one round trip.
  private fill (now: number): void {
    this.rounds.begin(now, this.passiveView.size)
    for (let free = this.freePlaces; free > 0; free--) if (!this.ask(now)) return
  }

  /**
   * A Neighbor to a passive peer that is not asked already nor held back, if
   * there is one. High priority only when there is no active peer or request.
   */
  private ask (now: number): boolean {
    const peer = this.picker.pick(this.passiveView.items, p => !this.pending.has(p) && this.backoffs.ready(p, now))
    if (peer === undefined) return false
    this.request(peer, { type: 'neighbor', high: this.activeView.size === 0 && this.pending.size === 0 }, now)
    return true
  }

  /** Sends a Join or Neighbor and waits replyTimeout for its answer. */
  private request (peer: string, message: OverlayMessage, now: number): void {
    this.pending.set(peer, now + this.replyTimeout)
    this.unanswered.set(peer, (this.unanswered.get(peer) ?? 0) + 1)
    this.send(peer, message)
  }

  private addActive (peer: string): void {
    if (this.activeView.full) {
      const victim = this.picker.pick(this.activeView.items) as string
      this.send(victim, { type: 'disconnect' })
      this.removeActive(victim)
      this.addPassive(victim)
    }
    this.passiveView.delete(peer)
    this.backoffs.forget(peer)
    // a request to it is over: if the peer is dropped later, it may still
    // accept the request before the disconnect comes, and drop this node again
    this.pending.delete(peer)
    this.activeView.add(peer)
    this.rounds.reset()
    this.actions.push({ type: 'up', peer })
  }

  private removeActive (peer: string): void {
    this.activeView.delete(peer)
    this.rounds.reset()
    this.actions.push({ type: 'down', peer })
  }

  /** Into the passive view; when full, in place of the first of `evictFirst` still there (each is used up), else of a random one. */
  private addPassive (peer: string, evictFirst?: Set<string>): void {
    if (peer === this.self || this.activeView.has(peer) || this.passiveView.has(peer)) return
    if (this.passiveView.full) {
      let victim: string | undefined
      for (const p of evictFirst ?? []) {
        evictFirst!.delete(p)
        if (this.passiveView.has(p)) {
          victim = p
          break
        }
      }
      victim ??= this.picker.pick(this.passiveView.items)
      if (victim === undefined) return // a passive view of size 0
      this.removePassive(victim)
    }
    this.passiveView.add(peer)
  }

  /** Evicts a passive peer: what is known of it goes too, so that memory stays bounded by the views. */
  private removePassive (peer: string): void {
    if (!this.passiveView.delete(peer)) return
    this.backoffs.forget(peer)
    if (!this.pending.has(peer)) this.unanswered.delete(peer)
  }

  /** A passive peer that failed once more in a row is left alone for longer. */
  private backOff (peer: string, now: number): void {
    if (this.passiveView.has(peer)) this.backoffs.failed(peer, now)
  }

  /** A passive peer that refused or dropped this node is not asked again for retryBackoff; not a failure. */
  private hold (peer: string, now: number): void {
    if (this.passiveView.has(peer)) this.backoffs.hold(peer, now)
  }

  private send (to: string, message: OverlayMessage): void {
    this.actions.push({ type: 'send', to, message })
  }
}

function atLeast (n: number, least: number): number {
  return Number.isFinite(n) ? Math.max(least, Math.floor(n)) : least
}
