import type { Writable } from 'node:stream'

/** How often the bar is redrawn, in ms: often enough to look alive, rarely enough to cost nothing. */
const REDRAW_MS = 100
/** Width of the bar itself, in characters. */
const BAR_WIDTH = 20

/**
 * One status line at the bottom of a terminal (stderr), redrawn in place,
 * showing every running task; messages printed with `line` go above it.
 * When disabled (stderr is not a terminal, or --quiet) it draws nothing and
 * `line` just writes the line.
 */
export class Progress {
  readonly #out: Writable
  readonly #enabled: boolean
  readonly #columns: () => number
  readonly #tasks = new Map<string, (tick: number) => string>()
  #timer: ReturnType<typeof setInterval> | undefined
  #shown = false
  #tick = 0

  constructor (out: Writable, enabled: boolean, columns: () => number = () => 80) {
    this.#out = out
    this.#enabled = enabled
    this.#columns = columns
  }

  get enabled (): boolean {
    return this.#enabled
  }

  /** Shows a task; `render` is called at every redraw. */
  set (key: string, render: (tick: number) => string): void {
    if (!this.#enabled) return
    this.#tasks.set(key, render)
    if (this.#timer == null) {
      this.#timer = setInterval(() => { this.#draw() }, REDRAW_MS)
      this.#timer.unref()
    }
  }

  /** Ends a task; the line is cleared when none is left. */
  delete (key: string): void {
    if (!this.#tasks.delete(key) || this.#tasks.size > 0) return
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#clear()
  }

  /** Writes a message line, keeping the bar below it. */
  line (text: string): void {
    this.#clear()
    this.#out.write(text + '\n')
    if (this.#tasks.size > 0) this.#draw()
  }

  stop (): void {
    for (const key of [...this.#tasks.keys()]) this.delete(key)
  }

  #draw (): void {
    this.#tick++
    const text = [...this.#tasks.values()].map(render => render(this.#tick)).join(' | ')
    this.#out.write('\r' + text.slice(0, Math.max(10, this.#columns() - 1)) + '\x1b[K')
    this.#shown = true
  }

  #clear (): void {
    if (!this.#shown) return
    this.#out.write('\r\x1b[K')
    this.#shown = false
  }
}

/** `12,345` */
export function formatCount (n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** `[#######.............]` for a fraction; a bouncing block when the total is unknown. */
export function formatBar (fraction: number | undefined, tick = 0, width = BAR_WIDTH): string {
  if (fraction == null || !Number.isFinite(fraction)) {
    const span = width - 3
    const at = span <= 0 ? 0 : Math.abs((tick % (2 * span)) - span)
    return '[' + ' '.repeat(at) + '###' + ' '.repeat(Math.max(0, width - 3 - at)) + ']'
  }
  const done = Math.round(Math.min(1, Math.max(0, fraction)) * width)
  return '[' + '#'.repeat(done) + '.'.repeat(width - done) + ']'
}

/** Per second, from a count over `ms` milliseconds. */
export function formatRate (count: number, ms: number): string {
  return formatCount(ms > 0 ? count * 1000 / ms : 0) + '/s'
}

/** The import task: lines read from stdin, and how far through it when its size is known. */
export function importStatus (s: { lines: number, bytes: number, total: number | undefined, ms: number, tick: number }): string {
  const fraction = s.total != null && s.total > 0 ? s.bytes / s.total : undefined
  const percent = fraction != null ? ` ${Math.min(100, Math.floor(fraction * 100))}%` : ''
  return `importing ${formatBar(fraction, s.tick)}${percent} ${formatCount(s.lines)} lines ${formatRate(s.lines, s.ms)}`
}

/** The catch-up task: entries received from a peer until it has sent everything. */
export function catchUpStatus (s: { received: number, length: number, ms: number, tick: number }): string {
  return `catching up ${formatBar(undefined, s.tick)} ${formatCount(s.received)} received, ${formatRate(s.received, s.ms)}, log ${formatCount(s.length)}`
}
