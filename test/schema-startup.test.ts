// An emitter opened on a db whose events its schema cannot decode (protocols/
// README.md §6, README "Schema upgrades"): it refuses to open and names them,
// unless forced; names the schema lacks are unknown events, not a problem;
// the db remembers the schema it was checked against. And hypem's one line
// and --force.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ClassicLevel } from 'classic-level'
import { HyperEmitter, Log, Schema, UndecodableEventsError, type Event } from '../src/index.js'
import { fingerprint } from '../src/schema/descriptor.js'
import { FIXTURES, fixture, tempDir } from './helpers.js'

const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))
const v1 = await fixture('upgrade-v1.proto')
const v2 = await fixture('upgrade-v2.proto')
const incompatible = await fixture('upgrade-incompatible.proto')

const dirs: Array<() => Promise<void>> = []
test.after.each(async () => { for (const cleanup of dirs.splice(0)) await cleanup() })

async function dbPath (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return join(dir.path, 'db')
}

/** A db written by a node on `schema`: `hellos` Hello and `integers` Integer events. */
async function written (schema = v1, hellos = 3, integers = 2): Promise<string> {
  const path = await dbPath()
  const e = await HyperEmitter.open(path, schema)
  for (let i = 0; i < hellos; i++) await e.emit('Hello', { from: `h${i}` })
  for (let i = 0; i < integers; i++) await e.emit('Integer', { value: i })
  await e.close()
  return path
}

async function all (e: HyperEmitter): Promise<Event[]> {
  const out: Event[] = []
  for await (const ev of e.events({ from: 'beginning', live: false })) out.push(ev)
  return out
}

async function length (path: string): Promise<number> {
  const l = await Log.open(new ClassicLevel(path))
  try {
    return l.length
  } finally {
    await l.close()
  }
}

