// Noise hands the raw connection each message as two chunks, its 2-byte
// length and the ciphertext, and @libp2p/tcp writes each chunk to the socket
// apart: two write system calls, and on loopback two TCP segments, for every
// frame of every stream. oneWritePerSend wraps a connection encrypter so that
// each send reaches the raw connection as one chunk: a copy of a few bytes to
// 64 KiB, against a system call and a segment saved. Only connections this
// node secures are touched, through the public ConnectionEncrypter interface.
import type { ConnectionEncrypter, MessageStream, SecureConnectionOptions } from '@libp2p/interface'

/** Makes `conn.send` pass every list of chunks on as one chunk. Returns `conn`. */
export function sendOneChunk<S extends MessageStream> (conn: S): S {
  const send = conn.send.bind(conn)
  conn.send = (data) => send(data instanceof Uint8Array ? data : data.subarray())
  return conn
}

/** Wraps an encrypter factory (such as `noise()`) so that it writes each message to the connection in one chunk. */
export function oneWritePerSend<C> (factory: (components: C) => ConnectionEncrypter): (components: C) => ConnectionEncrypter {
  return (components) => {
    const inner = factory(components)
    const outer = Object.create(inner) as ConnectionEncrypter
    outer.secureInbound = async (conn: MessageStream, options?: SecureConnectionOptions) => await inner.secureInbound(sendOneChunk(conn), options)
    outer.secureOutbound = async (conn: MessageStream, options?: SecureConnectionOptions) => await inner.secureOutbound(sendOneChunk(conn), options)
    return outer
  }
}
