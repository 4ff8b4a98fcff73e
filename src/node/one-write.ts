// Noise hands the raw connection each message as two chunks, its 2-byte
// length and the ciphertext, and @libp2p/tcp writes each chunk to the socket
// apart: two write system calls, and on loopback two TCP segments, for every
// frame of every stream. oneWritePerSend wraps a connection encrypter so that
// each small send (most sync frames are a few hundred bytes) reaches the raw
// connection as one chunk: a copy of a few bytes against a system call and a
// segment saved. A large send is passed on as it is: there a write more is
// little, and a copy of every byte of a catch-up is not. Only connections
// this node secures are touched, through the public ConnectionEncrypter
// interface.
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions } from '@libp2p/interface'

/** Sends up to this many bytes are joined into one chunk. */
export const ONE_CHUNK_MAX = 16 * 1024

/** Makes `conn.send` pass every list of chunks of at most ONE_CHUNK_MAX bytes on as one chunk. Returns `conn`. */
export function sendOneChunk<S extends MessageStream> (conn: S): S {
  const send = conn.send.bind(conn)
  conn.send = (data) => send(data instanceof Uint8Array || data.byteLength > ONE_CHUNK_MAX ? data : data.subarray())
  return conn
}

/** Wraps an encrypter factory (such as `noise()`) so that it writes each small message to the connection in one chunk. */
export function oneWritePerSend<C> (factory: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components) => {
    const inner = factory(components)
    const outer = Object.create(inner) as ConnectionEncrypter
    outer.secureInbound = async (conn: MessageStream, options?: SecureConnectionOptions) => await inner.secureInbound(sendOneChunk(conn), options)
    outer.secureOutbound = async (conn: MessageStream, options?: SecureConnectionOptions) => await inner.secureOutbound(sendOneChunk(conn), options)
    return outer
  }
}
