import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('./child-emitter.js', import.meta.url))

/** One JSON line printed by child-emitter.js. */
export interface Line { t: string, [key: string]: unknown }

/** Every child still running: killed when the test process exits. */
export const children = new Set<Child>()
process.on('exit', () => { for (const c of children) c.proc.kill('SIGKILL') })

/** A child-emitter.js process and the complete lines it printed. */
export class Child {
  readonly proc: ChildProcess
  readonly lines: Line[] = []
  /** complete stdout lines that were not JSON */
  readonly junk: string[] = []
  stderr = ''
  exitCode: number | null | undefined
  signal: NodeJS.Signals | null | undefined
  readonly closed: Promise<void>
  #rest = ''
  readonly #waiters = new Set<() => void>()

  constructor (readonly name: string, config: Record<string, unknown>) {
    this.proc = spawn(process.execPath, [CHILD, JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.proc.stdin!.on('error', () => {})
    this.proc.stdout!.setEncoding('utf8')
    this.proc.stdout!.on('data', (d: string) => {
      this.#rest += d
      let nl: number
      while ((nl = this.#rest.indexOf('\n')) >= 0) {
        const text = this.#rest.slice(0, nl)
        this.#rest = this.#rest.slice(nl + 1)
        try {
          this.lines.push(JSON.parse(text) as Line)
        } catch {
          this.junk.push(text)
        }
      }
      this.#wake()
    })
    this.proc.stderr!.on('data', d => { this.stderr += d })
    // 'close': the process is gone and its stdout read to the end; a torn
    // last line (no newline) stays in #rest and is never counted
    this.closed = new Promise(resolve => {
      this.proc.once('close', (code, signal) => { this.exitCode = code; this.signal = signal; this.#wake(); resolve() })
      this.proc.once('error', err => { this.stderr += `\nspawn failed: ${err.message}`; this.exitCode = null; this.#wake(); resolve() })
    })
    children.add(this)
  }

  #wake (): void {
    for (const w of [...this.#waiters]) w()
  }

  get gone (): boolean {
    return this.exitCode !== undefined
  }

  find (t: string, check: (l: Line) => boolean = () => true): Line | undefined {
    return this.lines.find(l => l.t === t && check(l))
  }

  all (t: string, check: (l: Line) => boolean = () => true): Line[] {
    return this.lines.filter(l => l.t === t && check(l))
  }

  /** Resolves once `ready()` holds; rejects if the child fails or exits, or after `ms`. */
  async until (ready: () => boolean, ms: number, what: string): Promise<void> {
    const end = Date.now() + ms
    while (!ready()) {
      if (this.find('error') != null) throw new Error(`${this.name} failed while waiting for ${what}\n${this.transcript}`)
      if (this.gone) throw new Error(`${this.name} exited while waiting for ${what}\n${this.transcript}`)
      if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what} from ${this.name}\n${this.transcript}`)
      await new Promise<void>(resolve => {
        const waiters = this.#waiters
        const timer = setTimeout(done, Math.max(1, end - Date.now()))
        function done (): void { clearTimeout(timer); waiters.delete(done); resolve() }
        waiters.add(done)
      })
    }
  }

  /** Resolves with the first line of type `t` passing `check`. */
  async waitFor (t: string, ms: number, check: (l: Line) => boolean = () => true): Promise<Line> {
    await this.until(() => this.find(t, check) != null, ms, `a ${t} line`)
    return this.find(t, check)!
  }

  send (cmd: Record<string, unknown>): void {
    this.proc.stdin!.write(JSON.stringify(cmd) + '\n')
  }

  async kill (): Promise<void> {
    if (!this.gone) this.proc.kill('SIGKILL')
    await this.closed
    children.delete(this)
  }

  /** Asks it to close its emitter and exit; SIGKILL after `ms`. */
  async stop (ms = 10_000): Promise<void> {
    if (!this.gone) this.send({ cmd: 'close' })
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, ms)
    await this.closed
    clearTimeout(timer)
    children.delete(this)
  }

  get transcript (): string {
    const shown = this.lines.filter(l => l.t !== 'a' && l.t !== 'p' && l.t !== 'event').map(l => JSON.stringify(l)).slice(-30)
    const acks = this.lines.filter(l => l.t === 'a').length
    return `${this.name}: exit ${String(this.exitCode)} signal ${String(this.signal)}, ${acks} acks\n  ${shown.join('\n  ')}` +
      (this.junk.length > 0 ? `\n  junk: ${this.junk.slice(0, 5).join(' | ')}` : '') +
      (this.stderr === '' ? '' : `\n  stderr: ${this.stderr.trim().slice(-3000)}`)
  }
}
