// What the emitter's status events said about each peer since the view
// started: refusals, invalid entries, and a short list of recent notices
// for the page's activity feed.
import type { EventEmitter } from 'node:events'
import type { StatusEvents } from '../options.js'

/** Peers remembered; past this, the longest quiet ones are forgotten. */
const MAX_PEERS = 1024
/** Notices kept for the activity feed. */
const MAX_NOTICES = 50

/** What one peer did that the page shows. */
export interface PeerReport {
  /** sessions refused, by either side */
  refused: number
  /** entries it sent that failed validation */
  invalid: number
  /** the last refusal or invalid batch, for the peer's row */
  last?: { at: number, what: string }
  /** when its session last started and ended */
  connectedAt?: number
  disconnectedAt?: number
}

/** A line of the activity feed. */
export interface Notice {
  at: number
  peer: string
  kind: 'connect' | 'disconnect' | 'synced' | 'refused' | 'invalid'
  text: string
}

export class PeerReports {
  readonly #status: EventEmitter
  readonly #peers = new Map<string, PeerReport>()
  readonly #notices: Notice[] = []
  readonly #handlers: { [K in 'peer:connect' | 'peer:disconnect' | 'peer:synced' | 'peer:refused' | 'peer:invalid']: (e: StatusEvents[K]) => void }

  constructor (status: EventEmitter) {
    this.#status = status
    this.#handlers = {
      'peer:connect': e => {
        this.#report(e.peer).connectedAt = Date.now()
        this.#notice(e.peer, 'connect', 'session started')
      },
      'peer:disconnect': e => {
        this.#report(e.peer).disconnectedAt = Date.now()
        this.#notice(e.peer, 'disconnect', 'session ended')
      },
      'peer:synced': e => { this.#notice(e.peer, 'synced', 'sent everything this node lacked') },
      'peer:refused': e => {
        const r = this.#report(e.peer)
        r.refused++
        const what = `${e.remote ? 'refused this node' : 'refused'}: ${e.code}: ${e.reason}`
        r.last = { at: Date.now(), what }
        this.#notice(e.peer, 'refused', what)
      },
      'peer:invalid': e => {
        const r = this.#report(e.peer)
        r.invalid += e.count
        const what = `${e.count} invalid ${e.count === 1 ? 'entry' : 'entries'}: ${e.reason}`
        r.last = { at: Date.now(), what }
        this.#notice(e.peer, 'invalid', what)
      }
    }
    for (const [name, fn] of Object.entries(this.#handlers)) status.on(name, fn)
  }

  /** Notes the peers in session when the view started: the feed starts with them. */
  present (peers: Array<{ id: string, synced: boolean }>): void {
    for (const p of peers) this.#notice(p.id, p.synced ? 'synced' : 'connect', `in session when the view started${p.synced ? ', caught up' : ''}`)
  }

  get (peer: string): PeerReport | undefined {
    return this.#peers.get(peer)
  }

  /** The recent notices, newest last. */
  get notices (): readonly Notice[] {
    return this.#notices
  }

  /** Totals over all peers. */
  get totals (): { refused: number, invalid: number } {
    let refused = 0
    let invalid = 0
    for (const r of this.#peers.values()) {
      refused += r.refused
      invalid += r.invalid
    }
    return { refused, invalid }
  }

  close (): void {
    for (const [name, fn] of Object.entries(this.#handlers)) this.#status.off(name, fn)
  }

  #report (peer: string): PeerReport {
    let r = this.#peers.get(peer)
    if (r == null) {
      if (this.#peers.size >= MAX_PEERS) this.#peers.delete(this.#peers.keys().next().value!)
      r = { refused: 0, invalid: 0 }
    } else {
      // the most recently heard of go last, so the first are forgotten first
      this.#peers.delete(peer)
    }
    this.#peers.set(peer, r)
    return r
  }

  #notice (peer: string, kind: Notice['kind'], text: string): void {
    this.#notices.push({ at: Date.now(), peer, kind, text })
    if (this.#notices.length > MAX_NOTICES) this.#notices.shift()
  }
}
