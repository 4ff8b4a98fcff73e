// The simulated world's clock and wires: a discrete-event scheduler on
// virtual milliseconds, and a network of directed links whose messages take
// a random time each but never overtake one another (a stream keeps order,
// and HyParView's view symmetry depends on it). Randomness comes only from
// seeded generators, so that one seed gives one history.

/** mulberry32: a small seeded generator, uniform in [0, 1). */
export function seeded (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * An event: a timer (`run`), or a message on its way (`net`, with its ends
 * and payload). One object per event, since there are millions.
 */
interface Timed {
  at: number
  /** order of scheduling: ties in time run first-scheduled first */
  seq: number
  run: (() => void) | undefined
  net: Network | undefined
  from: number
  to: number
  sentAt: number
  payload: unknown
}

/** Events on virtual time, in a binary heap by time, then by order of scheduling. */
export class Scheduler {
  now = 0
  /** events run so far */
  steps = 0
  #seq = 0
  readonly #heap: Timed[] = []

  get size (): number {
    return this.#heap.length
  }

  /** Runs `run` at virtual time `at` (now, if `at` is past). */
  at (at: number, run: () => void): void {
    this.#push({ at: at < this.now ? this.now : at, seq: this.#seq++, run, net: undefined, from: 0, to: 0, sentAt: 0, payload: undefined })
  }

  /** A message of `net` arrives at `at`. */
  arrive (at: number, net: Network, from: number, to: number, payload: unknown): void {
    this.#push({ at: at < this.now ? this.now : at, seq: this.#seq++, run: undefined, net, from, to, sentAt: this.now, payload })
  }

  #push (e: Timed): void {
    const heap = this.#heap
    heap.push(e)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const p = heap[parent]
      if (p.at < e.at || (p.at === e.at && p.seq < e.seq)) break
      heap[i] = p
      i = parent
    }
    heap[i] = e
  }

  /** Runs `run` `delay` ms from now. */
  after (delay: number, run: () => void): void {
    this.at(this.now + delay, run)
  }

  /** Runs every event due up to `until`; the clock then reads `until`. */
  runUntil (until: number): void {
    const heap = this.#heap
    while (heap.length > 0 && heap[0].at <= until) {
      const e = this.#pop()
      this.now = e.at
      this.steps++
      if (e.run !== undefined) e.run()
      else e.net?.arrived(e.from, e.to, e.payload, e.sentAt)
    }
    if (until > this.now) this.now = until
  }

  #pop (): Timed {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop() as Timed
    const n = heap.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        let m = l
        if (r < n && (heap[r].at < heap[l].at || (heap[r].at === heap[l].at && heap[r].seq < heap[l].seq))) m = r
        const c = heap[m]
        if (last.at < c.at || (last.at === c.at && last.seq < c.seq)) break
        heap[i] = c
        i = m
      }
      heap[i] = last
    }
    return top
  }
}

/**
 * A one-way link latency in ms: uniform in [min, max], drawn for each
 * message, or once for each pair of nodes (`perLink`: a network whose
 * paths differ but each stays as it is).
 */
export interface Latency {
  min: number
  max: number
  perLink?: boolean
}

/** Parses `1-50` (ms) or `20` (a fixed latency). */
export function parseLatency (text: string, perLink = false): Latency {
  const m = /^(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$/.exec(text.trim())
  if (m == null) throw new Error(`a latency is MIN-MAX or MS, not "${text}"`)
  const min = Number(m[1])
  const max = m[2] == null ? min : Number(m[2])
  if (max < min) throw new Error(`latency ${text}: the maximum is below the minimum`)
  return { min, max, perLink }
}

/** The q-quantile (0..1) of a latency distribution. */
export function latencyQuantile (latency: Latency, q: number): number {
  return latency.min + q * (latency.max - latency.min)
}

/** Width (ms) and count of the buckets of `Network.transit`. */
export const TRANSIT_STEP = 0.1
const TRANSIT_BUCKETS = 100_000

/** The q-quantile (0..1) of a transit histogram (ms, the upper edge of its bucket). */
export function transitQuantile (counts: ArrayLike<number>, q: number): number {
  let total = 0
  for (let i = 0; i < counts.length; i++) total += counts[i]
  if (total === 0) return NaN
  const rank = Math.ceil(q * total)
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]
    if (seen >= rank) return (i + 1) * TRANSIT_STEP
  }
  return counts.length * TRANSIT_STEP
}

/** A hash of a pair of numbers and a salt, uniform in [0, 1). */
function pairHash (a: number, b: number, salt: number): number {
  let h = Math.imul(a ^ salt, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d)
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b)
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296
}

/** Most nodes a network takes: a directed link's key, from × MAX_NODES + to, stays a small integer. */
export const MAX_NODES = 1 << 15

/**
 * The CPU of one machine that runs every node, as the cluster benchmark
 * does: each message costs its sender and its receiver `perMessage` ms of
 * that node's one thread, on one of `cores` cores, first come first served.
 * A message waits for its sender's turn before it leaves, and for its
 * receiver's before it is handled; the nodes' timers cost nothing.
 */
export class Cpu {
  readonly cores: number
  readonly perMessage: number
  /** CPU ms used so far */
  used = 0
  /** per core, when it is free */
  readonly #free: Float64Array
  /** per node, when its thread is free */
  readonly #busy = new Float64Array(MAX_NODES)

