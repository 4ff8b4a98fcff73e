// Compiled, never run, by test/types.test.ts beside ./legacy.ts, which it
// writes with `hypem types test/types/legacy.proto` (proto2: required fields,
// a closed enum, a group, names that clash with each other and with
// TypeScript's). Lines under @ts-expect-error must not compile.
import { hyperEmitter } from 'hyperemitter'
import { Level, type Events, type Place, type PlaceInput, type PlaceInput_, type string_ } from './legacy.js'

const emitter = hyperEmitter<Events>('./db', '')

await emitter.emit('Reading', { sensor: 's1', place: {}, level: Level.LOW, sample: [{ at: 1 }] })
const place: PlaceInput_ = { name: 'hall' }
await emitter.emit('Place', place)
await emitter.emit('PlaceInput', { x: 1 })
await emitter.emit('string', { class: true })
// @ts-expect-error: a required field left out
await emitter.emit('Reading', { sensor: 's1' })
// @ts-expect-error: a required field cannot be null
await emitter.emit('Reading', { sensor: 's1', place: null })
// @ts-expect-error: a closed enum takes only its values' numbers
await emitter.emit('Reading', { sensor: 's1', place: {}, level: 3 })
// @ts-expect-error: the event PlaceInput is not Place's input
await emitter.emit('Place', { x: 1 })

emitter.on('Reading', reading => {
  // a required message is there; an optional one may be null
  const name: string = reading.place.name
  const last: Place | null = reading.last
  // a closed enum's value is one of its names
  const level: 'LOW' | 'HIGH' = reading.level
  const at: number | undefined = reading.sample[0]?.at
  console.log(name, last, level, at)
})
emitter.on('PlaceInput', (p: PlaceInput) => { console.log(p.x) })
emitter.on('string', (s: string_) => { console.log(s.class) })
