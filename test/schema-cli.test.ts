import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from '../src/cli/args.js'
import { FIXTURES, tempDir } from './helpers.js'

// the compiled bin beside this compiled test: dist-*/test -> dist-*/src/cli/bin.js
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url))

const dirs: Array<() => Promise<void>> = []
test.after.each(async () => {
  await Promise.all(dirs.splice(0).map(async cleanup => { await cleanup() }))
})

/** Runs `hypem ...args` to its end. */
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

/** Writes each text to its own .proto file in a fresh folder; their paths. */
async function protos (...texts: string[]): Promise<string[]> {
  const dir = await tempDir()
  dirs.push(dir.cleanup)
  return Promise.all(texts.map(async (text, i) => {
    const path = join(dir.path, `v${i + 1}.proto`)
    await writeFile(path, text)
    return path
  }))
}

const V1 = 'syntax = "proto2";\nmessage Hello { optional string from = 1; optional string message = 2; }\n'

test('parseArgs: schema diff takes two files', () => {
  const options = parseArgs(['schema', 'diff', 'a.proto', 'b.proto'])
  assert.is(options.command, 'schema-diff')
  assert.equal(options.diff, ['a.proto', 'b.proto'])
  for (const argv of [['schema'], ['schema', 'diff', 'a.proto'], ['schema', 'diff', 'a', 'b', 'c'], ['schema', 'merge', 'a', 'b']]) {
    assert.throws(() => parseArgs(argv), /schema takes: diff OLD.proto NEW.proto/, argv.join(' '))
  }
})

test('hypem schema diff: identical schemas', async () => {
  const [a, b] = await protos(V1, `// the same\n${V1}`)
  const out = await hypem(['schema', 'diff', a, b])
  assert.equal(out, { code: 0, stdout: 'compatible: no changes\n', stderr: '' })
})

test('hypem schema diff: a compatible change exits 0 and lists the changes', async () => {
  const [a, b] = await protos(V1, 'syntax = "proto2";\nmessage Hello { optional string sender = 1; optional string message = 2; repeated string tags = 3; }\nmessage Bye {}\n')
  const out = await hypem(['schema', 'diff', a, b])
  assert.equal(out, {
    code: 0,
    stdout: [
      'compatible: 3 changes',
      'change Hello.from: field 1 renamed to sender',
      'change Hello.tags: field 3 (string) added',
      'change event Bye added',
      ''
    ].join('\n'),
    stderr: ''
  })
})

test('hypem schema diff: an incompatible change exits 1 and gives the reasons first', async () => {
  const [a, b] = await protos(V1, 'syntax = "proto2";\nmessage Hello { optional int32 from = 1; optional string message = 2; required string id = 3; }\n')
  const out = await hypem(['schema', 'diff', a, b])
  assert.equal(out, {
    code: 1,
    stdout: [
      'incompatible: 2 reasons, 0 changes',
      'reason Hello.from: field 1 changed type from string to int32 (wire type LENGTH_DELIMITED → VARINT)',
      'reason Hello.id: required field 3 (string) added (the side without it never writes it, and the other requires it)',
      ''
    ].join('\n'),
    stderr: ''
  })
})

test('hypem schema diff: the shared fixtures share only EventPeer, so they are compatible', async () => {
  const out = await hypem(['schema', 'diff', join(FIXTURES, 'basic.proto'), join(FIXTURES, 'messages.proto')])
  assert.is(out.code, 0)
  assert.is(out.stdout.split('\n')[0], 'compatible: 4 changes')
})

test('hypem schema diff: bad arguments and unreadable schemas exit 2', async () => {
  const [good, broken] = await protos(V1, 'message Hello { optional string from = ; }')
  const usage = await hypem(['schema', 'diff', good])
  assert.is(usage.code, 2)
  assert.match(usage.stderr, /^hypem: schema takes: diff OLD.proto NEW.proto\n/)
  const missing = await hypem(['schema', 'diff', good, `${good}.gone`])
  assert.equal(missing, { code: 2, stdout: '', stderr: `hypem: cannot read the schema ${good}.gone: no such file\n` })
  const bad = await hypem(['schema', 'diff', broken, good])
  assert.is(bad.code, 2)
  assert.is(bad.stdout, '')
  assert.match(bad.stderr, new RegExp(`^hypem: ${broken}: SchemaError: cannot parse schema: `))
})

test.run()