  constructor (cores: number, perMessage: number) {
    if (!(cores >= 1) || !Number.isInteger(cores)) throw new Error(`cores: a whole number of at least 1, not ${cores}`)
    if (!(perMessage >= 0)) throw new Error(`the cost of a message: ms, at least 0, not ${perMessage}`)
    this.cores = cores
    this.perMessage = perMessage
    this.#free = new Float64Array(cores)
  }

  /** Runs one message's work of `node` from `now` at the earliest: when it is done. */
  run (node: number, now: number): number {
    // the core where it starts soonest; of those free by then, the one
    // freed last, so that a core freed sooner is left to work that is ready sooner
    const ready = Math.max(now, this.#busy[node])
    let core = 0
    for (let c = 1; c < this.cores; c++) {
      const a = Math.max(ready, this.#free[c])
      const b = Math.max(ready, this.#free[core])
      if (a < b || (a === b && this.#free[c] > this.#free[core])) core = c
    }
    const start = Math.max(ready, this.#free[core])
    const done = start + this.perMessage
    this.#free[core] = done
    this.#busy[node] = done
    this.used += this.perMessage
    return done
  }
}

/** What the network does with a message at its end: hands it over, or tells the sender it was lost. */
export interface Wires<M> {
  deliver: (from: number, to: number, message: M) => void
  /** the message could not be delivered (`to` was dead, or died on the way); `sentAt` is when it was sent */
  lost: (from: number, to: number, message: M, sentAt: number) => void
}

/**
 * Directed links between nodes numbered 0, 1, 2, ...: each message takes a
 * latency drawn afresh, but arrives no earlier than the one sent before it
 * on the same link. A dead node neither sends nor receives: what is on its
 * way to or from it is lost.
 */
export class Network<M = unknown> {
  readonly clock: Scheduler
  readonly latency: Latency
  readonly random: () => number
  /** messages handed to `send` */
  messages = 0
  /**
   * Delivered messages by time from send to arrival (the link's latency and
   * any wait behind earlier messages), in TRANSIT_STEP ms buckets; the last
   * bucket takes all longer ones.
   */
  readonly transit = new Uint32Array(TRANSIT_BUCKETS)
  wires: Wires<M> | undefined
  /** the machine's CPU, if messages cost CPU time (see Cpu) */
  cpu: Cpu | undefined
  readonly #dead: boolean[] = []
  /** per directed link, the arrival time of its last message */
  readonly #lastArrival = new Map<number, number>()
  #pruneAt = 1 << 16
  readonly #salt: number

  constructor (clock: Scheduler, latency: Latency, random: () => number) {
    this.clock = clock
    this.latency = latency
    this.random = random
    this.#salt = Math.floor(random() * 2 ** 32)
  }

  /** One draw of the one-way latency (of the link between `a` and `b`, if latencies are per link). */
  delay (a?: number, b?: number): number {
    const { min, max, perLink } = this.latency
    if (perLink === true && a !== undefined && b !== undefined) return min + pairHash(a < b ? a : b, a < b ? b : a, this.#salt) * (max - min)
    return min + this.random() * (max - min)
  }

  /** A draw of a round trip between `a` and `b`: two one-way latencies. */
  roundTrip (a: number, b: number): number {
    return this.delay(a, b) + this.delay(b, a)
  }

  alive (node: number): boolean {
    return this.#dead[node] !== true
  }

  kill (node: number): void {
    this.#dead[node] = true
  }

  /**
   * Sends a message: it is delivered at its arrival if both ends are still
   * alive then, else it is lost (a message to a node dead already, at once).
   */
  send (from: number, to: number, message: M): void {
    this.messages++
    const sentAt = this.clock.now
    if (!this.alive(to)) {
      this.wires?.lost(from, to, message, sentAt)
      return
    }
    const key = from * MAX_NODES + to
    const leaves = this.cpu?.run(from, sentAt) ?? sentAt
    let at = leaves + this.delay(from, to)
    const last = this.#lastArrival.get(key)
    if (last !== undefined && last > at) at = last
    this.#lastArrival.set(key, at)
    if (this.#lastArrival.size > this.#pruneAt) this.#prune()
    this.clock.arrive(at, this as Network, from, to, message)
  }

  /** Called by the scheduler when a message arrives; with a CPU, it is handled once the receiver's turn is done. */
  arrived (from: number, to: number, payload: unknown, sentAt: number): void {
    const message = payload as M
    if (this.alive(from) && this.alive(to)) {
      this.transit[Math.min(TRANSIT_BUCKETS - 1, Math.floor((this.clock.now - sentAt) / TRANSIT_STEP))]++
      if (this.cpu !== undefined) {
        this.clock.at(this.cpu.run(to, this.clock.now), () => { this.#handle(from, to, message, sentAt) })
        return
      }
    }
    this.#handle(from, to, message, sentAt)
  }

  // Hands a message over, or tells its sender it was lost (an end died on the way).
  #handle (from: number, to: number, message: M, sentAt: number): void {
    if (this.alive(from) && this.alive(to)) this.wires?.deliver(from, to, message)
    else if (this.alive(from)) this.wires?.lost(from, to, message, sentAt)
  }

  // Links with nothing on the way constrain nothing: forgotten, so that the
  // map holds only the links in use.
  #prune (): void {
    const now = this.clock.now
    for (const [key, at] of this.#lastArrival) if (at <= now) this.#lastArrival.delete(key)
    this.#pruneAt = Math.max(1 << 16, 2 * this.#lastArrival.size)
  }
}
