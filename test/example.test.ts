import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const EXAMPLE = fileURLToPath(new URL('../examples/two-emitters.js', import.meta.url))

test('the reference README example runs: each emitter hears the other once', async () => {
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
    execFile(process.execPath, [EXAMPLE], { env: { ...process.env, PORT: '0' }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err != null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve({ stdout })
    })
  })
  assert.match(stdout, /listening on \/ip4\/127\.0\.0\.1\/tcp\/\d+/)
  assert.is(stdout.match(/userAdded: +\{ id: 1, username: 'user' \}/g)?.length, 1, stdout)
  assert.is(stdout.match(/userRemoved: +\{ id: 1 \}/g)?.length, 1, stdout)
})

test.run()
