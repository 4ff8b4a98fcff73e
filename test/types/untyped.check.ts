// Compiled, never run, by test/types.test.ts: an emitter without an event
// map takes any name and message, as before event maps, and its listeners
// get plain objects (or the type they ask for).
import { HyperEmitter, type Event, type Listener } from 'hyperemitter'

const emitter = await HyperEmitter.open('./db', '')
await emitter.emit('Hello', { from: 1 })
await emitter.emit(String('any name'), 'anything: checked at run time')
emitter.on('Hello', m => {
  const from: unknown = m.from
  console.log(from)
})
emitter.on<{ value: number }>('Integer', m => { console.log(m.value + 1) })
const listener: Listener = (m, done) => { console.log(m); done() }
emitter.once('Hello', listener)
emitter.off('Hello', listener)
const events: AsyncGenerator<Event> = emitter.events()
for await (const event of events) {
  if (event.unknown !== true) {
    const payload: Record<string, unknown> = event.payload
    console.log(event.name, payload)
  }
}
// @ts-expect-error: a listener's message is not any
emitter.on('Hello', m => { const n: number = m.from; console.log(n) })
