// A child process driven over JSON lines: commands on its stdin, one JSON
// object per stdout line back. The test harnesses (child.ts, chaos/proc.ts,
// the mDNS test's children) and the cluster bench (bench/cluster-proc.ts)
// build on it.
import { spawn, type ChildProcess } from 'node:child_process'

/** How much of its stderr is kept: the end is what explains a failure. */
const STDERR_KEEP = 20_000
/** Lines that are not JSON are kept cut to this length. */
const JUNK_KEEP = 200

/** Every process still running: SIGKILLed when this process exits. */
const running = new Set<ChildProcess>()
process.on('exit', killAll)

/** SIGKILLs every process still running. */
export function killAll (): void {
  for (const proc of running) proc.kill('SIGKILL')
}

interface Waiter<L> {
  test: (l: L) => boolean
  resolve: (l: L) => void
  reject: (e: Error) => void
  what: string
}

/** A process that prints JSON lines `{ t, ... }`; subclasses keep what they need of them. */
export abstract class LineProcess<L extends { t: string }> {
  readonly proc: ChildProcess
  /** complete stdout lines that were not JSON */
  readonly junk: string[] = []
  /** the end of its stderr */
  stderr = ''
  exit: { code: number | null, signal: NodeJS.Signals | null, at: number } | undefined
  /** resolves once it is gone and its stdout read to the end */
  readonly exited: Promise<void>
  #rest = ''
  readonly #waiters = new Set<Waiter<L>>()

  constructor (readonly name: string, command: string, args: string[]) {
    this.proc = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    running.add(this.proc)
    this.proc.stdin!.on('error', () => {})
    this.proc.stdout!.setEncoding('utf8')
    this.proc.stdout!.on('data', (chunk: string) => { this.#data(chunk) })
    this.proc.stderr!.setEncoding('utf8')
    this.proc.stderr!.on('data', (d: string) => { this.stderr = (this.stderr + d).slice(-STDERR_KEEP) })
    this.exited = new Promise(resolve => {
      // 'close', not 'exit': stdout is read to its end too (it also follows a failed spawn)
      this.proc.once('close', (code, signal) => {
        if (this.#rest !== '') this.torn(this.#rest)
        this.exit = { code, signal, at: Date.now() }
        running.delete(this.proc)
        for (const w of this.#waiters) w.reject(this.#exitError(w.what))
        this.#waiters.clear()
        resolve()
      })
      this.proc.once('error', err => { this.stderr += `\nspawn failed: ${err.message}` })
    })
  }

  get alive (): boolean {
    return this.exit === undefined
  }

  /** A JSON line it printed, before any waiter sees it. */
  protected abstract take (line: L): void

  /**
   * The last line when it lacks its newline at exit: it died while writing
   * it. Dropped unless a subclass keeps it.
   */
  protected torn (_text: string): void {}

  #data (chunk: string): void {
    const parts = (this.#rest + chunk).split('\n')
    this.#rest = parts.pop()!
    for (const text of parts) {
      if (text === '') continue
      let line: L
      try {
        line = JSON.parse(text) as L
      } catch {
        this.junk.push(text.slice(0, JUNK_KEEP))
        continue
      }
      this.take(line)
      for (const w of [...this.#waiters]) {
        if (w.test(line)) {
          this.#waiters.delete(w)
          w.resolve(line)
        }
      }
    }
  }

  /** The next line that passes `test`, within `ms`; rejects if it exits first. */
  nextLine (test: (l: L) => boolean, ms: number, what: string): Promise<L> {
    if (!this.alive) return Promise.reject(this.#exitError(what))
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(w)
        reject(new Error(`${this.name}: timed out after ${ms} ms waiting for ${what}${this.tail()}`))
      }, ms)
      const w: Waiter<L> = {
        test,
        what,
        resolve: l => { clearTimeout(timer); resolve(l) },
        reject: e => { clearTimeout(timer); reject(e) }
      }
      this.#waiters.add(w)
    })
  }

  #exitError (what: string): Error {
    return new Error(`${this.name} exited (code ${String(this.exit?.code)}, signal ${String(this.exit?.signal)}) while waiting for ${what}${this.tail()}`)
  }

  /** Writes `cmd` as one line on its stdin, if it still reads it. */
  send (cmd: Record<string, unknown>): void {
    if (this.alive && this.proc.stdin!.writable) this.proc.stdin!.write(JSON.stringify(cmd) + '\n')
  }

  /** Asks it to close and exit (the `close` command); SIGKILL after `ms`. */
  async stop (ms = 10_000): Promise<void> {
    if (!this.alive) return
    this.send({ cmd: 'close' })
    const timer = setTimeout(() => { this.proc.kill('SIGKILL') }, ms)
    await this.exited
    clearTimeout(timer)
  }

  /** Its last words, appended to error messages. */
  tail (): string {
    const stderr = this.stderr.trim() === '' ? '' : `\n  stderr: ${this.stderr.trim().slice(-1500)}`
    const junk = this.junk.length === 0 ? '' : `\n  junk: ${this.junk.slice(-3).join(' | ')}`
    return stderr + junk
  }
}
