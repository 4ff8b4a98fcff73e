import { abortable } from './abort.js'
import { ClosedError, NotOpenError, OpenError } from './errors.js'

/**
 * Where the emitter is in its life, as abstract-level's `db.status`:
 * `'opening'` from the constructor until the db is open, then `'open'`;
 * `'closing'` from `close()`, then `'closed'`. A failed open also ends in
 * `'closed'`, and calls then reject with the OpenError.
 */
export type EmitterState = 'opening' | 'open' | 'closing' | 'closed'

/** Options of the calls that wait: aborting `signal` rejects the call with its reason. */
export interface AbortOptions {
  signal?: AbortSignal
}

/**
 * The emitter's state machine, and what a call meets in each state: calls
 * made while it opens wait for the open, calls made after `close()` (or a
 * failed open) are refused, and calls that wait give up at `close()`.
 * `T` is what the open yields.
 */
export class Lifecycle<T> {
  #state: EmitterState = 'opening'
  /** settles once the open is over: with its value, or with the OpenError */
  readonly #opening: Promise<T>
  #value: T | undefined
  #openError: OpenError | undefined
  #closing: Promise<void> | undefined
  /** aborted by close(), with a ClosedError: calls that wait give up */
  readonly #closer = new AbortController()

  /**
   * @param open - opens what the emitter needs, and closes it again when it
   * fails; `closed` tells it that `close()` was called meanwhile
   */
  constructor (open: (closed: AbortSignal) => Promise<T>) {
    this.#opening = open(this.#closer.signal).then(value => {
      this.#value = value
      if (this.#state === 'opening') this.#state = 'open'
      return value
    }, (err: unknown) => {
      this.#openError = new OpenError(`cannot open the emitter: ${(err as Error)?.message ?? String(err)}`, { cause: err })
      if (this.#state === 'opening') this.#state = 'closed'
      throw this.#openError
    })
    // errors reach whoever awaits: ready(), emit(), ...
    this.#opening.catch(() => {})
  }

  get state (): EmitterState {
    return this.#state
  }

  /** Whether `close()` was called. */
  get closing (): boolean {
    return this.#closing != null
  }

  /** Aborted by `close()`, with a ClosedError. */
  get closeSignal (): AbortSignal {
    return this.#closer.signal
  }

  /** Why the emitter cannot be used: it was closed, or failed to open. */
  unusable (): Error | undefined {
    if (this.#closing != null) return new ClosedError('the emitter is closed')
    return this.#openError
  }

  /**
   * What the open yielded, once the emitter is open: waits while it opens.
   * Rejects as `unusable()` says, with ClosedError when `close()` is called
   * meanwhile, and with the reason of `signal` when it aborts first.
   */
  async opened (signal?: AbortSignal): Promise<T> {
    const unusable = this.unusable()
    if (unusable != null) throw unusable
    signal?.throwIfAborted()
    const value = this.#state === 'open' ? this.#value as T : await abortable(this.#opening, signal)
    if (this.#closing != null) throw new ClosedError('the emitter is closed')
    return value
  }

  /**
   * For getters, which cannot wait: `value` when the open got far enough to
   * have it (it may be before the open ends), unless the open failed.
   * Throws the OpenError, ClosedError, or NotOpenError while it opens.
   */
  current<V> (value: V | undefined): V {
    if (this.#openError != null) throw this.#openError
    if (value != null) return value
    if (this.#closing != null) throw new ClosedError('the emitter was closed before it opened')
    throw new NotOpenError('the emitter is still opening: await emitter.ready(), or make it with HyperEmitter.open()')
  }

  /** The caller's signal, or close(): whichever aborts first. */
  until (signal?: AbortSignal): AbortSignal {
    return signal == null ? this.#closer.signal : AbortSignal.any([signal, this.#closer.signal])
  }

  /** Waits for the open to end: with its value, or undefined when it failed (a failed open closed what it had opened). */
  async settled (): Promise<T | undefined> {
    try {
      return await this.#opening
    } catch {
      return undefined
    }
  }

  /**
   * Moves to `'closing'` from any state, aborts the calls that wait, and
   * runs `shutdown`, once: later calls get the same promise. `'closed'`
   * once `shutdown` is over.
   */
  close (shutdown: () => Promise<void>): Promise<void> {
    if (this.#closing == null) {
      if (this.#state !== 'closed') this.#state = 'closing'
      this.#closer.abort(new ClosedError('the emitter was closed'))
      this.#closing = this.#shutdown(shutdown)
    }
    return this.#closing
  }

  async #shutdown (shutdown: () => Promise<void>): Promise<void> {
    try {
      await shutdown()
    } finally {
      this.#state = 'closed'
    }
  }
}
