import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Entry {
  author: Uint8Array<ArrayBuffer>
  seq: number
  prev: Uint8Array<ArrayBuffer>
  links: Uint8Array<ArrayBuffer>[]
  clock: number
  timestamp: number
  name: string
  payload: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace Entry {
  let _codec: Codec<Entry>

  export const codec = (): Codec<Entry> => {
    if (_codec == null) {
      _codec = message<Entry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.author)
        }

        if ((obj.seq != null && obj.seq !== 0)) {
          w.uint32(16)
          w.uint64Number(obj.seq)
        }

        if ((obj.prev != null && obj.prev.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.prev)
        }

        if (obj.links != null && obj.links.length > 0) {
          for (const value of obj.links) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if ((obj.clock != null && obj.clock !== 0)) {
          w.uint32(40)
          w.uint64Number(obj.clock)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0)) {
          w.uint32(48)
          w.uint64Number(obj.timestamp)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(58)
          w.string(obj.name)
        }

        if ((obj.payload != null && obj.payload.byteLength > 0)) {
          w.uint32(66)
          w.bytes(obj.payload)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(122)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          author: uint8ArrayAlloc(0),
          seq: 0,
          prev: uint8ArrayAlloc(0),
          links: [],
          clock: 0,
          timestamp: 0,
          name: '',
          payload: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.author = reader.bytes()
              break
            }
            case 2: {
              obj.seq = reader.uint64Number()
              break
            }
            case 3: {
              obj.prev = reader.bytes()
              break
            }
            case 4: {
              if (opts.limits?.links != null && obj.links.length === opts.limits.links) {
                throw new MaxLengthError('Decode error - repeated field "links" had too many elements')
              }

              obj.links.push(reader.bytes())
              break
            }
            case 5: {
              obj.clock = reader.uint64Number()
              break
            }
            case 6: {
              obj.timestamp = reader.uint64Number()
              break
            }
            case 7: {
              obj.name = reader.string()
              break
            }
            case 8: {
              obj.payload = reader.bytes()
              break
            }
            case 15: {
              obj.signature = reader.bytes()
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
          links: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64Number()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.prev`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              if (opts.limits?.links != null && obj.links === opts.limits.links) {
                throw new MaxLengthError('Streaming decode error - repeated field "links" had too many elements')
              }

              yield {
                field: `${prefix}.links[]`,
                index: obj.links,
                value: reader.bytes()
              }

              obj.links++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.clock`,
                value: reader.uint64Number()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64Number()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.payload`,
                value: reader.bytes()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
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

  export interface EntryAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EntrySeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export interface EntryPrevFieldEvent {
    field: '$.prev'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EntryLinksFieldEvent {
    field: '$.links[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface EntryClockFieldEvent {
    field: '$.clock'
    value: number
  }

  export interface EntryTimestampFieldEvent {
    field: '$.timestamp'
    value: number
  }

  export interface EntryNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface EntryPayloadFieldEvent {
    field: '$.payload'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EntrySignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Entry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Entry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Entry>): Entry {
    return decodeMessage(buf, Entry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Entry>): Generator<EntryAuthorFieldEvent | EntrySeqFieldEvent | EntryPrevFieldEvent | EntryLinksFieldEvent | EntryClockFieldEvent | EntryTimestampFieldEvent | EntryNameFieldEvent | EntryPayloadFieldEvent | EntrySignatureFieldEvent> {
    return streamMessage(buf, Entry.codec(), opts)
  }
}
