// Typed events: `hypem types` on the schemas of test/types/ and
// test/fixtures/, then tsc on what it wrote and on the checks of test/types/
// (*.check.ts), which import the generated modules and 'hyperemitter' (the
// declarations built beside this test). Then what the generated types
// promise, checked at run time on an emitter.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { copyFile, readdir, writeFile } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter, InvalidMessageError } from '../src/index.js'
import { parseArgs } from '../src/cli/args.js'
import { FIXTURES, fixture, tempDir, until } from './helpers.js'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const CHECKS = join(ROOT, 'test', 'types')
// the compiled bin and declarations beside this compiled test (dist-*/test -> dist-*/src)
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))
const DECLARATIONS = fileURLToPath(new URL('../src/index.d.ts', import.meta.url))
const UI_DECLARATIONS = fileURLToPath(new URL('../src/ui/index.d.ts', import.meta.url))

const dirs: Array<() => Promise<void>> = []
const emitters: HyperEmitter[] = []
test.after.each(async () => {
  await Promise.all(emitters.splice(0).map(async e => { await e.close() }))
  await Promise.all(dirs.splice(0).map(async cleanup => { await cleanup() }))
})

function hypem (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
    child.on('error', reject)
    child.on('close', code => { resolve({ code, stdout, stderr }) })
  })
}

async function temp (): Promise<string> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return dir.path
}

/** The options of a strict ESM project that has hyperemitter installed. */
function compilerOptions (): ts.CompilerOptions {
  return {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    lib: ['lib.es2024.d.ts'],
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    paths: { hyperemitter: [DECLARATIONS], 'hyperemitter/ui': [UI_DECLARATIONS] }
  }
}

/** tsc's diagnostics for `files`, by file name (base name), formatted. */
function typeCheck (files: string[]): Map<string, ts.Diagnostic[]> {
  const program = ts.createProgram(files, compilerOptions())
  const out = new Map<string, ts.Diagnostic[]>()
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const name = d.file != null ? basename(d.file.fileName) : '(options)'
    out.set(name, [...out.get(name) ?? [], d])
  }
  return out
}

