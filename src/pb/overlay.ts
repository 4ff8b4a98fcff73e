/* eslint-disable require-yield */

import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface OverlayMessage {
  join?: Join
  forwardJoin?: ForwardJoin
  neighbor?: Neighbor
  neighborReply?: NeighborReply
  disconnect?: Disconnect
  shuffle?: Shuffle
  shuffleReply?: ShuffleReply
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace OverlayMessage {
  let _codec: Codec<OverlayMessage>

  export const codec = (): Codec<OverlayMessage> => {
    if (_codec == null) {
      _codec = message<OverlayMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.join != null) {
          w.uint32(10)
          Join.codec().encode(obj.join, w)
        }

        if (obj.forwardJoin != null) {
          w.uint32(18)
          ForwardJoin.codec().encode(obj.forwardJoin, w)
        }

        if (obj.neighbor != null) {
          w.uint32(26)
          Neighbor.codec().encode(obj.neighbor, w)
        }

        if (obj.neighborReply != null) {
          w.uint32(34)
          NeighborReply.codec().encode(obj.neighborReply, w)
        }

        if (obj.disconnect != null) {
          w.uint32(42)
          Disconnect.codec().encode(obj.disconnect, w)
        }

        if (obj.shuffle != null) {
          w.uint32(50)
          Shuffle.codec().encode(obj.shuffle, w)
        }

        if (obj.shuffleReply != null) {
          w.uint32(58)
          ShuffleReply.codec().encode(obj.shuffleReply, w)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(122)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.join = Join.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.join
              })
              break
            }
            case 2: {
              obj.forwardJoin = ForwardJoin.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.forwardJoin
              })
              break
            }
            case 3: {
              obj.neighbor = Neighbor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.neighbor
              })
              break
            }
            case 4: {
              obj.neighborReply = NeighborReply.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.neighborReply
              })
              break
            }
            case 5: {
              obj.disconnect = Disconnect.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.disconnect
              })
              break
            }
            case 6: {
              obj.shuffle = Shuffle.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.shuffle
              })
              break
            }
            case 7: {
              obj.shuffleReply = ShuffleReply.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.shuffleReply
              })
              break
            }
            case 15: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Join.codec().stream(reader, reader.uint32(), `${prefix}.join`, {
                limits: opts.limits?.join
              })

              break
            }
            case 2: {
              yield * ForwardJoin.codec().stream(reader, reader.uint32(), `${prefix}.forwardJoin`, {
                limits: opts.limits?.forwardJoin
              })

              break
            }
            case 3: {
              yield * Neighbor.codec().stream(reader, reader.uint32(), `${prefix}.neighbor`, {
                limits: opts.limits?.neighbor
              })

              break
            }
            case 4: {
              yield * NeighborReply.codec().stream(reader, reader.uint32(), `${prefix}.neighborReply`, {
                limits: opts.limits?.neighborReply
              })

              break
            }
            case 5: {
              yield * Disconnect.codec().stream(reader, reader.uint32(), `${prefix}.disconnect`, {
                limits: opts.limits?.disconnect
              })

              break
            }
            case 6: {
              yield * Shuffle.codec().stream(reader, reader.uint32(), `${prefix}.shuffle`, {
                limits: opts.limits?.shuffle
              })

              break
            }
            case 7: {
              yield * ShuffleReply.codec().stream(reader, reader.uint32(), `${prefix}.shuffleReply`, {
                limits: opts.limits?.shuffleReply
              })

              break
            }
            case 15: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface OverlayMessageForwardJoinPeerIdFieldEvent {
    field: '$.forwardJoin.peer.id'
    value: string
  }

  export interface OverlayMessageForwardJoinPeerAddrsFieldEvent {
    field: '$.forwardJoin.peer.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface OverlayMessageForwardJoinTtlFieldEvent {
    field: '$.forwardJoin.ttl'
    value: number
  }

  export interface OverlayMessageNeighborHighFieldEvent {
    field: '$.neighbor.high'
    value: boolean
  }

  export interface OverlayMessageNeighborReplyAcceptFieldEvent {
    field: '$.neighborReply.accept'
    value: boolean
  }

  export interface OverlayMessageShuffleOriginIdFieldEvent {
    field: '$.shuffle.origin.id'
    value: string
  }

  export interface OverlayMessageShuffleOriginAddrsFieldEvent {
    field: '$.shuffle.origin.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface OverlayMessageShuffleTtlFieldEvent {
    field: '$.shuffle.ttl'
    value: number
  }

  export interface OverlayMessageShufflePeersIdFieldEvent {
    field: '$.shuffle.peers[].id'
    value: string
    index: number
  }

  export interface OverlayMessageShufflePeersAddrsFieldEvent {
    field: '$.shuffle.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface OverlayMessageShuffleReplyPeersIdFieldEvent {
    field: '$.shuffleReply.peers[].id'
    value: string
    index: number
  }

  export interface OverlayMessageShuffleReplyPeersAddrsFieldEvent {
    field: '$.shuffleReply.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface OverlayMessageAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<OverlayMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, OverlayMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OverlayMessage>): OverlayMessage {
    return decodeMessage(buf, OverlayMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<OverlayMessage>): Generator<OverlayMessageForwardJoinPeerIdFieldEvent | OverlayMessageForwardJoinPeerAddrsFieldEvent | OverlayMessageForwardJoinTtlFieldEvent | OverlayMessageNeighborHighFieldEvent | OverlayMessageNeighborReplyAcceptFieldEvent | OverlayMessageShuffleOriginIdFieldEvent | OverlayMessageShuffleOriginAddrsFieldEvent | OverlayMessageShuffleTtlFieldEvent | OverlayMessageShufflePeersIdFieldEvent | OverlayMessageShufflePeersAddrsFieldEvent | OverlayMessageShuffleReplyPeersIdFieldEvent | OverlayMessageShuffleReplyPeersAddrsFieldEvent | OverlayMessageAddrsFieldEvent> {
    return streamMessage(buf, OverlayMessage.codec(), opts)
  }
}

