import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createServer } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { Writable } from 'node:stream'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs, UsageError, type CliOptions } from '../src/cli/args.js'
import { toJsonLine, parseJsonLine, formatEvent, LineError } from '../src/cli/format.js'
import { formatBar, formatCount, importStatus, Progress } from '../src/cli/progress.js'
import { formatMetrics } from '../src/cli/metrics.js'
import { FIXTURES, flipStoredByte, tempDir, until } from './helpers.js'

// the compiled bin beside this compiled test: dist-*/test -> dist-*/src/cli/bin.js
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))
const SCHEMA = join(FIXTURES, 'messages.proto')
/** Longest wait for one process step; the whole file stays well under a minute. */
const STEP_MS = 15_000

const dirs: Array<() => Promise<void>> = []
const running = new Set<Hypem>()

test.after.each(async () => {
  await Promise.all([...running].map(async h => { await h.kill() }))
  await Promise.all(dirs.splice(0).map(async cleanup => { await cleanup() }))
})

async function temp (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return dir.path
}

/** One hypem process, its output collected as it comes. */
class Hypem {
  readonly child: ChildProcessWithoutNullStreams
  stdout = ''
  stderr = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>

  constructor (args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stdout.setEncoding('utf8').on('data', (d: string) => { this.stdout += d })
    this.child.stderr.setEncoding('utf8').on('data', (d: string) => { this.stderr += d })
    // a child that exits early must not crash the test with EPIPE
    this.child.stdin.on('error', () => {})
    running.add(this)
    this.exited = new Promise(resolve => {
      this.child.on('close', (code, signal) => {
        running.delete(this)
        resolve({ code, signal })
      })
    })
  }

