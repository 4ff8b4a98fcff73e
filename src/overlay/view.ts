// The two views of HyParView (hyparview.ts) and the random picks from them.

/** A view: an array for random picks and a Set for lookups, kept in step. */
export class View {
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

/** Random picks from views, from an injected source of randomness, so that runs replay. */
export class Picker {
  /** `random`: uniform in [0, 1) */
  constructor (private readonly random: () => number) {}

  /** A random item that passes `keep`, or undefined. */
  pick (items: readonly string[], keep?: (p: string) => boolean): string | undefined {
    const candidates = keep === undefined ? items : items.filter(keep)
    return candidates.length === 0 ? undefined : candidates[this.index(candidates.length)]
  }

  /** Up to `k` random items that pass `keep`. */
  sample (items: readonly string[], k: number, keep?: (p: string) => boolean): string[] {
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

  private index (n: number): number {
    return Math.min(n - 1, Math.floor(this.random() * n))
  }
}
