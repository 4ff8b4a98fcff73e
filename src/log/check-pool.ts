// Entries checked off the calling thread: each one's id (its sha2-256) and
// whether its signature verifies, by worker threads (check-worker.ts). A
// receiver hands a long frame here while it stores the last one, and its
// Ingester then takes the ids and the verdicts instead of working them out:
// a signature check costs about 60 µs, most of storing an entry that came
// signed. Workers start on a check and are let go at `close`.
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { ID_LENGTH, newId } from './entry.js'
import { pack, transfers, type Packed } from './packed.js'

/** The verdict on an entry's signature (`Checked.signatures`). */
export const UNSIGNED = 0
export const VALID = 1
/** the signature does not verify, or the entry does not decode: the caller checks it itself, for the reason */
export const FAILED = 2

/** What a check found for entries in order: ids (ID_LENGTH bytes each) and a verdict each. */
export class Checked {
  readonly ids: Uint8Array
  readonly signatures: Uint8Array

  constructor (ids: Uint8Array, signatures: Uint8Array) {
    this.ids = ids
    this.signatures = signatures
  }

  /** The id of the `i`th entry: a copy, as a view would keep all the ids alive while one is held. */
  id (i: number): Uint8Array<ArrayBuffer> {
    const id = newId()
    id.set(this.ids.subarray(i * ID_LENGTH, (i + 1) * ID_LENGTH))
    return id
  }

  /** The part of `from` to `to` (exclusive), sharing the memory. */
  slice (from: number, to: number): Checked {
    return new Checked(this.ids.subarray(from * ID_LENGTH, to * ID_LENGTH), this.signatures.subarray(from, to))
  }

  get length (): number {
    return this.signatures.length
  }
}

/** A job for a worker: its entries, packed. */
export interface CheckJob extends Packed {
  job: number
}

export interface CheckReply {
  job: number
  ids: Uint8Array
  signatures: Uint8Array
}

/** Entries a worker takes at least in one job: below it the messages cost more than the work. */
const MIN_SLICE = 256

export class CheckPool {
  readonly #size: number
  readonly #workers: Worker[] = []
  readonly #waiting = new Map<number, { resolve: (r: CheckReply) => void, reject: (err: Error) => void }>()
  /** jobs under way, by worker */
  readonly #jobs = new Map<Worker, number>()
  #next = 0

  /**
   * `size` workers, by default one per core, at most 4: on 2 cores, 2
   * workers check a catch-up of signed entries 1.2 times as fast as 1,
   * which is no faster than this thread alone.
   */
  constructor (size = Math.min(4, availableParallelism())) {
    this.#size = size
  }

  /** Checks `entries` on the workers, split among them; rejects if a worker fails or the pool closes meanwhile. */
  async check (entries: Uint8Array[]): Promise<Checked> {
    this.#start()
    const pieces = Math.max(1, Math.min(this.#size, Math.floor(entries.length / MIN_SLICE)))
    const step = Math.ceil(entries.length / pieces)
    // the least busy first
    const workers = [...this.#workers].sort((a, b) => (this.#jobs.get(a) ?? 0) - (this.#jobs.get(b) ?? 0))
    const replies = await Promise.all(Array.from({ length: pieces }, async (_, k) =>
      this.#run(workers[k], entries.slice(k * step, (k + 1) * step))))
    if (replies.length === 1) return new Checked(replies[0].ids, replies[0].signatures)
    const ids = new Uint8Array(entries.length * ID_LENGTH)
    const signatures = new Uint8Array(entries.length)
    replies.forEach((r, k) => {
      ids.set(r.ids, k * step * ID_LENGTH)
      signatures.set(r.signatures, k * step)
    })
    return new Checked(ids, signatures)
  }

  /** Stops the workers; a later check starts them again. */
  async close (): Promise<void> {
    await this.#stop(new Error('the check pool is closed'))
  }

  // Fails every check under way (their callers check on their own thread)
  // and lets the workers go: the next check starts new ones.
  async #stop (err: Error): Promise<void> {
    const workers = this.#workers.splice(0)
    this.#jobs.clear()
    for (const { reject } of this.#waiting.values()) reject(err)
    this.#waiting.clear()
    await Promise.all(workers.map(async w => w.terminate()))
  }

  #start (): void {
    if (this.#workers.length > 0) return
    for (let i = 0; i < this.#size; i++) {
      const worker = new Worker(new URL('./check-worker.js', import.meta.url))
      worker.on('message', (reply: CheckReply) => {
        const waiting = this.#waiting.get(reply.job)
        this.#waiting.delete(reply.job)
        // an idle worker does not keep the process alive
        const jobs = (this.#jobs.get(worker) ?? 1) - 1
        this.#jobs.set(worker, jobs)
        if (jobs === 0) worker.unref()
        waiting?.resolve(reply)
      })
      // one that fails or ends takes the pool with it, and none hangs a check
      const lost = (err: Error): void => { if (this.#workers.includes(worker)) void this.#stop(err) }
      worker.on('error', lost)
      worker.on('exit', code => { lost(new Error(`a check worker exited (${code})`)) })
      worker.unref()
      this.#jobs.set(worker, 0)
      this.#workers.push(worker)
    }
  }

  async #run (worker: Worker, entries: Uint8Array[]): Promise<CheckReply> {
    const packed = pack(entries)
    const job = this.#next++
    const jobs = this.#jobs.get(worker) ?? 0
    if (jobs === 0) worker.ref()
    this.#jobs.set(worker, jobs + 1)
    const reply = new Promise<CheckReply>((resolve, reject) => { this.#waiting.set(job, { resolve, reject }) })
    worker.postMessage({ job, ...packed } satisfies CheckJob, transfers(packed))
    return reply
  }
}
