// Compiled, never run, by test/types.test.ts beside ./shop.ts, which it
// writes with `hypem types test/types/shop.proto`. Every line must compile
// but those under @ts-expect-error, which must not (tsc says so when one
// compiles). Each of those has one mistake.
import { HyperEmitter, type AnyHyperEmitter, type AnyLevel, type Event } from 'hyperemitter'
import { serveUI } from 'hyperemitter/ui'
import { OrderPlaced_Channel, Payment, type Events, type OrderPlaced, type OrderPlacedInput } from './shop.js'

declare const db: AnyLevel
declare const schema: string
const emitter = new HyperEmitter<Events>(db, schema)

// emit: every kind of field, by the short and by the full name
await emitter.emit('OrderPlaced', {
  id: 'o1',
  lines: [{ sku: 'a', quantity: 2, price: { currency: 'EUR', cents: 250 } }],
  total: { currency: 'EUR', cents: { low: 500, high: 0 } },
  payment: Payment.CARD,
  channel: OrderPlaced_Channel.STORE,
  labels: { source: 'web' },
  refunds: { 1: { cents: 1 } },
  note: 'ring twice',
  email: 'a@example.com',
  signature: new Uint8Array([1, 2]),
  weight: 1.5,
  gift: false,
  tried: [Payment.CASH, 7],
  offset: -3,
  flags: 0
})
await emitter.emit('shop.OrderPlaced', { id: 'o2', signature: 'aGk=', note: null, total: null })
await emitter.emit('OrderShipped', {})
await emitter.emit('Ping', {})
await emitter.emit('EventPeer', { id: 'x', addresses: [{ ip: '127.0.0.1', port: 1 }] })
const input: OrderPlacedInput = { id: 'o3' }
await emitter.emit('OrderPlaced', input, (err, emitted) => { console.log(err, emitted?.id) })

// @ts-expect-error: an event the schema lacks
await emitter.emit('OrderCancelled', {})
// @ts-expect-error: a field of the wrong type
await emitter.emit('OrderPlaced', { id: 1 })
// @ts-expect-error: a field the message lacks
await emitter.emit('OrderPlaced', { id: 'o4', customer: 'a' })
// @ts-expect-error: emit takes an enum's number, not its name
await emitter.emit('OrderPlaced', { payment: 'CARD' })
// @ts-expect-error: a 64-bit integer is a number or a Long, not a string
await emitter.emit('OrderPlaced', { offset: '5' })
// @ts-expect-error: a nested message's field of the wrong type
await emitter.emit('OrderPlaced', { lines: [{ quantity: 'two' }] })
// @ts-expect-error: a message that has no fields takes none
await emitter.emit('Ping', { at: 1 })
// @ts-expect-error: a field of another event
await emitter.emit('OrderShipped', { id: 'o1', lines: [] })
// @ts-expect-error: a name that is not one of the events
await emitter.emit(String('OrderPlaced'), {})

// listeners get the output types
emitter.on('OrderPlaced', (order, done) => {
  const id: string = order.id
  const total: number | undefined = order.total?.cents
  const payment: 'PAYMENT_UNKNOWN' | 'CARD' | 'CASH' | number = order.payment
  const note: string | undefined = order.note
  const sku: string | undefined = order.lines[0]?.sku
  const refund: number | undefined = order.refunds['1']?.cents
  const signature: Uint8Array = order.signature
  console.log(id, total, payment, note, sku, refund, signature)
  // @ts-expect-error: an unset message is null
  console.log(order.total.cents)
  // @ts-expect-error: a field the message lacks
  console.log(order.customer)
  done()
})
emitter.once('shop.OrderShipped', async shipped => {
  const parcels: string[] = shipped.parcels
  const channel: OrderPlaced_Channel = shipped.channel
  console.log(parcels, channel)
})
const listener = (order: OrderPlaced): void => { console.log(order.id) }
emitter.on('OrderPlaced', listener)
emitter.off('OrderPlaced', listener)
emitter.removeListener('OrderPlaced', listener)
emitter.addListener('OrderPlaced', listener)
// @ts-expect-error: a listener of another event
emitter.on('OrderShipped', listener)
// @ts-expect-error: an event the schema lacks
emitter.on('OrderCancelled', () => {})
// @ts-expect-error: a field the message lacks
emitter.on('Ping', ping => { console.log(ping.at) })
console.log(emitter.listenerCount('OrderPlaced'))

// readers: the name tells the payload's type once `unknown` is ruled out
for await (const event of emitter.events({ from: 'beginning', live: false })) {
  if (event.unknown === true) {
    const bytes: Uint8Array = event.payload
    console.log(bytes)
  } else if (event.name === 'OrderPlaced' || event.name === 'shop.OrderPlaced') {
    const order: OrderPlaced = event.payload
    const plain: Record<string, unknown> = order
    console.log(plain)
  } else if (event.name === 'OrderShipped') {
    console.log(event.payload.parcels)
    // @ts-expect-error: an OrderShipped has no lines
    console.log(event.payload.lines)
  }
}

// open() and the factory type it the same way
const opened = await HyperEmitter.open<Events>(db, schema)
await opened.emit('Ping', {})
// @ts-expect-error: an event the schema lacks
await opened.emit('Pong', {})

// a typed emitter goes where any emitter is expected, not where an untyped one is
const any: AnyHyperEmitter = emitter
const events: AsyncGenerator<Event> = emitter.events()
await any.emit('anything', { at: 'all' })
await serveUI(emitter)
// @ts-expect-error: an untyped emitter's listeners may ask for any message type
const plain: HyperEmitter = emitter
console.log(events, plain)
