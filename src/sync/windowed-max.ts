// The largest sample of the last `window` ms, in constant space: the window
// is cut into SLOTS slots of equal length, each keeping its largest sample,
// so that a sample counts for at least `window` ms and at most one slot more.

const SLOTS = 8

export class WindowedMax {
  readonly #slot: number
  /** per slot number (time / slot length) still in the window, its largest sample, oldest first */
  readonly #slots: Array<{ n: number, max: number }> = []

  constructor (window: number) {
    this.#slot = Math.max(1, window / SLOTS)
  }

  /** The largest sample of the window before `now`, or undefined if none. */
  get (now: number): number | undefined {
    this.#expire(now)
    let max: number | undefined
    for (const s of this.#slots) if (max === undefined || s.max > max) max = s.max
    return max
  }

  /** Takes `value`, sampled at `now` (not before the last sample). */
  add (value: number, now: number): void {
    this.#expire(now)
    const n = Math.floor(now / this.#slot)
    const last = this.#slots[this.#slots.length - 1]
    if (last?.n === n) last.max = Math.max(last.max, value)
    else this.#slots.push({ n, max: value })
  }

  // Slots that ended more than a window before `now` go.
  #expire (now: number): void {
    const oldest = Math.floor(now / this.#slot) - SLOTS
    while (this.#slots.length > 0 && this.#slots[0].n < oldest) this.#slots.shift()
  }
}
