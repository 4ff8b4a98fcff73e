import type { EventEmitter } from 'node:events'
import { logger } from '@libp2p/logger'
import type { Log, LogEntry } from './log/log.js'
import type { Schema } from './schema/index.js'

const log = logger('hyperemitter:emitter')

/** Events kept in memory for listeners before delivery falls back to reading the db. */
const DELIVERY_CACHE = 4096

/**
 * A listener gets the decoded message. With a second `done` parameter, or by
 * returning a promise, it holds delivery of the next event until it is done.
 */
export type Listener<T = Record<string, unknown>> = (message: T, done: (err?: Error | null) => void) => unknown

interface Registered {
  fn: Listener
  once: boolean
}

export interface DeliveryInit {
  schema: Schema
  /** gets `listener-error` (err, eventName) when a listener throws */
  status: EventEmitter
  /** whether the emitter is closing: delivery stops, and readers stop waiting */
  closed: () => boolean
}

/**
 * The change feed's consumers in this process: listeners get every event
 * stored, in log order, once, each event after the listeners of the one
 * before are done; readers waiting at the end of the feed are woken when
 * it grows.
 */
export class Delivery {
  readonly #init: DeliveryInit
  readonly #listeners = new Map<string, Registered[]>()
  #log: Log | undefined
  #delivered = 0
  #cache: LogEntry[] = []
  #delivering = false
  readonly #waiters = new Set<() => void>()

  constructor (init: DeliveryInit) {
    this.#init = init
  }

  /** Follows `log` from its end: listeners get what it stores from now on. */
  attach (log: Log): void {
    this.#log = log
    this.#delivered = log.length
    log.onCommit(entries => { this.#committed(entries) })
  }

  /** Feed position of the last event handed to listeners. */
  get delivered (): number {
    return this.#delivered
  }

  add (name: string, fn: Listener, once: boolean): void {
    if (typeof fn !== 'function') throw new TypeError('the listener must be a function')
    const list = this.#listeners.get(name) ?? []
    list.push({ fn, once })
    this.#listeners.set(name, list)
  }

  /** Removes the first registration of `fn`; an unknown one is ignored. */
  remove (name: string, fn: Listener): void {
    const list = this.#listeners.get(name)
    const i = list?.findIndex(r => r.fn === fn) ?? -1
    if (list != null && i >= 0) {
      list.splice(i, 1)
      if (list.length === 0) this.#listeners.delete(name)
    }
  }

  count (name: string): number {
    return this.#listeners.get(name)?.length ?? 0
  }

  /** Resolves at the next commit, at close, or when `signal` aborts. */
  changed (signal?: AbortSignal): Promise<void> {
    if (this.#init.closed() || signal?.aborted === true) return Promise.resolve()
    return new Promise(resolve => {
      const wake = (): void => {
        this.#waiters.delete(wake)
        signal?.removeEventListener('abort', wake)
        resolve()
      }
      this.#waiters.add(wake)
      signal?.addEventListener('abort', wake, { once: true })
    })
  }

  /** Wakes every reader waiting in `changed()`. */
  wake (): void {
    for (const wake of [...this.#waiters]) wake()
  }

  #committed (entries: LogEntry[]): void {
    if (this.#cache.length < DELIVERY_CACHE && this.#listeners.size > 0) this.#cache.push(...entries)
    this.wake()
    if (!this.#delivering) void this.#deliverAll()
  }

  // Delivers the feed in order from where listeners are, from the in-memory
  // cache when it holds the next event and from the db when it fell behind.
  async #deliverAll (): Promise<void> {
    this.#delivering = true
    try {
      const l = this.#log!
      while (!this.#init.closed() && this.#delivered < l.length) {
        // with no listener, there is nothing to hand the events to, nor to read
        if (this.#listeners.size === 0) {
          this.#cache = []
          this.#delivered = l.length
          break
        }
        let batch = this.#cache
        this.#cache = []
        if (batch.length === 0 || batch[0].seq > this.#delivered + 1) {
          batch = await l.read(this.#delivered + 1, DELIVERY_CACHE)
        }
        for (const e of batch) {
          if (e.seq <= this.#delivered) continue
          if (this.#init.closed()) return
          this.#delivered = e.seq
          const wait = this.#deliver(e)
          if (wait != null) await wait
        }
      }
    } catch (err) {
      if (!this.#init.closed()) log.error('delivery stopped: %e', err)
    } finally {
      this.#delivering = false
    }
  }

  #deliver (e: LogEntry): Promise<void> | undefined {
    const list = this.#listeners.get(e.entry.name)
    // an event of another version of the schema is for readers only (events(), stream())
    if (list == null || list.length === 0 || !this.#init.schema.knows(e.entry.name)) return
    let message: Record<string, unknown>
    try {
      message = this.#init.schema.decode(e.entry.name, e.entry.payload)
    } catch (err) {
      // only a forced open keeps events its schema cannot decode (emitter.ts)
      log.error('event %s at feed position %d does not decode; its listeners do not get it: %e', e.entry.name, e.seq, err)
      return
    }
    const waits: Array<Promise<unknown>> = []
    for (const r of [...list]) {
      if (r.once) {
        // this record, not the first with the same function
        list.splice(list.indexOf(r), 1)
        if (list.length === 0) this.#listeners.delete(e.entry.name)
      }
      try {
        if (r.fn.length >= 2) {
          waits.push(new Promise<void>((resolve) => {
            r.fn(message, (err?: Error | null) => {
              if (err != null) this.#listenerError(err, e.entry.name)
              resolve()
            })
          }))
        } else {
          const out = (r.fn as (m: unknown) => unknown)(message)
          if (out != null && typeof (out as Promise<unknown>).then === 'function') {
            waits.push((out as Promise<unknown>).then(undefined, err => { this.#listenerError(err, e.entry.name) }))
          }
        }
      } catch (err) {
        this.#listenerError(err, e.entry.name)
      }
    }
    if (waits.length > 0) return Promise.all(waits).then(() => {})
  }

  #listenerError (err: unknown, name: string): void {
    const status = this.#init.status
    if (status.listenerCount('listener-error') > 0) status.emit('listener-error', err, name)
    else log.error('listener of %s threw: %e', name, err)
  }
}