  /** Resolves with the first match of `re` in stdout (or stderr). */
  async waitFor (re: RegExp, where: 'stdout' | 'stderr' = 'stdout', ms = STEP_MS): Promise<RegExpExecArray> {
    let match: RegExpExecArray | null = null
    try {
      await until(() => (match = re.exec(this[where])) != null, ms, `${re} on ${where}`)
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`, { cause: err })
    }
    return match!
  }

  /** The port from its `listening on PORT HOST` line. */
  async port (where: 'stdout' | 'stderr' = 'stdout'): Promise<number> {
    return Number((await this.waitFor(/listening on (\d+) /, where))[1])
  }

  send (text: string): void {
    this.child.stdin.write(text)
  }

  end (text = ''): void {
    this.child.stdin.end(text)
  }

  /** Waits for the exit; fails the test if it takes longer than `ms`. */
  async exit (ms = STEP_MS): Promise<number | null> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => { reject(new Error(`hypem did not exit in ${ms} ms\n--- stdout:\n${this.stdout}\n--- stderr:\n${this.stderr}`)) }, ms)
    })
    try {
      const { code, signal } = await Promise.race([this.exited, timeout])
      return code ?? (signal != null ? -1 : null)
    } finally {
      clearTimeout(timer)
    }
  }

  async kill (): Promise<void> {
    if (this.child.exitCode != null || this.child.signalCode != null) return
    this.child.kill('SIGKILL')
    await this.exited
  }
}

/** Runs hypem to its end with `input` on stdin. */
async function hypem (args: string[], input = ''): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const h = new Hypem(args)
  h.end(input)
  const code = await h.exit()
  return { code, stdout: h.stdout, stderr: h.stderr }
}

function ndjson (events: Array<{ name: string, payload: Record<string, unknown> }>): string {
  return events.map(e => JSON.stringify(e) + '\n').join('')
}

function parsed (stdout: string): Array<{ name: string, payload: Record<string, unknown> }> {
  return stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { name: string, payload: Record<string, unknown> })
}

function hello (from: string): { name: string, payload: Record<string, unknown> } {
  return { name: 'Hello', payload: { from, message: '' } }
}

/** Asserts one `hypem: ...` line on stderr, no stack trace, and a failing status. */
function assertOneError (r: { code: number | null, stderr: string }, re: RegExp): void {
  const lines = r.stderr.split('\n').filter(l => l !== '')
  assert.is(lines.length, 1, `one line on stderr, got:\n${r.stderr}`)
  assert.match(lines[0], /^hypem: /)
  assert.match(lines[0], re)
  assert.not.match(r.stderr, /^\s+at /m, 'no stack trace')
  assert.is.not(r.code, 0)
}

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

test('the reference session: a REPL listens, a REPL connects and sees the Hello, an ndjson reader gets it all', async () => {
  const dir = await temp()
  const one = new Hypem(['--repl', '--db', join(dir, 'A'), '--port', '0', SCHEMA])
  const port = await one.port()
  await one.waitFor(/EventPeer \{/)

  const two = new Hypem(['--repl', '--db', join(dir, 'B'), '--target-port', String(port), SCHEMA])
  await two.waitFor(new RegExp(`connected to 127\\.0\\.0\\.1 ${port}`))
  await two.waitFor(/EventPeer \{/)

  one.send("hyper.emit('Hello', { from: 'Matteo' })\n")
  await one.waitFor(/Hello \{ from: 'Matteo', message: '' \}/)
  await two.waitFor(/Hello \{ from: 'Matteo', message: '' \}/)

  const three = new Hypem(['--no-repl', '--db', join(dir, 'C'), '--target-port', String(port), '--from-scratch', SCHEMA])
  three.end()
  await three.waitFor(/"name":"Hello"/)
  const lines = parsed(three.stdout)
  assert.is(lines.length, 2)
  assert.is(lines[0].name, 'EventPeer')
  assert.equal((lines[0].payload.addresses as unknown[])[0], { ip: '127.0.0.1', port })
  assert.equal(lines[1], hello('Matteo'))
  assert.match(three.stderr, /connected to 127\.0\.0\.1/)
  // connected, it keeps running after stdin ended, until a signal
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.is(three.child.exitCode, null, 'a connected reader keeps running')
  three.child.kill('SIGTERM')
  assert.is(await three.exit(), 0)

  // closing a REPL's stdin closes it cleanly
  two.end()
  one.end()
  assert.is(await two.exit(), 0)
  assert.is(await one.exit(), 0)
})

test('ndjson piped in is stored and echoed, then served to a peer', async () => {
  const dir = await temp()
  const db = join(dir, 'X')
  const events = [hello('a'), { name: 'Integer', payload: { value: 1 } }, hello('b'), { name: 'Integer', payload: { value: 2 } }]
  const first = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson(events))
  assert.is(first.code, 0, first.stderr)
  assert.equal(parsed(first.stdout), events)
  assert.is(first.stderr, '')

  const again = await hypem(['--no-repl', '--db', db, '--from-scratch', SCHEMA])
  assert.equal(parsed(again.stdout), events)

  const server = new Hypem(['--no-repl', '--db', db, '--port', '0', SCHEMA])
  server.end()
  const port = await server.port('stderr')
  const reader = new Hypem(['--no-repl', '--connect', `/ip4/127.0.0.1/tcp/${port}`, SCHEMA])
  reader.end()
  await until(() => parsed(reader.stdout).length === events.length + 1, STEP_MS, 'the events at the peer')
  assert.equal(parsed(reader.stdout).filter(e => e.name !== 'EventPeer'), events)
  assert.match(reader.stderr, /no --db/)
  assert.match(reader.stderr, new RegExp(`^connected to /ip4/127\\.0\\.0\\.1/tcp/${port}$`, 'm'))
  reader.child.kill('SIGINT')
  server.child.kill('SIGTERM')
  assert.is(await reader.exit(), 0)
  assert.is(await server.exit(), 0)
})

test('a run with --db resumes where the last one stopped; --from-scratch starts over', async () => {
  const db = join(await temp(), 'D')
  const first = [hello('1'), hello('2'), hello('3')]
  const second = [hello('4'), hello('5')]
  const r1 = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson(first))
  assert.equal(parsed(r1.stdout), first)
  const r2 = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson(second))
  assert.equal(parsed(r2.stdout), second)
  const r3 = await hypem(['--no-repl', '--db', db, SCHEMA])
  assert.equal(parsed(r3.stdout), [])
  const r4 = await hypem(['--no-repl', '--db', db, '--from-scratch', SCHEMA])
  assert.equal(parsed(r4.stdout), [...first, ...second])
  for (const r of [r1, r2, r3, r4]) assert.is(r.code, 0, r.stderr)
})

test('a reader stopped by a signal resumes after the last line it wrote', async () => {
  const dir = await temp()
  const db = join(dir, 'S')
  await hypem(['--no-repl', '--db', db, SCHEMA], ndjson([hello('1'), hello('2')]))
  // listening keeps it running; its own EventPeer is the third event
  const live = new Hypem(['--no-repl', '--db', db, '--from-scratch', '--port', '0', SCHEMA])
  await until(() => parsed(live.stdout).length === 3, STEP_MS, 'three lines')
  live.send(JSON.stringify(hello('3')) + '\n')
  await until(() => parsed(live.stdout).length === 4, STEP_MS, 'four lines')
  live.child.kill('SIGTERM')
  assert.is(await live.exit(), 0)
  const next = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson([hello('4')]))
  assert.equal(parsed(next.stdout), [hello('4')])
})

test('bad lines are reported by number and skipped; the good ones go in', async () => {
  const db = join(await temp(), 'B')
  const input = [
    JSON.stringify(hello('before')),
    '{ not json',
    JSON.stringify({ name: 'Nope', payload: {} }),
    JSON.stringify({ name: 'Integer', payload: { value: 'one' } }),
    JSON.stringify({ name: 'Hello', payload: { from: 'x', extra: 1 } }),
    '[1, 2]',
    '',
    JSON.stringify(hello('after'))
  ].join('\n') + '\n'
  const r = await hypem(['--no-repl', '--db', db, SCHEMA], input)
  assert.is(r.code, 3)
  assert.match(r.stderr, /^hypem: line 2: not JSON/m)
  assert.match(r.stderr, /^hypem: line 3: UnknownEventError: /m)
  assert.match(r.stderr, /^hypem: line 4: InvalidMessageError: /m)
  assert.match(r.stderr, /^hypem: line 5: InvalidMessageError: .*extra/m)
  assert.match(r.stderr, /^hypem: line 6: /m)
  assert.not.match(r.stderr, /line (1|7|8):/)
  assert.match(r.stderr, /5 of 8 input lines skipped/)
  assert.not.match(r.stderr, /^\s+at /m)
  assert.equal(parsed(r.stdout), [hello('before'), hello('after')])
  const stored = await hypem(['--no-repl', '--db', db, '--from-scratch', SCHEMA])
  assert.equal(parsed(stored.stdout), [hello('before'), hello('after')])
})

test('--name and --author print only those events, each filter resuming on a cursor of its own', async () => {
  const db = join(await temp(), 'N')
  const integer = (value: number): { name: string, payload: Record<string, unknown> } => ({ name: 'Integer', payload: { value } })
  const input = [hello('1'), integer(1), integer(2), hello('2'), integer(3)]
  const all = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson(input))
  assert.equal(parsed(all.stdout), input)
  const hellos = await hypem(['--no-repl', '--db', db, '--name', 'Hello', SCHEMA])
  assert.equal(parsed(hellos.stdout), [hello('1'), hello('2')])
  // its cursor: nothing new for Hello, the events stored meanwhile for Integer
  const more = await hypem(['--no-repl', '--db', db, '--name', 'Hello', SCHEMA], ndjson([integer(4), hello('3'), integer(5)]))
  assert.equal(parsed(more.stdout), [hello('3')])
  const integers = await hypem(['--no-repl', '--db', db, '--name', 'Integer', '--name', 'Nope', SCHEMA])
  assert.equal(parsed(integers.stdout), [1, 2, 3, 4, 5].map(integer))
  const both = await hypem(['--no-repl', '--db', db, '--from-scratch', '--name', 'Hello', '--name', 'Integer', SCHEMA])
  assert.equal(parsed(both.stdout), [...input, integer(4), hello('3'), integer(5)])
  // nobody wrote these
  const stranger = await hypem(['--no-repl', '--db', db, '--from-scratch', '--author', 'ab'.repeat(32), SCHEMA])
  assert.equal(parsed(stranger.stdout), [])
  // the unfiltered cursor did not move with the filtered runs: the lines of the run that had --name come now
  const rest = await hypem(['--no-repl', '--db', db, SCHEMA])
  assert.equal(parsed(rest.stdout), [integer(4), hello('3'), integer(5)])
  for (const r of [all, hellos, more, integers, both, stranger, rest]) assert.is(r.code, 0, r.stderr)
})

test('an input line\'s "key" is its emit\'s idempotency key: a line imported twice is stored once', async () => {
  const db = join(await temp(), 'K')
  const keyed = (from: string, key: string): string => JSON.stringify({ ...hello(from), key }) + '\n'
  const input = keyed('1', 'a') + keyed('2', 'b') + keyed('1 again', 'a') + JSON.stringify(hello('no key')) + '\n'
  const first = await hypem(['--no-repl', '--db', db, SCHEMA], input)
  assert.is(first.code, 0, first.stderr)
  assert.equal(parsed(first.stdout), [hello('1'), hello('2'), hello('no key')])
  // the same file again, as a producer retrying after a crash would
  const again = await hypem(['--no-repl', '--db', db, SCHEMA], input)
  assert.is(again.code, 0, again.stderr)
  assert.equal(parsed(again.stdout), [hello('no key')])
  const bad = await hypem(['--no-repl', '--db', db, SCHEMA], JSON.stringify({ ...hello('x'), key: 5 }) + '\n')
  assert.is(bad.code, 3)
  assert.match(bad.stderr, /^hypem: line 1: "key" must be a string/m)
})

test('bytes fields travel as base64, and come back in', async () => {
  const dir = await temp()
  const schema = join(dir, 'blob.proto')
  await writeFile(schema, 'message Blob { optional bytes data = 1; optional int64 big = 2; }\n')
  const line = { name: 'Blob', payload: { data: Buffer.from('hello').toString('base64'), big: 9007199254740991 } }
  const r = await hypem(['--no-repl', '--quiet', schema], ndjson([line]))
  assert.is(r.code, 0, r.stderr)
  assert.is(r.stderr, '', '--quiet hides the in-memory notice')
  assert.equal(parsed(r.stdout), [line])
})

test('failures to start: one hypem: line on stderr, no stack trace, a failing status', async () => {
  const dir = await temp()
  assertOneError(await hypem(['--no-repl', join(dir, 'missing.proto')]), /cannot read the schema .*missing\.proto: no such file/)
  const bad = join(dir, 'bad.proto')
  await writeFile(bad, 'message Broken {\n  optional string = 1;\n')
  assertOneError(await hypem(['--no-repl', bad]), /bad\.proto: SchemaError: /)

  const db = join(dir, 'L')
  const holder = new Hypem(['--no-repl', '--db', db, '--port', '0', SCHEMA])
  const port = await holder.port('stderr')
  assertOneError(await hypem(['--no-repl', '--db', db, SCHEMA]), /cannot open the db .*another hypem/)
  assertOneError(await hypem(['--no-repl', '--db', join(dir, 'M'), '--port', String(port), SCHEMA]), /cannot listen on 127\.0\.0\.1:\d+: the address is in use/)
  assertOneError(await hypem(['--no-repl', '--db', join(dir, 'N'), '--metrics-port', String(port), SCHEMA]), /cannot serve metrics .*in use/)
  holder.end()
  holder.child.kill('SIGTERM')
  assert.is(await holder.exit(), 0)
})

test('hypem compact applies a retention policy offline; verify passes after it', async () => {
  const dir = await temp()
  const db = join(dir, 'db')
  const stored = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson(Array.from({ length: 10 }, (_, i) => hello(`n${i}`))))
  assert.is(stored.code, 0, stored.stderr)
  const res = await hypem(['compact', '--db', db, '--retain-events', '4'])
  assert.is(res.code, 0, res.stderr)
  assert.match(res.stderr, /^dropped 6 entries: the log keeps positions 7 to 10 \(4 entries\)/)
  const ok = await hypem(['verify', '--db', db])
  assert.is(ok.code, 0, ok.stderr)
  assert.match(ok.stderr, /^ok: 4 entries by 1 authors, 0 problems/)
  // a run from scratch prints what is kept
  const out = await hypem(['--no-repl', '--from-scratch', '--db', db, SCHEMA], '')
  assert.is(out.code, 0, out.stderr)
  assert.is(out.stdout.trim().split('\n').length, 4)
})

test('hypem verify checks a log offline and prints what is wrong', async () => {
  const dir = await temp()
  const db = join(dir, 'db')
  const stored = await hypem(['--no-repl', '--db', db, SCHEMA], ndjson([hello('a'), hello('b'), hello('c')]))
  assert.is(stored.code, 0, stored.stderr)
  const ok = await hypem(['verify', '--db', db])
  assert.is(ok.code, 0, ok.stderr)
  assert.match(ok.stderr, /^ok: 3 entries by 1 authors, 0 problems/)
  // flip a byte of the second entry in place
  await flipStoredByte(db, 2)
  const bad = await hypem(['verify', '--db', db])
  assert.is(bad.code, 4)
  assert.match(bad.stdout, /^entry 2 [0-9a-f]+: id does not match the entry bytes$/m)
  const missing = await hypem(['verify', '--db', join(dir, 'nothing')])
  assert.is(missing.code, 1)
  assert.match(missing.stderr, /^hypem: cannot open the db/)
})

test('--gen-psk writes a key; --psk keeps nodes without it out', async () => {
  const key = join(await temp(), 'swarm.key')
  const gen = await hypem(['--gen-psk', key])
  assert.is(gen.code, 0, gen.stderr)
  const again = await hypem(['--gen-psk', key])
  assert.is(again.code, 1, 'an existing key is not overwritten')
  const listener = new Hypem(['--no-repl', '--port', '0', '--psk', key, SCHEMA])
  try {
    const port = await listener.port('stderr')
    // a node with the key connects and gets the listener's EventPeer
    const member = new Hypem(['--no-repl', '--quiet', '--psk', key, '--target-port', String(port), SCHEMA])
    await member.waitFor(/"name":"EventPeer"/)
    await member.kill()
    // one without it cannot connect at all
    const outsider = await hypem(['--no-repl', '--target-port', String(port), SCHEMA])
    assert.is(outsider.code, 1)
    assert.match(outsider.stderr, /^hypem: /m)
    assert.not.match(outsider.stderr, /^\s+at /m)
    const badKey = await hypem(['--no-repl', '--psk', SCHEMA, SCHEMA])
    assert.is(badKey.code, 1)
    assert.match(badKey.stderr, /psk/)
  } finally {
    await listener.kill()
  }
})

test('--help and --version', async () => {
  const help = await hypem(['--help'])
  assert.is(help.code, 0)
  assert.match(help.stdout, /^Usage: hypem \[flags\] <schema\.proto>/)
  for (const flag of ['--db', '--port', '--host', '--target-port', '--target-host', '--no-repl', '--from-scratch', '--connect', '--mdns', '--topic', '--quiet', '--repl', '--metrics-port', '--version']) {
    assert.ok(help.stdout.includes(flag), `--help names ${flag}`)
  }
  const version = await hypem(['--version'])
  assert.is(version.code, 0)
  assert.match(version.stdout, /^\d+\.\d+\.\d+\S*\n$/)
  const usage = await hypem(['--nope'])
  assert.is(usage.code, 2)
  assert.match(usage.stderr, /^hypem: unknown flag --nope\n/)
})

const DEFAULTS: CliOptions = {
  schema: 's.proto',
  db: undefined,
  port: undefined,
  host: '127.0.0.1',
  targetPort: undefined,
  targetHost: '127.0.0.1',
  connect: [],
  mdns: false,
  topic: undefined,
  repl: undefined,
  fromScratch: false,
  names: [],
  authors: [],
  quiet: false,
  help: false,
  version: false,
  metricsPort: undefined,
  uiPort: undefined,
  uiHost: '127.0.0.1',
  uiEmit: false,
  psk: undefined,
  genPsk: undefined,
  writers: [],
  activePeers: undefined,
  force: false,
  retention: undefined,
  diff: undefined,
  command: 'run'
}

const ARGS: Array<[string, string[], Partial<CliOptions> | RegExp]> = [
  ['the schema as argument', ['s.proto'], {}],
  ['the schema as --schema', ['--schema', 's.proto'], {}],
  ['the reference listener', ['--db', 'db', '--port', '1234', 's.proto'], { db: 'db', port: 1234 }],
  ['the reference connector', ['--db', 'db2', '--target-port', '1234', 's.proto'], { db: 'db2', targetPort: 1234 }],
  ['hosts', ['--host', '0.0.0.0', '--target-port', '1', '--target-host', '10.0.0.1', 's.proto'], { host: '0.0.0.0', targetPort: 1, targetHost: '10.0.0.1' }],
  ['--no-repl and --from-scratch', ['--no-repl', '--from-scratch', 's.proto'], { repl: false, fromScratch: true }],
  ['--repl', ['--repl', 's.proto'], { repl: true }],
  ['repeated --name and --author', ['--name', 'Hello', '--name=pkg.Integer', '--author', 'ab'.repeat(32), '--author', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', 's.proto'], { names: ['Hello', 'pkg.Integer'], authors: ['ab'.repeat(32), '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN'] }],
  ['an --author that is no peer id', ['--author', 'bob', 's.proto'], /--author must be a peer id/],
  ['an empty --name', ['--name=', 's.proto'], /--name must not be empty/],
  ['verify', ['verify', '--db', 'db'], { command: 'verify', db: 'db', schema: undefined }],
  ['verify needs --db', ['verify'], /verify needs --db/],
  ['compact', ['compact', '--db', 'db', '--retain-events', '100'], { command: 'compact', db: 'db', schema: undefined, retention: { maxEvents: 100 } }],
  ['compact needs a bound', ['compact', '--db', 'db'], /compact needs --retain-events N or --retain-age AGE/],
  ['--retain-age with a unit, --retain-events', ['--retain-age', '10m', '--retain-events', '5', 's.proto'], { retention: { maxEvents: 5, maxAge: 600_000 } }],
  ['--retain-age in ms', ['--retain-age', '1500', 's.proto'], { retention: { maxAge: 1500 } }],
  ['--retain-age that is not a duration', ['--retain-age', '10 minutes', 's.proto'], /--retain-age must be a duration/],
  ['--retain-events 0', ['--retain-events', '0', 's.proto'], /--retain-events must be a whole number of at least 1/],
  ['--gen-psk needs no schema', ['--gen-psk', 'k'], { genPsk: 'k', schema: undefined }],
  ['--psk and --writer', ['--psk', 'k', '--writer', 'a', '--writer', 'b', 's.proto'], { psk: 'k', writers: ['a', 'b'] }],
  ['--active-peers', ['--active-peers', '8', 's.proto'], { activePeers: 8 }],
  ['--force', ['--force', '--db', 'db', 's.proto'], { force: true, db: 'db' }],
  ['--active-peers 0', ['--active-peers', '0', 's.proto'], /--active-peers must be a number from 1 to 100/],
  ['repeated --connect', ['--connect', '/ip4/127.0.0.1/tcp/1', '--connect=/ip4/127.0.0.1/tcp/2', 's.proto'], { connect: ['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'] }],
  ['--mdns listens on every interface', ['--mdns', 's.proto'], { mdns: true, host: '0.0.0.0' }],
  ['--mdns keeps an explicit host', ['--mdns', '--host', '127.0.0.1', 's.proto'], { mdns: true, host: '127.0.0.1' }],
  ['--topic, --quiet, --metrics-port', ['--topic', 'blue', '--quiet', '--metrics-port', '9100', 's.proto'], { topic: 'blue', quiet: true, metricsPort: 9100 }],
  ['port 0', ['--port', '0', 's.proto'], { port: 0 }],
  ['--help needs no schema', ['--help'], { schema: undefined, help: true }],
  ['-v needs no schema', ['-v'], { schema: undefined, version: true }],
  ['no schema', [], /no schema/],
  ['two schemas', ['a.proto', 'b.proto'], /one schema file/],
  ['--schema and an argument', ['--schema', 'a.proto', 'b.proto'], /not both/],
  ['an unknown flag', ['--porty', '1', 's.proto'], /unknown flag --porty/],
  ['a missing value', ['s.proto', '--port'], /--port needs a value/],
  ['a flag as a value', ['--db', '--port', '1', 's.proto'], /--db needs a value/],
  ['a port that is no number', ['--port', '12a', 's.proto'], /--port must be a port number/],
  ['a port too large', ['--target-port', '65536', 's.proto'], /--target-port must be a port number/],
  ['a negative port', ['--port=-1', 's.proto'], /--port must be a port number/],
  ['--repl with --no-repl', ['--repl', '--no-repl', 's.proto'], /contradict/],
  ['--target-host alone', ['--target-host', 'h', 's.proto'], /needs --target-port/],
  ['metrics on port 0', ['--metrics-port', '0', 's.proto'], /fixed port/],
  ['an empty --db', ['--db=', 's.proto'], /--db must not be empty/],
  ['--ui', ['--ui', '8080', 's.proto'], { uiPort: 8080 }],
  ['--ui 0, --ui-host, --ui-emit', ['--ui', '0', '--ui-host', '0.0.0.0', '--ui-emit', 's.proto'], { uiPort: 0, uiHost: '0.0.0.0', uiEmit: true }],
  ['--ui-host alone', ['--ui-host', '0.0.0.0', 's.proto'], /--ui-host needs --ui PORT/],
  ['--ui-emit alone', ['--ui-emit', 's.proto'], /--ui-emit needs --ui PORT/]
]

test('parseArgs: a table of command lines', () => {
  for (const [what, argv, expected] of ARGS) {
    if (expected instanceof RegExp) {
      assert.throws(() => parseArgs(argv), (err: Error) => err instanceof UsageError && expected.test(err.message), what)
    } else {
      assert.equal(parseArgs(argv), { ...DEFAULTS, ...expected }, what)
    }
  }
})

test('ndjson lines, REPL lines and progress text', () => {
  const cases: Array<[string, string]> = [
    [toJsonLine({ name: 'Hello', payload: { from: 'Matteo', message: '' } }), '{"name":"Hello","payload":{"from":"Matteo","message":""}}\n'],
    [toJsonLine({ name: 'Blob', payload: { data: Buffer.from('hi'), raw: new Uint8Array([1, 2]) } }), '{"name":"Blob","payload":{"data":"aGk=","raw":"AQI="}}\n'],
    [toJsonLine({ name: 'Big', payload: { n: 2n ** 64n } }), '{"name":"Big","payload":{"n":"18446744073709551616"}}\n'],
    [formatEvent({ name: 'Hello', payload: { from: 'Matteo', message: '' } }), "Hello { from: 'Matteo', message: '' }"],
    [formatCount(1234567), '1,234,567'],
    [formatBar(0.5, 0, 10), '[#####.....]'],
    [formatBar(2, 0, 4), '[####]'],
    [formatBar(undefined, 0, 5), '[  ###]'],
    [importStatus({ lines: 500, bytes: 25, total: 100, ms: 2000, tick: 0 }), 'importing [#####...............] 25% 500 lines 250/s']
  ]
  for (const [got, expected] of cases) assert.is(got, expected)
  assert.equal(parseJsonLine('{"name":"Hello"}'), { name: 'Hello', payload: {} })
  assert.equal(parseJsonLine('{"name":"Hello","key":"k"}'), { name: 'Hello', payload: {}, key: 'k' })
  for (const bad of ['nope', '[]', '{"payload":{}}', '{"name":"A","payload":[1]}', 'null', '{"name":"A","key":""}', '{"name":"A","key":[]}']) {
    assert.throws(() => parseJsonLine(bad), (err: Error) => err instanceof LineError, bad)
  }
  const text = formatMetrics({ emitted: 1, received: 2, refused: 3, peers: 4, entries: 5, syncLag: 0 })
  assert.match(text, /^# TYPE hyperemitter_events_emitted_total counter\nhyperemitter_events_emitted_total 1$/m)
  assert.match(text, /^hyperemitter_sync_lag 0$/m)
})

test('the progress line is drawn in place, under the messages, and cleared', async () => {
  let out = ''
  const sink = new Writable({ write (chunk, _enc, cb) { out += String(chunk); cb() } })
  const progress = new Progress(sink, true, () => 40)
  try {
    progress.set('task', tick => `working ${tick}`)
    await until(() => out.includes('working 1'), 2000, 'a redraw')
    progress.line('a message')
    progress.delete('task')
  } finally {
    // its redraw timer goes even when the wait fails
    progress.stop()
  }
  assert.ok(out.startsWith('\rworking 1\x1b[K'), 'drawn in place')
  assert.ok(out.includes('\r\x1b[Ka message\n'), 'the message on a cleared line')
  assert.ok(out.endsWith('\r\x1b[K'), 'cleared at the end')
  let quiet = ''
  const off = new Progress(new Writable({ write (chunk, _enc, cb) { quiet += String(chunk); cb() } }), false)
  off.set('task', () => 'never')
  off.line('only this')
  off.delete('task')
  assert.is(quiet, 'only this\n')
})

test('--metrics-port serves Prometheus metrics while hypem runs', async () => {
  const metricsPort = await freePort()
  const h = new Hypem(['--no-repl', '--quiet', '--port', '0', '--metrics-port', String(metricsPort), SCHEMA])
  h.send(JSON.stringify(hello('m')) + '\n')
  await until(() => parsed(h.stdout).length === 2, STEP_MS, 'EventPeer and Hello')
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  const body = await res.text()
  for (const name of ['hyperemitter_events_emitted_total', 'hyperemitter_events_received_total', 'hyperemitter_entries_refused_total', 'hyperemitter_peers', 'hyperemitter_log_entries', 'hyperemitter_sync_lag']) {
    assert.match(body, new RegExp(`^# TYPE ${name} (counter|gauge)$`, 'm'), name)
  }
  assert.match(body, /^hyperemitter_events_emitted_total 2$/m)
  assert.match(body, /^hyperemitter_log_entries 2$/m)
  assert.match(body, /^hyperemitter_peers 0$/m)
  assert.is((await fetch(`http://127.0.0.1:${metricsPort}/other`)).status, 404)
  h.child.kill('SIGTERM')
  assert.is(await h.exit(), 0)
  assert.is(h.stderr, '')
  await fetch(`http://127.0.0.1:${metricsPort}/metrics`).then(() => { assert.unreachable('closed on exit') }, () => {})
})

test.run()
