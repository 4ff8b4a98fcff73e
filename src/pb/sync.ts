import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SyncMessage {
  hello?: Hello
  entries?: Entries
  ack?: Ack
  synced?: Synced
  refuse?: Refuse
  prune?: Prune
  graft?: Graft
  ihave?: IHave
  descriptor?: Descriptor
}

export namespace SyncMessage {
  let _codec: Codec<SyncMessage>

  export const codec = (): Codec<SyncMessage> => {
    if (_codec == null) {
      _codec = message<SyncMessage>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.hello != null) {
          w.uint32(10)
          Hello.codec().encode(obj.hello, w)
        }

        if (obj.entries != null) {
          w.uint32(18)
          Entries.codec().encode(obj.entries, w)
        }

        if (obj.ack != null) {
          w.uint32(26)
          Ack.codec().encode(obj.ack, w)
        }

        if (obj.synced != null) {
          w.uint32(34)
          Synced.codec().encode(obj.synced, w)
        }

        if (obj.refuse != null) {
          w.uint32(42)
          Refuse.codec().encode(obj.refuse, w)
        }

        if (obj.prune != null) {
          w.uint32(50)
          Prune.codec().encode(obj.prune, w)
        }

        if (obj.graft != null) {
          w.uint32(58)
          Graft.codec().encode(obj.graft, w)
        }

        if (obj.ihave != null) {
          w.uint32(66)
          IHave.codec().encode(obj.ihave, w)
        }

        if (obj.descriptor != null) {
          w.uint32(74)
          Descriptor.codec().encode(obj.descriptor, w)
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
            case 1: {
              obj.hello = Hello.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.hello
              })
              break
            }
            case 2: {
              obj.entries = Entries.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entries
              })
              break
            }
            case 3: {
              obj.ack = Ack.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ack
              })
              break
            }
            case 4: {
              obj.synced = Synced.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.synced
              })
              break
            }
            case 5: {
              obj.refuse = Refuse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.refuse
              })
              break
            }
            case 6: {
              obj.prune = Prune.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.prune
              })
              break
            }
            case 7: {
              obj.graft = Graft.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.graft
              })
              break
            }
            case 8: {
              obj.ihave = IHave.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ihave
              })
              break
            }
            case 9: {
              obj.descriptor = Descriptor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.descriptor
              })
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
              yield * Hello.codec().stream(reader, reader.uint32(), `${prefix}.hello`, {
                limits: opts.limits?.hello
              })

              break
            }
            case 2: {
              yield * Entries.codec().stream(reader, reader.uint32(), `${prefix}.entries`, {
                limits: opts.limits?.entries
              })

              break
            }
            case 3: {
              yield * Ack.codec().stream(reader, reader.uint32(), `${prefix}.ack`, {
                limits: opts.limits?.ack
              })

              break
            }
            case 4: {
              yield * Synced.codec().stream(reader, reader.uint32(), `${prefix}.synced`, {
                limits: opts.limits?.synced
              })

              break
            }
            case 5: {
              yield * Refuse.codec().stream(reader, reader.uint32(), `${prefix}.refuse`, {
                limits: opts.limits?.refuse
              })

              break
            }
            case 6: {
              yield * Prune.codec().stream(reader, reader.uint32(), `${prefix}.prune`, {
                limits: opts.limits?.prune
              })

              break
            }
            case 7: {
              yield * Graft.codec().stream(reader, reader.uint32(), `${prefix}.graft`, {
                limits: opts.limits?.graft
              })

              break
            }
            case 8: {
              yield * IHave.codec().stream(reader, reader.uint32(), `${prefix}.ihave`, {
                limits: opts.limits?.ihave
              })

              break
            }
            case 9: {
              yield * Descriptor.codec().stream(reader, reader.uint32(), `${prefix}.descriptor`, {
                limits: opts.limits?.descriptor
              })

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

  export interface SyncMessageHelloVersionFieldEvent {
    field: '$.hello.version'
    value: number
  }

  export interface SyncMessageHelloSchemaFieldEvent {
    field: '$.hello.schema'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncMessageHelloTopicFieldEvent {
    field: '$.hello.topic'
    value: string
  }

  export interface SyncMessageHelloHaveAuthorFieldEvent {
    field: '$.hello.have[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageHelloHaveSeqFieldEvent {
    field: '$.hello.have[].seq'
    value: number
    index: number
  }

  export interface SyncMessageHelloFeaturesFieldEvent {
    field: '$.hello.features[]'
    index: number
    value: string
  }

  export interface SyncMessageHelloDescriptorFingerprintFieldEvent {
    field: '$.hello.descriptorFingerprint'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncMessageEntriesEntriesFieldEvent {
    field: '$.entries.entries[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncMessageEntriesContextFieldEvent {
    field: '$.entries.context[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncMessageAckBatchesFieldEvent {
    field: '$.ack.batches'
    value: number
  }

  export interface SyncMessageSyncedLengthFieldEvent {
    field: '$.synced.length'
    value: number
  }

  export interface SyncMessageRefuseCodeFieldEvent {
    field: '$.refuse.code'
    value: number
  }

  export interface SyncMessageRefuseReasonFieldEvent {
    field: '$.refuse.reason'
    value: string
  }

  export interface SyncMessagePruneAuthorsFieldEvent {
    field: '$.prune.authors[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface SyncMessageGraftHaveAuthorFieldEvent {
    field: '$.graft.have[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageGraftHaveSeqFieldEvent {
    field: '$.graft.have[].seq'
    value: number
    index: number
  }

  export interface SyncMessageIhaveHaveAuthorFieldEvent {
    field: '$.ihave.have[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface SyncMessageIhaveHaveSeqFieldEvent {
    field: '$.ihave.have[].seq'
    value: number
    index: number
  }

  export interface SyncMessageDescriptorDescriptorFieldEvent {
    field: '$.descriptor.descriptor'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SyncMessage>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SyncMessage.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncMessage>): SyncMessage {
    return decodeMessage(buf, SyncMessage.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SyncMessage>): Generator<SyncMessageHelloVersionFieldEvent | SyncMessageHelloSchemaFieldEvent | SyncMessageHelloTopicFieldEvent | SyncMessageHelloHaveAuthorFieldEvent | SyncMessageHelloHaveSeqFieldEvent | SyncMessageHelloFeaturesFieldEvent | SyncMessageHelloDescriptorFingerprintFieldEvent | SyncMessageEntriesEntriesFieldEvent | SyncMessageEntriesContextFieldEvent | SyncMessageAckBatchesFieldEvent | SyncMessageSyncedLengthFieldEvent | SyncMessageRefuseCodeFieldEvent | SyncMessageRefuseReasonFieldEvent | SyncMessagePruneAuthorsFieldEvent | SyncMessageGraftHaveAuthorFieldEvent | SyncMessageGraftHaveSeqFieldEvent | SyncMessageIhaveHaveAuthorFieldEvent | SyncMessageIhaveHaveSeqFieldEvent | SyncMessageDescriptorDescriptorFieldEvent> {
    return streamMessage(buf, SyncMessage.codec(), opts)
  }
}

export interface Hello {
  version: number
  schema: Uint8Array<ArrayBuffer>
  topic: string
  have: Have[]
  features: string[]
  descriptorFingerprint?: Uint8Array<ArrayBuffer>
}

export namespace Hello {
  let _codec: Codec<Hello>

  export const codec = (): Codec<Hello> => {
    if (_codec == null) {
      _codec = message<Hello>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.schema != null && obj.schema.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.schema)
        }

        if ((obj.topic != null && obj.topic !== '')) {
          w.uint32(26)
          w.string(obj.topic)
        }

        if (obj.have != null && obj.have.length > 0) {
          for (const value of obj.have) {
            w.uint32(34)
            Have.codec().encode(value, w)
          }
        }

        if (obj.features != null && obj.features.length > 0) {
          for (const value of obj.features) {
            w.uint32(42)
            w.string(value)
          }
        }

        if (obj.descriptorFingerprint != null) {
          w.uint32(50)
          w.bytes(obj.descriptorFingerprint)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          schema: uint8ArrayAlloc(0),
          topic: '',
          have: [],
          features: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.schema = reader.bytes()
              break
            }
            case 3: {
              obj.topic = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.have != null && obj.have.length === opts.limits.have) {
                throw new MaxLengthError('Decode error - repeated field "have" had too many elements')
              }

              obj.have.push(Have.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.have$
              }))
              break
            }
            case 5: {
              if (opts.limits?.features != null && obj.features.length === opts.limits.features) {
                throw new MaxLengthError('Decode error - repeated field "features" had too many elements')
              }

              obj.features.push(reader.string())
              break
            }
            case 6: {
              obj.descriptorFingerprint = reader.bytes()
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
          have: 0,
          features: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.schema`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.topic`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.have != null && obj.have === opts.limits.have) {
                throw new MaxLengthError('Streaming decode error - repeated field "have" had too many elements')
              }

              for (const evt of Have.codec().stream(reader, reader.uint32(), `${prefix}.have[]`, {
                limits: opts.limits?.have$
              })) {
                yield {
                  ...evt,
                  index: obj.have
                }
              }

              obj.have++

              break
            }
            case 5: {
              if (opts.limits?.features != null && obj.features === opts.limits.features) {
                throw new MaxLengthError('Streaming decode error - repeated field "features" had too many elements')
              }

              yield {
                field: `${prefix}.features[]`,
                index: obj.features,
                value: reader.string()
              }

              obj.features++

              break
            }
            case 6: {
              yield {
                field: `${prefix}.descriptorFingerprint`,
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

  export interface HelloVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface HelloSchemaFieldEvent {
    field: '$.schema'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HelloTopicFieldEvent {
    field: '$.topic'
    value: string
  }

  export interface HelloHaveAuthorFieldEvent {
    field: '$.have[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface HelloHaveSeqFieldEvent {
    field: '$.have[].seq'
    value: number
    index: number
  }

  export interface HelloFeaturesFieldEvent {
    field: '$.features[]'
    index: number
    value: string
  }

  export interface HelloDescriptorFingerprintFieldEvent {
    field: '$.descriptorFingerprint'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Hello>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Hello.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Hello {
    return decodeMessage(buf, Hello.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Hello>): Generator<HelloVersionFieldEvent | HelloSchemaFieldEvent | HelloTopicFieldEvent | HelloHaveAuthorFieldEvent | HelloHaveSeqFieldEvent | HelloFeaturesFieldEvent | HelloDescriptorFingerprintFieldEvent> {
    return streamMessage(buf, Hello.codec(), opts)
  }
}

export interface Descriptor {
  descriptor: Uint8Array<ArrayBuffer>
}

export namespace Descriptor {
  let _codec: Codec<Descriptor>

  export const codec = (): Codec<Descriptor> => {
    if (_codec == null) {
      _codec = message<Descriptor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.descriptor != null && obj.descriptor.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.descriptor)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          descriptor: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.descriptor = reader.bytes()
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
                field: `${prefix}.descriptor`,
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

  export interface DescriptorDescriptorFieldEvent {
    field: '$.descriptor'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Descriptor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Descriptor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Descriptor>): Descriptor {
    return decodeMessage(buf, Descriptor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Descriptor>): Generator<DescriptorDescriptorFieldEvent> {
    return streamMessage(buf, Descriptor.codec(), opts)
  }
}

export interface Have {
  author: Uint8Array<ArrayBuffer>
  seq: number
}

export namespace Have {
  let _codec: Codec<Have>

  export const codec = (): Codec<Have> => {
    if (_codec == null) {
      _codec = message<Have>((obj, w, opts = {}) => {
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

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          author: uint8ArrayAlloc(0),
          seq: 0
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

  export interface HaveAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HaveSeqFieldEvent {
    field: '$.seq'
    value: number
  }

  export function encode (obj: Partial<Have>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Have.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Have>): Have {
    return decodeMessage(buf, Have.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Have>): Generator<HaveAuthorFieldEvent | HaveSeqFieldEvent> {
    return streamMessage(buf, Have.codec(), opts)
  }
}

export interface Entries {
  entries: Uint8Array<ArrayBuffer>[]
  context: Uint8Array<ArrayBuffer>[]
}

export namespace Entries {
  let _codec: Codec<Entries>

  export const codec = (): Codec<Entries> => {
    if (_codec == null) {
      _codec = message<Entries>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.entries != null && obj.entries.length > 0) {
          for (const value of obj.entries) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (obj.context != null && obj.context.length > 0) {
          for (const value of obj.context) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          entries: [],
          context: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.entries != null && obj.entries.length === opts.limits.entries) {
                throw new MaxLengthError('Decode error - repeated field "entries" had too many elements')
              }

              obj.entries.push(reader.bytes())
              break
            }
            case 2: {
              if (opts.limits?.context != null && obj.context.length === opts.limits.context) {
                throw new MaxLengthError('Decode error - repeated field "context" had too many elements')
              }

              obj.context.push(reader.bytes())
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
          entries: 0,
          context: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.entries != null && obj.entries === opts.limits.entries) {
                throw new MaxLengthError('Streaming decode error - repeated field "entries" had too many elements')
              }

              yield {
                field: `${prefix}.entries[]`,
                index: obj.entries,
                value: reader.bytes()
              }

              obj.entries++

              break
            }
            case 2: {
              if (opts.limits?.context != null && obj.context === opts.limits.context) {
                throw new MaxLengthError('Streaming decode error - repeated field "context" had too many elements')
              }

              yield {
                field: `${prefix}.context[]`,
                index: obj.context,
                value: reader.bytes()
              }

              obj.context++

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

  export interface EntriesEntriesFieldEvent {
    field: '$.entries[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface EntriesContextFieldEvent {
    field: '$.context[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Entries>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Entries.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Entries>): Entries {
    return decodeMessage(buf, Entries.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Entries>): Generator<EntriesEntriesFieldEvent | EntriesContextFieldEvent> {
    return streamMessage(buf, Entries.codec(), opts)
  }
}

export interface Ack {
  batches: number
}

export namespace Ack {
  let _codec: Codec<Ack>

  export const codec = (): Codec<Ack> => {
    if (_codec == null) {
      _codec = message<Ack>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.batches != null && obj.batches !== 0)) {
          w.uint32(8)
          w.uint32(obj.batches)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          batches: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.batches = reader.uint32()
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
                field: `${prefix}.batches`,
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

  export interface AckBatchesFieldEvent {
    field: '$.batches'
    value: number
  }

  export function encode (obj: Partial<Ack>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Ack.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Ack {
    return decodeMessage(buf, Ack.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Ack>): Generator<AckBatchesFieldEvent> {
    return streamMessage(buf, Ack.codec(), opts)
  }
}

export interface Synced {
  length: number
}

export namespace Synced {
  let _codec: Codec<Synced>

  export const codec = (): Codec<Synced> => {
    if (_codec == null) {
      _codec = message<Synced>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.length != null && obj.length !== 0)) {
          w.uint32(8)
          w.uint64Number(obj.length)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          length: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.length = reader.uint64Number()
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
                field: `${prefix}.length`,
                value: reader.uint64Number()
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

  export interface SyncedLengthFieldEvent {
    field: '$.length'
    value: number
  }

  export function encode (obj: Partial<Synced>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Synced.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Synced>): Synced {
    return decodeMessage(buf, Synced.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Synced>): Generator<SyncedLengthFieldEvent> {
    return streamMessage(buf, Synced.codec(), opts)
  }
}

export enum RefuseCode {
  UNKNOWN = 'UNKNOWN',
  VERSION = 'VERSION',
  SCHEMA = 'SCHEMA',
  TOPIC = 'TOPIC',
  INVALID_ENTRY = 'INVALID_ENTRY',
  PROTOCOL = 'PROTOCOL',
  LIMIT = 'LIMIT'
}

enum __RefuseCodeValues {
  UNKNOWN = 0,
  VERSION = 1,
  SCHEMA = 2,
  TOPIC = 3,
  INVALID_ENTRY = 4,
  PROTOCOL = 5,
  LIMIT = 6
}

export namespace RefuseCode {
  export const codec = (): Codec<RefuseCode> => {
    return enumeration<RefuseCode>(__RefuseCodeValues)
  }
}

export interface Refuse {
  code: number
  reason: string
}

export namespace Refuse {
  let _codec: Codec<Refuse>

  export const codec = (): Codec<Refuse> => {
    if (_codec == null) {
      _codec = message<Refuse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.code != null && obj.code !== 0)) {
          w.uint32(8)
          w.uint32(obj.code)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(18)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          code: 0,
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.code = reader.uint32()
              break
            }
            case 2: {
              obj.reason = reader.string()
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
                field: `${prefix}.code`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
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

  export interface RefuseCodeFieldEvent {
    field: '$.code'
    value: number
  }

  export interface RefuseReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<Refuse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Refuse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refuse>): Refuse {
    return decodeMessage(buf, Refuse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Refuse>): Generator<RefuseCodeFieldEvent | RefuseReasonFieldEvent> {
    return streamMessage(buf, Refuse.codec(), opts)
  }
}

export interface Prune {
  authors: Uint8Array<ArrayBuffer>[]
}

export namespace Prune {
  let _codec: Codec<Prune>

  export const codec = (): Codec<Prune> => {
    if (_codec == null) {
      _codec = message<Prune>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.authors != null && obj.authors.length > 0) {
          for (const value of obj.authors) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          authors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.authors != null && obj.authors.length === opts.limits.authors) {
                throw new MaxLengthError('Decode error - repeated field "authors" had too many elements')
              }

              obj.authors.push(reader.bytes())
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
          authors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.authors != null && obj.authors === opts.limits.authors) {
                throw new MaxLengthError('Streaming decode error - repeated field "authors" had too many elements')
              }

              yield {
                field: `${prefix}.authors[]`,
                index: obj.authors,
                value: reader.bytes()
              }

              obj.authors++

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

  export interface PruneAuthorsFieldEvent {
    field: '$.authors[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Prune>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Prune.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Prune>): Prune {
    return decodeMessage(buf, Prune.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Prune>): Generator<PruneAuthorsFieldEvent> {
    return streamMessage(buf, Prune.codec(), opts)
  }
}

export interface Graft {
  have: Have[]
}

export namespace Graft {
  let _codec: Codec<Graft>

  export const codec = (): Codec<Graft> => {
    if (_codec == null) {
      _codec = message<Graft>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.have != null && obj.have.length > 0) {
          for (const value of obj.have) {
            w.uint32(10)
            Have.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          have: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.have != null && obj.have.length === opts.limits.have) {
                throw new MaxLengthError('Decode error - repeated field "have" had too many elements')
              }

              obj.have.push(Have.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.have$
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
          have: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.have != null && obj.have === opts.limits.have) {
                throw new MaxLengthError('Streaming decode error - repeated field "have" had too many elements')
              }

              for (const evt of Have.codec().stream(reader, reader.uint32(), `${prefix}.have[]`, {
                limits: opts.limits?.have$
              })) {
                yield {
                  ...evt,
                  index: obj.have
                }
              }

              obj.have++

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

  export interface GraftHaveAuthorFieldEvent {
    field: '$.have[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GraftHaveSeqFieldEvent {
    field: '$.have[].seq'
    value: number
    index: number
  }

  export function encode (obj: Partial<Graft>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Graft.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Graft>): Graft {
    return decodeMessage(buf, Graft.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Graft>): Generator<GraftHaveAuthorFieldEvent | GraftHaveSeqFieldEvent> {
    return streamMessage(buf, Graft.codec(), opts)
  }
}

export interface IHave {
  have: Have[]
}

export namespace IHave {
  let _codec: Codec<IHave>

  export const codec = (): Codec<IHave> => {
    if (_codec == null) {
      _codec = message<IHave>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.have != null && obj.have.length > 0) {
          for (const value of obj.have) {
            w.uint32(10)
            Have.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          have: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.have != null && obj.have.length === opts.limits.have) {
                throw new MaxLengthError('Decode error - repeated field "have" had too many elements')
              }

              obj.have.push(Have.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.have$
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
          have: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.have != null && obj.have === opts.limits.have) {
                throw new MaxLengthError('Streaming decode error - repeated field "have" had too many elements')
              }

              for (const evt of Have.codec().stream(reader, reader.uint32(), `${prefix}.have[]`, {
                limits: opts.limits?.have$
              })) {
                yield {
                  ...evt,
                  index: obj.have
                }
              }

              obj.have++

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

  export interface IHaveHaveAuthorFieldEvent {
    field: '$.have[].author'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface IHaveHaveSeqFieldEvent {
    field: '$.have[].seq'
    value: number
    index: number
  }

  export function encode (obj: Partial<IHave>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IHave.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IHave>): IHave {
    return decodeMessage(buf, IHave.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IHave>): Generator<IHaveHaveAuthorFieldEvent | IHaveHaveSeqFieldEvent> {
    return streamMessage(buf, IHave.codec(), opts)
  }
}
