import { fileURLToPath } from 'node:url'
import { LineProcess } from './line-process.js'

const CHILD = fileURLToPath(new URL('./child-emitter.js', import.meta.url))

/** One JSON line printed by child-emitter.js. */
export interface Line { t: string, [key: string]: unknown }

/** Every child started and not yet killed or stopped by the test. */
export const children = new Set<Child>()

/**
 * A child-emitter.js process and the complete lines it printed (a torn last
 * line, cut by a kill, is never counted).
 */
export class Child extends LineProcess<Line> {
  readonly lines: Line[] = []

  constructor (name: string, config: Record<string, unknown>) {
    super(name, process.execPath, [CHILD, JSON.stringify(config)])
    children.add(this)
  }

  protected take (line: Line): void {
    this.lines.push(line)
  }

  get exitCode (): number | null | undefined {
    return this.exit?.code
  }

  get signal (): NodeJS.Signals | null | undefined {
    return this.exit?.signal
  }

  get gone (): boolean {
    return !this.alive
  }

  find (t: string, check: (l: Line) => boolean = () => true): Line | undefined {
    return this.lines.find(l => l.t === t && check(l))
  }

  all (t: string, check: (l: Line) => boolean = () => true): Line[] {
    return this.lines.filter(l => l.t === t && check(l))
  }

  /** Resolves once `ready()` holds; rejects if the child fails or exits, or after `ms`. */
  async until (ready: () => boolean, ms: number, what: string): Promise<void> {
    if (!ready()) await this.#next(() => ready(), ms, what)
  }

  /** Resolves with the first line of type `t` passing `check`. */
  async waitFor (t: string, ms: number, check: (l: Line) => boolean = () => true): Promise<Line> {
    const test = (l: Line): boolean => l.t === t && check(l)
    return this.lines.find(test) ?? await this.#next(test, ms, `a ${t} line`)
  }

  /** The next line that passes `test`; an error line, printed before or meanwhile, fails the wait. */
  async #next (test: (l: Line) => boolean, ms: number, what: string): Promise<Line> {
    if (this.find('error') == null) {
      const line = await this.nextLine(l => l.t === 'error' || test(l), ms, what)
      // after an error line `test` is asked again: the rest of its chunk is read by now
      if (line.t !== 'error' || test(line)) return line
    }
    throw new Error(`${this.name} failed while waiting for ${what}${this.tail()}`)
  }

  async kill (): Promise<void> {
    if (this.alive) this.proc.kill('SIGKILL')
    await this.exited
    children.delete(this)
  }

  override async stop (ms = 10_000): Promise<void> {
    await super.stop(ms)
    children.delete(this)
  }

  override tail (): string {
    return `\n${this.transcript}`
  }

  get transcript (): string {
    const shown = this.lines.filter(l => l.t !== 'a' && l.t !== 'p' && l.t !== 'event').map(l => JSON.stringify(l)).slice(-30)
    const acks = this.lines.filter(l => l.t === 'a').length
    return `${this.name}: exit ${String(this.exitCode)} signal ${String(this.signal)}, ${acks} acks\n  ${shown.join('\n  ')}` +
      (this.junk.length > 0 ? `\n  junk: ${this.junk.slice(0, 5).join(' | ')}` : '') +
      (this.stderr === '' ? '' : `\n  stderr: ${this.stderr.trim().slice(-3000)}`)
  }
}