export interface PeerRecord {
  id: string
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace PeerRecord {
  let _codec: Codec<PeerRecord>

  export const codec = (): Codec<PeerRecord> => {
    if (_codec == null) {
      _codec = message<PeerRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PeerRecordIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface PeerRecordAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PeerRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PeerRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerRecord>): PeerRecord {
    return decodeMessage(buf, PeerRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PeerRecord>): Generator<PeerRecordIdFieldEvent | PeerRecordAddrsFieldEvent> {
    return streamMessage(buf, PeerRecord.codec(), opts)
  }
}

export interface Join {}

export namespace Join {
  let _codec: Codec<Join>

  export const codec = (): Codec<Join> => {
    if (_codec == null) {
      _codec = message<Join>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export function encode (obj: Partial<Join>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Join.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Join>): Join {
    return decodeMessage(buf, Join.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Join>): Generator<{}> {
    return streamMessage(buf, Join.codec(), opts)
  }
}

export interface ForwardJoin {
  peer?: PeerRecord
  ttl: number
}

export namespace ForwardJoin {
  let _codec: Codec<ForwardJoin>

  export const codec = (): Codec<ForwardJoin> => {
    if (_codec == null) {
      _codec = message<ForwardJoin>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.peer != null) {
          w.uint32(10)
          PeerRecord.codec().encode(obj.peer, w)
        }

        if ((obj.ttl != null && obj.ttl !== 0)) {
          w.uint32(16)
          w.uint32(obj.ttl)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ttl: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peer = PeerRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.peer
              })
              break
            }
            case 2: {
              obj.ttl = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * PeerRecord.codec().stream(reader, reader.uint32(), `${prefix}.peer`, {
                limits: opts.limits?.peer
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.ttl`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ForwardJoinPeerIdFieldEvent {
    field: '$.peer.id'
    value: string
  }

  export interface ForwardJoinPeerAddrsFieldEvent {
    field: '$.peer.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ForwardJoinTtlFieldEvent {
    field: '$.ttl'
    value: number
  }

  export function encode (obj: Partial<ForwardJoin>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ForwardJoin.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ForwardJoin>): ForwardJoin {
    return decodeMessage(buf, ForwardJoin.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ForwardJoin>): Generator<ForwardJoinPeerIdFieldEvent | ForwardJoinPeerAddrsFieldEvent | ForwardJoinTtlFieldEvent> {
    return streamMessage(buf, ForwardJoin.codec(), opts)
  }
}

export interface Neighbor {
  high: boolean
}

export namespace Neighbor {
  let _codec: Codec<Neighbor>

  export const codec = (): Codec<Neighbor> => {
    if (_codec == null) {
      _codec = message<Neighbor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.high != null && obj.high !== false)) {
          w.uint32(8)
          w.bool(obj.high)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          high: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.high = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.high`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface NeighborHighFieldEvent {
    field: '$.high'
    value: boolean
  }

  export function encode (obj: Partial<Neighbor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Neighbor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Neighbor>): Neighbor {
    return decodeMessage(buf, Neighbor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Neighbor>): Generator<NeighborHighFieldEvent> {
    return streamMessage(buf, Neighbor.codec(), opts)
  }
}

export interface NeighborReply {
  accept: boolean
}

export namespace NeighborReply {
  let _codec: Codec<NeighborReply>

  export const codec = (): Codec<NeighborReply> => {
    if (_codec == null) {
      _codec = message<NeighborReply>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.accept != null && obj.accept !== false)) {
          w.uint32(8)
          w.bool(obj.accept)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          accept: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.accept = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.accept`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface NeighborReplyAcceptFieldEvent {
    field: '$.accept'
    value: boolean
  }

  export function encode (obj: Partial<NeighborReply>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, NeighborReply.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NeighborReply>): NeighborReply {
    return decodeMessage(buf, NeighborReply.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NeighborReply>): Generator<NeighborReplyAcceptFieldEvent> {
    return streamMessage(buf, NeighborReply.codec(), opts)
  }
}

export interface Disconnect {}

export namespace Disconnect {
  let _codec: Codec<Disconnect>

  export const codec = (): Codec<Disconnect> => {
    if (_codec == null) {
      _codec = message<Disconnect>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export function encode (obj: Partial<Disconnect>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Disconnect.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Disconnect>): Disconnect {
    return decodeMessage(buf, Disconnect.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Disconnect>): Generator<{}> {
    return streamMessage(buf, Disconnect.codec(), opts)
  }
}

export interface Shuffle {
  origin?: PeerRecord
  ttl: number
  peers: PeerRecord[]
}

export namespace Shuffle {
  let _codec: Codec<Shuffle>

  export const codec = (): Codec<Shuffle> => {
    if (_codec == null) {
      _codec = message<Shuffle>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.origin != null) {
          w.uint32(10)
          PeerRecord.codec().encode(obj.origin, w)
        }

        if ((obj.ttl != null && obj.ttl !== 0)) {
          w.uint32(16)
          w.uint32(obj.ttl)
        }

        if (obj.peers != null && obj.peers.length > 0) {
          for (const value of obj.peers) {
            w.uint32(26)
            PeerRecord.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ttl: 0,
          peers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.origin = PeerRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.origin
              })
              break
            }
            case 2: {
              obj.ttl = reader.uint32()
              break
            }
            case 3: {
              if (opts.limits?.peers != null && obj.peers.length === opts.limits.peers) {
                throw new MaxLengthError('Decode error - repeated field "peers" had too many elements')
              }

              obj.peers.push(PeerRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.peers$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          peers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * PeerRecord.codec().stream(reader, reader.uint32(), `${prefix}.origin`, {
                limits: opts.limits?.origin
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.ttl`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              if (opts.limits?.peers != null && obj.peers === opts.limits.peers) {
                throw new MaxLengthError('Streaming decode error - repeated field "peers" had too many elements')
              }

              for (const evt of PeerRecord.codec().stream(reader, reader.uint32(), `${prefix}.peers[]`, {
                limits: opts.limits?.peers$
              })) {
                yield {
                  ...evt,
                  index: obj.peers
                }
              }

              obj.peers++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ShuffleOriginIdFieldEvent {
    field: '$.origin.id'
    value: string
  }

  export interface ShuffleOriginAddrsFieldEvent {
    field: '$.origin.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ShuffleTtlFieldEvent {
    field: '$.ttl'
    value: number
  }

  export interface ShufflePeersIdFieldEvent {
    field: '$.peers[].id'
    value: string
    index: number
  }

  export interface ShufflePeersAddrsFieldEvent {
    field: '$.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Shuffle>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Shuffle.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Shuffle>): Shuffle {
    return decodeMessage(buf, Shuffle.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Shuffle>): Generator<ShuffleOriginIdFieldEvent | ShuffleOriginAddrsFieldEvent | ShuffleTtlFieldEvent | ShufflePeersIdFieldEvent | ShufflePeersAddrsFieldEvent> {
    return streamMessage(buf, Shuffle.codec(), opts)
  }
}

export interface ShuffleReply {
  peers: PeerRecord[]
}

export namespace ShuffleReply {
  let _codec: Codec<ShuffleReply>

  export const codec = (): Codec<ShuffleReply> => {
    if (_codec == null) {
      _codec = message<ShuffleReply>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.peers != null && obj.peers.length > 0) {
          for (const value of obj.peers) {
            w.uint32(10)
            PeerRecord.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.peers != null && obj.peers.length === opts.limits.peers) {
                throw new MaxLengthError('Decode error - repeated field "peers" had too many elements')
              }

              obj.peers.push(PeerRecord.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.peers$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          peers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.peers != null && obj.peers === opts.limits.peers) {
                throw new MaxLengthError('Streaming decode error - repeated field "peers" had too many elements')
              }

              for (const evt of PeerRecord.codec().stream(reader, reader.uint32(), `${prefix}.peers[]`, {
                limits: opts.limits?.peers$
              })) {
                yield {
                  ...evt,
                  index: obj.peers
                }
              }

              obj.peers++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ShuffleReplyPeersIdFieldEvent {
    field: '$.peers[].id'
    value: string
    index: number
  }

  export interface ShuffleReplyPeersAddrsFieldEvent {
    field: '$.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ShuffleReply>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ShuffleReply.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ShuffleReply>): ShuffleReply {
    return decodeMessage(buf, ShuffleReply.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ShuffleReply>): Generator<ShuffleReplyPeersIdFieldEvent | ShuffleReplyPeersAddrsFieldEvent> {
    return streamMessage(buf, ShuffleReply.codec(), opts)
  }
}
