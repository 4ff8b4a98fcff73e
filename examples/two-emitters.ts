// - Multiple Connected Emitters
// This example demonstrates connecting multiple emitters together: the
// reference README's example, with promises. Run it with `npm run example`.

import { readFileSync } from 'node:fs'
import { MemoryLevel } from 'memory-level'
import { HyperEmitter } from '../src/index.js'

// use the example-schema.proto as the message schema
const schema = readFileSync(new URL('../../examples/example-schema.proto', import.meta.url), 'utf8')

// two emitters, each with its own level db (any abstract-level db will do),
// sharing the same schema
const emitterOne = new HyperEmitter(new MemoryLevel(), schema)
const emitterTwo = new HyperEmitter(new MemoryLevel(), schema)

// listen on port 9901 (PORT=0 picks a free one) on the loopback interface
const [address] = await emitterOne.listen(Number(process.env.PORT ?? 9901), '127.0.0.1')
console.log('listening on', address.toString())

// connect to the first emitter
await emitterTwo.connect(address)

// messages sent on either emitter are handled on both
emitterOne.on('userRemoved', (msg) => { console.log('userRemoved: ', msg) })
emitterTwo.on('userAdded', (msg) => { console.log('userAdded: ', msg) })

// each message is sent on the opposite emitter
await emitterOne.emit('userAdded', { id: 1, username: 'user' })
await emitterTwo.emit('userRemoved', { id: 1 })

// wait 500 ms to see that each message is delivered once, then close
await new Promise(resolve => setTimeout(resolve, 500))
await Promise.all([emitterOne.close(), emitterTwo.close()])
