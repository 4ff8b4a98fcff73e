// src/node/one-write.ts: a Noise connection writes each small message to the
// raw connection as one chunk (its length and ciphertext together), in both
// directions, a large one as Noise made it, and what crosses is what was sent.
import '../src/polyfill.js'
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { ONE_CHUNK_MAX, oneWritePerSend, sendOneChunk } from '../src/node/one-write.js'
import type { ConnectionEncrypter, MessageStream, MultiaddrConnection } from '@libp2p/interface'

type Encrypter = (components: unknown) => ConnectionEncrypter

// The chunk counts of every sendData call the raw connection makes.
function countChunks (conn: MultiaddrConnection): number[] {
  const chunks: number[] = []
  const raw = conn as unknown as { sendData: (data: Uint8ArrayList) => unknown }
  const sendData = raw.sendData.bind(raw)
  raw.sendData = (data: Uint8ArrayList) => {
    chunks.push([...data].length)
    return sendData(data)
  }
  return chunks
}

async function securedPair (encrypter: Encrypter): Promise<{ a: MessageStream, b: MessageStream, chunks: number[][] }> {
  const [outbound, inbound] = multiaddrConnectionPair()
  const chunks = [countChunks(outbound), countChunks(inbound)]
  const make = async (): Promise<ConnectionEncrypter> => encrypter({ privateKey: await generateKeyPair('Ed25519'), logger: defaultLogger() })
  const [ea, eb] = [await make(), await make()]
  const options = { skipStreamMuxerNegotiation: true }
  const [a, b] = await Promise.all([ea.secureOutbound(outbound, options), eb.secureInbound(inbound, options)])
  return { a: a.connection, b: b.connection, chunks }
}

// Sends `messages` from a to b and resolves with what b received, joined.
async function carry (a: MessageStream, b: MessageStream, messages: Uint8Array[]): Promise<Uint8Array> {
  const total = messages.reduce((n, m) => n + m.byteLength, 0)
  const got = new Uint8ArrayList()
  const done = new Promise<void>(resolve => {
    b.addEventListener('message', (evt) => {
      got.append(evt.data)
      if (got.byteLength >= total) resolve()
    })
  })
  for (const m of messages) a.send(m)
  await done
  // a plain copy: one chunk would come back as the Buffer it arrived in
  return Uint8Array.from(got.subarray())
}

test('noise alone writes each message in two chunks (the reason for the wrapper)', async () => {
  const { a, b, chunks } = await securedPair(noise() as Encrypter)
  const sentBefore = chunks[0].length
  await carry(a, b, [Uint8Array.from([1, 2, 3])])
  assert.equal(chunks[0].slice(sentBefore), [2])
})

test('oneWritePerSend: handshake and small messages, both ways, one chunk per send; a large one as it is; bytes intact', async () => {
  const { a, b, chunks } = await securedPair(oneWritePerSend(noise() as Encrypter))
  const small = Uint8Array.from([7, 8, 9])
  const medium = Uint8Array.from({ length: ONE_CHUNK_MAX - 100 }, (_, i) => i % 253)
  assert.equal(await carry(a, b, [small]), small)
  assert.equal(await carry(b, a, [medium]), medium)
  assert.ok(chunks[0].length >= 2 && chunks[1].length >= 2, 'both sides wrote')
  for (const side of chunks) assert.ok(side.every(n => n === 1), `chunks per send: ${side.join(',')}`)
  // 100 KiB spans two Noise messages, four chunks: passed on without a copy
  const big = Uint8Array.from({ length: 100 * 1024 }, (_, i) => i % 251)
  const before = chunks[0].length
  assert.equal(await carry(a, b, [big]), big)
  assert.ok(chunks[0].slice(before).some(n => n > 1), `chunks per send: ${chunks[0].slice(before).join(',')}`)
})

test('sendOneChunk passes a Uint8Array on untouched, joins a small list and passes a large one on', () => {
  const seen: Array<Uint8Array | Uint8ArrayList> = []
  const conn = { send: (data: Uint8Array | Uint8ArrayList) => { seen.push(data); return true } } as unknown as MessageStream
  sendOneChunk(conn)
  const one = Uint8Array.from([1])
  conn.send(one)
  conn.send(new Uint8ArrayList(Uint8Array.from([2]), Uint8Array.from([3, 4])))
  const large = new Uint8ArrayList(new Uint8Array(ONE_CHUNK_MAX), Uint8Array.from([1]))
  conn.send(large)
  assert.is(seen[0], one)
  assert.equal(seen[1], Uint8Array.from([2, 3, 4]))
  assert.is(seen[2], large)
})

test.run()