function format (diagnostics: ts.Diagnostic[]): string {
  return ts.formatDiagnostics(diagnostics, { getCanonicalFileName: f => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' })
}

const lineOf = (d: ts.Diagnostic): number => d.file!.getLineAndCharacterOfPosition(d.start!).line + 1

test('hypem types: the generated modules and the checks compile, and the checks\' mistakes do not', async () => {
  const dir = await temp()
  const schemas = [
    ...(await readdir(CHECKS)).filter(f => f.endsWith('.proto')).map(f => join(CHECKS, f)),
    ...(await readdir(FIXTURES)).filter(f => f.endsWith('.proto')).map(f => join(FIXTURES, f))
  ]
  const names = schemas.map(f => basename(f, '.proto'))
  assert.is(new Set(names).size, names.length, 'one module per schema name')
  const generated = await Promise.all(schemas.map(async (schema, i) => {
    const out = await hypem(['types', schema])
    assert.equal({ code: out.code, stderr: out.stderr }, { code: 0, stderr: '' }, schema)
    const file = join(dir, `${names[i]}.ts`)
    await writeFile(file, out.stdout)
    return file
  }))
  const checks = await Promise.all((await readdir(CHECKS)).filter(f => f.endsWith('.check.ts')).map(async f => {
    await copyFile(join(CHECKS, f), join(dir, f))
    return join(dir, f)
  }))
  assert.ok(checks.length >= 4, 'the checks are there')
  // the control: a mistake the checks mark, unmarked, must fail, or the
  // harness checks nothing
  const mistake = join(dir, 'mistake.ts')
  await writeFile(mistake, [
    "import { HyperEmitter } from 'hyperemitter'",
    "import type { Events } from './messages.js'",
    "await new HyperEmitter<Events>('./db', '').emit('Hello', { from: 1 })",
    ''
  ].join('\n'))
  await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n')

  const found = typeCheck([...generated, ...checks, mistake])
  const control = found.get('mistake.ts') ?? []
  found.delete('mistake.ts')
  const errors = [...found.values()].flat()
  assert.is(errors.length, 0, `tsc:\n${format(errors)}`)
  assert.equal(control.map(d => [lineOf(d), d.code]), [[3, 2322]], `tsc on the control:\n${format(control)}`)
})

test('parseArgs: types takes one schema', () => {
  assert.equal([parseArgs(['types', 'a.proto']).command, parseArgs(['types', 'a.proto']).schema], ['types', 'a.proto'])
  assert.is(parseArgs(['types', '--schema', 'a.proto']).schema, 'a.proto')
  assert.throws(() => parseArgs(['types']), /types takes a .proto file/)
  assert.throws(() => parseArgs(['types', 'a.proto', 'b.proto']), /one schema file, not 2/)
})

test('hypem types: a schema that cannot be read or parsed exits 2, and prints nothing on stdout', async () => {
  const dir = await temp()
  const bad = join(dir, 'bad.proto')
  await writeFile(bad, 'message Hello { optional strin from = 1; }\n')
  const missing = await hypem(['types', join(dir, 'missing.proto')])
  assert.is(missing.code, 2)
  assert.is(missing.stdout, '')
  assert.match(missing.stderr, /^hypem: cannot read the schema .*missing\.proto: /)
  const broken = await hypem(['types', bad])
  assert.is(broken.code, 2)
  assert.is(broken.stdout, '')
  assert.match(broken.stderr, /^hypem: .*bad\.proto: .*strin/)
  const usage = await hypem(['types'])
  assert.is(usage.code, 2)
  assert.match(usage.stderr, /types takes a .proto file/)
})

test('hypem types: names full and short, as the emitter knows them', async () => {
  const out = await hypem(['types', join(CHECKS, 'shop.proto')])
  assert.match(out.stdout, /^\/\/ Generated by `hypem types` from shop\.proto: do not edit\.\n/)
  const events = /^export type Events = \{\n(.*?\n)\}\n/ms.exec(out.stdout)?.[1] ?? ''
  const names = [...events.matchAll(/^ {2}('[^']+'|\w+):/gm)].map(m => m[1].replaceAll("'", ''))
  const emitter = new HyperEmitter(new MemoryLevel(), await fixture('../types/shop.proto'))
  emitters.push(emitter)
  assert.equal(names.sort(), emitter.schema.names.sort())
})

// What the generated types say of the values, at run time: a change to the
// emitter's encoding or decoding options that breaks one fails here.
test('the generated types\' promises: what emit takes and what listeners get (proto3)', async () => {
  const emitter = new HyperEmitter(new MemoryLevel(), await fixture('../types/shop.proto'))
  emitters.push(emitter)
  const got: Array<Record<string, unknown>> = []
  // listeners of a name get the events emitted under that name
  emitter.on('OrderPlaced', m => { got.push(m) })
  emitter.on('shop.OrderPlaced', m => { got.push(m) })
  await emitter.emit('OrderPlaced', {})
  await emitter.emit('shop.OrderPlaced', {
    total: { cents: { low: 1, high: 1 } },
    payment: 1,
    channel: 9,
    refunds: { 12: { cents: 3 } },
    note: '',
    account: 5,
    signature: 'aGk=',
    tried: [2, 0]
  })
  for (const wrong of [{ payment: 'CARD' }, { offset: '5' }, { email: 'a', account: 1 }, { lines: [null] }]) {
    await emitter.emit('OrderPlaced', wrong).then(() => { assert.unreachable(JSON.stringify(wrong)) }, (err: Error) => { assert.instance(err, InvalidMessageError) })
  }
  // a map's message values are checked for unknown keys as any message is
  const err = await emitter.emit('OrderPlaced', { refunds: { 12: { nope: 1 } } }).then(() => undefined, (err: InvalidMessageError) => err)
  assert.instance(err, InvalidMessageError)
  assert.is(err?.field, 'refunds.12.nope')
  await until(() => got.length === 2)
  const [empty, full] = got
  // unset: defaults, but null for a message and absent for a oneof member and an optional field
  assert.equal(Object.keys(empty).sort(), ['channel', 'flags', 'gift', 'id', 'labels', 'lines', 'offset', 'payment', 'refunds', 'signature', 'total', 'tried', 'weight'])
  assert.is(empty.total, null)
  assert.equal([empty.id, empty.payment, empty.channel, empty.offset, empty.lines, empty.labels], ['', 'PAYMENT_UNKNOWN', 'WEB', 0, [], {}])
  assert.instance(empty.signature, Uint8Array)
  // set: 64-bit integers as numbers, enums by name (an unknown one by number), map keys as text
  assert.equal(full.total, { currency: '', cents: 2 ** 32 + 1 })
  assert.equal([full.payment, full.channel, full.tried, full.note, full.account], ['CARD', 9, ['CASH', 'PAYMENT_UNKNOWN'], '', 5])
  assert.equal(full.refunds, { 12: { currency: '', cents: 3 } })
  assert.equal(Object.keys(full.refunds as object), ['12'])
  assert.equal([...(full.signature as Uint8Array)], [0x68, 0x69])
  assert.not.ok('email' in full)
})

test('the generated types\' promises: what emit takes and what listeners get (proto2)', async () => {
  const emitter = new HyperEmitter(new MemoryLevel(), await fixture('../types/legacy.proto'))
  emitters.push(emitter)
  const got: Array<Record<string, unknown>> = []
  emitter.on('Reading', m => { got.push(m) })
  await emitter.emit('Reading', { sensor: 's', place: {}, sample: [{}] })
  for (const wrong of [{ sensor: 's' }, { sensor: 's', place: null }, { sensor: 's', place: {}, level: 3 }, { sensor: 's', place: {}, level: 'LOW' }]) {
    await emitter.emit('Reading', wrong).then(() => { assert.unreachable(JSON.stringify(wrong)) }, (err: Error) => { assert.instance(err, InvalidMessageError) })
  }
  await until(() => got.length === 1)
  assert.equal(got, [{ sensor: 's', value: 1.5, level: 'HIGH', place: { name: '' }, last: null, sample: [{ at: 0 }] }])
})

test.run()
