// The example of issue 14, on the reference's test/fixtures/messages.proto:
// compiled, never run, by test/types.test.ts beside ./messages.ts, which it
// writes with `hypem types`. Lines under @ts-expect-error must not compile.
import { HyperEmitter } from 'hyperemitter'
import type { Events } from './messages.js'

const emitter = new HyperEmitter<Events>('./db', '')
// @ts-expect-error: from is a string
await emitter.emit('Hello', { from: 1 })
await emitter.emit('Hello', { from: 'Matteo' })
emitter.on('Hello', m => {
  const from: string = m.from
  // @ts-expect-error: a string is not a number
  const wrong: number = m.from
  console.log(from, wrong)
})