test('a schema that cannot decode events in the db: the open fails with UndecodableEventsError naming them, and the db is untouched', async () => {
  const path = await written()
  const e = new HyperEmitter(path, incompatible)
  const err = await e.ready().then(() => undefined, (err: unknown) => err as Error & { cause?: unknown })
  assert.is(err?.name, 'OpenError')
  const cause = err?.cause
  assert.ok(cause instanceof UndecodableEventsError, String(cause))
  assert.is(cause.code, 'ERR_UNDECODABLE_EVENTS')
  assert.is(cause.name, 'UndecodableEventsError')
  assert.equal(cause.events.map(b => [b.name, b.count, b.first]), [['Hello', 3, 1]])
  assert.match(cause.events[0].reason, /level/)
  assert.match(cause.message, /cannot decode 3 events already in the db: 3 Hello \(first at feed position 1: /)
  assert.is(await e.emit('Integer', { value: 9 }).then(() => 'emitted', (x: Error) => x.name), 'OpenError')
  await e.close()
  assert.is(await length(path), 5, 'nothing written')
  // the schema that wrote them still opens it, and so does a compatible one
  for (const schema of [v1, v2]) {
    const ok = await HyperEmitter.open(path, schema)
    assert.is((await all(ok)).filter(ev => ev.unknown === true).length, 0)
    await ok.close()
  }
})

test('force opens it: readers yield the events it cannot decode as unknown, listeners skip them, new events work', async () => {
  const path = await written()
  const e = await HyperEmitter.open(path, incompatible, { force: true })
  const events = await all(e)
  assert.equal(events.map(ev => [ev.name, ev.unknown === true]), [['Hello', true], ['Hello', true], ['Hello', true], ['Integer', false], ['Integer', false]])
  const first = events[0]
  assert.ok(first.unknown === true && first.payload instanceof Uint8Array)
  assert.equal(new Schema(v1).decode('Hello', first.payload), { from: 'h0', message: '' })
  const heard: unknown[] = []
  e.on('Hello', m => { heard.push(m) })
  await e.emit('Hello', { from: 'new', level: 2 })
  await e.emit('Integer', { value: 7 })
  const last = (await all(e)).slice(-2)
  assert.equal(last.map(ev => ev.payload), [{ from: 'new', message: '', level: 2 }, { value: 7 }])
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(heard, [{ from: 'new', message: '', level: 2 }])
  assert.ok((await e.verify()).ok)
  await e.close()
  // a forced open does not vouch for the log: the next one refuses again
  const again = await HyperEmitter.open(path, incompatible).then(async ok => { await ok.close(); return undefined }, (x: Error) => x.cause)
  assert.ok(again instanceof UndecodableEventsError)
})

test('events of names the schema lacks are no obstacle: they are unknown events, yielded raw with the flag, never given to listeners', async () => {
  const path = await dbPath()
  const up = await HyperEmitter.open(path, v2)
  await up.emit('Farewell', { from: 'up', after: 3 })
  await up.emit('Hello', { from: 'up', mood: 'calm' })
  await up.close()
  const down = await HyperEmitter.open(path, v1)
  const heard: string[] = []
  down.on('Farewell', () => { heard.push('Farewell') })
  down.on('Hello', () => { heard.push('Hello') })
  const events = await all(down)
  assert.equal(events.map(ev => [ev.name, ev.unknown === true]), [['Farewell', true], ['Hello', false]])
  assert.equal(events[1].payload, { from: 'up', message: '' })
  const streamed: unknown[] = []
  for await (const item of down.stream({ from: 'beginning', live: false })) streamed.push(item)
  assert.equal(streamed.map(s => Object.keys(s as object)), [['name', 'payload', 'unknown'], ['name', 'payload']])
  assert.ok((await down.verify()).ok)
  assert.equal(heard, [])
  await down.close()
})

test('the db remembers the schema it was checked against and up to where: an open checks only what came after, when the record names its schema and the log', async () => {
  const path = await written()
  const e = await HyperEmitter.open(path, v1)
  const ids = (await e.log.read(1, 5)).map(le => Buffer.from(le.id).toString('hex'))
  await e.close()
  const label = `descriptor:${Buffer.from(fingerprint(new Schema(incompatible).descriptor)).toString('hex')}`
  const record = async (value?: { schema: string, length: number, id: string }): Promise<{ schema: string, length: number, id: string } | undefined> => {
    const db = new ClassicLevel(path)
    const records = db.sublevel<string, { schema: string, length: number, id: string }>('schema', { valueEncoding: 'json' })
    try {
      if (value != null) await records.put('checked', value)
      return await records.get('checked')
    } finally {
      await db.close()
    }
  }
  const saved = await record()
  assert.equal(saved, { schema: `descriptor:${Buffer.from(fingerprint(new Schema(v1).descriptor)).toString('hex')}`, length: 5, id: ids[4] })
  const opens = async (): Promise<boolean> => {
    try {
      await (await HyperEmitter.open(path, incompatible)).close()
      return true
    } catch (err) {
      assert.ok((err as Error).cause instanceof UndecodableEventsError)
      return false
    }
  }
  // the Hellos are at 1-3: a record up to 3 leaves the Integers to check
  await record({ schema: label, length: 3, id: ids[2] })
  assert.ok(await opens(), 'checked from 4 on')
  for (const [what, bad] of [
    ['another id at the position', { schema: label, length: 3, id: ids[1] }],
    ['a position past the log', { schema: label, length: 6, id: ids[4] }],
    ['another schema', { schema: saved!.schema, length: 3, id: ids[2] }]
  ] as const) {
    await record(bad)
    assert.not.ok(await opens(), `${what}: checked in full`)
  }
})

/** Runs hypem to its end. */
async function hypem (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr }
}

test('hypem: one line naming what the schema cannot decode, exit 1; --force starts, and prints those events as unknown', async () => {
  const path = await written(v1, 2, 1)
  const schema = join(FIXTURES, 'upgrade-incompatible.proto')
  const refused = await hypem(['--no-repl', '--db', path, schema])
  assert.is(refused.code, 1, refused.stderr)
  assert.is(refused.stdout, '')
  assert.is(refused.stderr.split('\n').filter(Boolean).length, 1, refused.stderr)
  assert.match(refused.stderr, /^hypem: \S*upgrade-incompatible\.proto cannot decode 2 events already in the db \S+: 2 Hello \(the first at feed position 1: [^)]*level[^)]*\); --force starts anyway\n$/)
  const forced = await hypem(['--no-repl', '--force', '--from-scratch', '--db', path, schema])
  assert.is(forced.code, 0, forced.stderr)
  const lines = forced.stdout.split('\n').filter(Boolean).map(l => JSON.parse(l) as { name: string, payload: unknown, unknown?: boolean })
  assert.equal(lines.map(l => [l.name, l.unknown ?? false]), [['Hello', true], ['Hello', true], ['Integer', false]])
  assert.is(typeof lines[0].payload, 'string', 'the raw payload, in base64')
  assert.equal(new Schema(v1).decode('Hello', Buffer.from(lines[0].payload as string, 'base64')), { from: 'h0', message: '' })
})

test.run()
