// Signing: libsodium where it loads, node:crypto otherwise. Ed25519 is
// deterministic, so the two must give the same bytes, which every node
// checks with the same rule (node:crypto).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { Identity, SIGNATURE_LENGTH, useSodium, verifySignature } from '../src/log/identity.js'

test.after.each(() => { useSodium(true) })

test('libsodium loads here, and signs the same bytes as node:crypto', () => {
  assert.ok(useSodium(true), 'sodium-native is a dependency with a prebuild for this platform')
  for (let i = 0; i < 50; i++) {
    const id = new Identity(new Uint8Array(randomBytes(32)))
    const message = randomBytes(i * 7)
    useSodium(true)
    const bySodium = id.sign(message)
    assert.not.ok(useSodium(false))
    const byNode = id.sign(message)
    assert.is(bySodium.byteLength, SIGNATURE_LENGTH)
    assert.equal(Buffer.from(bySodium), Buffer.from(byNode))
    assert.ok(verifySignature(id.publicKey, message, bySodium))
  }
})

test('a signature checks only with its own key and its own bytes', () => {
  const alice = Identity.generate()
  const bob = Identity.generate()
  const message = Buffer.from('an entry')
  const signature = alice.sign(message)
  assert.ok(verifySignature(alice.publicKey, message, signature))
  assert.not.ok(verifySignature(bob.publicKey, message, signature))
  assert.not.ok(verifySignature(alice.publicKey, Buffer.from('another entry'), signature))
  assert.not.ok(verifySignature(alice.publicKey, message, signature.subarray(1)))
})

test('the raw private key is seed || public key, a copy', () => {
  const id = Identity.generate()
  const raw = id.rawPrivateKey
  assert.equal(Buffer.from(raw), Buffer.concat([id.seed, id.publicKey]))
  raw.fill(0)
  assert.equal(Buffer.from(id.rawPrivateKey), Buffer.concat([id.seed, id.publicKey]))
})

test.run()
