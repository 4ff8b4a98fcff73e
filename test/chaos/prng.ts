// A small seeded PRNG (mulberry32): the chaos run draws every fault from it,
// so that a seed names one sequence of faults.

export class Prng {
  #state: number

  constructor (seed: number) {
    this.#state = (seed >>> 0) ^ 0x9e3779b9
  }

  /** A float in [0, 1). */
  next (): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let t = this.#state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in [0, n). */
  int (n: number): number {
    return Math.floor(this.next() * n)
  }

  /** A whole number of ms in [min, max]. */
  range (min: number, max: number): number {
    return Math.round(min + this.next() * (max - min))
  }

  /** A copy of `list` in random order. */
  shuffle<T> (list: readonly T[]): T[] {
    const out = [...list]
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1)
      ;[out[i], out[j]] = [out[j], out[i]]
    }
    return out
  }

  /** `k` distinct items of `list`. */
  pick<T> (list: readonly T[], k: number): T[] {
    return this.shuffle(list).slice(0, k)
  }
}
