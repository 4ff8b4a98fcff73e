import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface SchemaDescriptor {
  messages: MessageDescriptor[]
  enums: EnumDescriptor[]
}

export namespace SchemaDescriptor {
  let _codec: Codec<SchemaDescriptor>

  export const codec = (): Codec<SchemaDescriptor> => {
    if (_codec == null) {
      _codec = message<SchemaDescriptor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.messages != null && obj.messages.length > 0) {
          for (const value of obj.messages) {
            w.uint32(10)
            MessageDescriptor.codec().encode(value, w)
          }
        }

        if (obj.enums != null && obj.enums.length > 0) {
          for (const value of obj.enums) {
            w.uint32(18)
            EnumDescriptor.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          messages: [],
          enums: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.messages != null && obj.messages.length === opts.limits.messages) {
                throw new MaxLengthError('Decode error - repeated field "messages" had too many elements')
              }

              obj.messages.push(MessageDescriptor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.messages$
              }))
              break
            }
            case 2: {
              if (opts.limits?.enums != null && obj.enums.length === opts.limits.enums) {
                throw new MaxLengthError('Decode error - repeated field "enums" had too many elements')
              }

              obj.enums.push(EnumDescriptor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.enums$
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
          messages: 0,
          enums: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.messages != null && obj.messages === opts.limits.messages) {
                throw new MaxLengthError('Streaming decode error - repeated field "messages" had too many elements')
              }

              for (const evt of MessageDescriptor.codec().stream(reader, reader.uint32(), `${prefix}.messages[]`, {
                limits: opts.limits?.messages$
              })) {
                yield {
                  ...evt,
                  index: obj.messages
                }
              }

              obj.messages++

              break
            }
            case 2: {
              if (opts.limits?.enums != null && obj.enums === opts.limits.enums) {
                throw new MaxLengthError('Streaming decode error - repeated field "enums" had too many elements')
              }

              for (const evt of EnumDescriptor.codec().stream(reader, reader.uint32(), `${prefix}.enums[]`, {
                limits: opts.limits?.enums$
              })) {
                yield {
                  ...evt,
                  index: obj.enums
                }
              }

              obj.enums++

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

  export interface SchemaDescriptorMessagesFullNameFieldEvent {
    field: '$.messages[].fullName'
    value: string
    index: number
  }

  export interface SchemaDescriptorMessagesEventFieldEvent {
    field: '$.messages[].event'
    value: boolean
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsNumberFieldEvent {
    field: '$.messages[].fields[].number'
    value: number
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsNameFieldEvent {
    field: '$.messages[].fields[].name'
    value: string
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsLabelFieldEvent {
    field: '$.messages[].fields[].label'
    value: Label
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsTypeFieldEvent {
    field: '$.messages[].fields[].type'
    value: Type
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsTypeNameFieldEvent {
    field: '$.messages[].fields[].typeName'
    value: string
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsKeyTypeFieldEvent {
    field: '$.messages[].fields[].keyType'
    value: Type
    index: number
  }

  export interface SchemaDescriptorMessagesFieldsOneofFieldEvent {
    field: '$.messages[].fields[].oneof'
    value: string
    index: number
  }

  export interface SchemaDescriptorEnumsFullNameFieldEvent {
    field: '$.enums[].fullName'
    value: string
    index: number
  }

  export interface SchemaDescriptorEnumsValuesNameFieldEvent {
    field: '$.enums[].values[].name'
    value: string
    index: number
  }

  export interface SchemaDescriptorEnumsValuesNumberFieldEvent {
    field: '$.enums[].values[].number'
    value: number
    index: number
  }

  export function encode (obj: Partial<SchemaDescriptor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SchemaDescriptor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SchemaDescriptor>): SchemaDescriptor {
    return decodeMessage(buf, SchemaDescriptor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SchemaDescriptor>): Generator<SchemaDescriptorMessagesFullNameFieldEvent | SchemaDescriptorMessagesEventFieldEvent | SchemaDescriptorMessagesFieldsNumberFieldEvent | SchemaDescriptorMessagesFieldsNameFieldEvent | SchemaDescriptorMessagesFieldsLabelFieldEvent | SchemaDescriptorMessagesFieldsTypeFieldEvent | SchemaDescriptorMessagesFieldsTypeNameFieldEvent | SchemaDescriptorMessagesFieldsKeyTypeFieldEvent | SchemaDescriptorMessagesFieldsOneofFieldEvent | SchemaDescriptorEnumsFullNameFieldEvent | SchemaDescriptorEnumsValuesNameFieldEvent | SchemaDescriptorEnumsValuesNumberFieldEvent> {
    return streamMessage(buf, SchemaDescriptor.codec(), opts)
  }
}

export interface MessageDescriptor {
  fullName: string
  event: boolean
  fields: FieldDescriptor[]
}

export namespace MessageDescriptor {
  let _codec: Codec<MessageDescriptor>

  export const codec = (): Codec<MessageDescriptor> => {
    if (_codec == null) {
      _codec = message<MessageDescriptor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.fullName != null && obj.fullName !== '')) {
          w.uint32(10)
          w.string(obj.fullName)
        }

        if ((obj.event != null && obj.event !== false)) {
          w.uint32(16)
          w.bool(obj.event)
        }

        if (obj.fields != null && obj.fields.length > 0) {
          for (const value of obj.fields) {
            w.uint32(26)
            FieldDescriptor.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          fullName: '',
          event: false,
          fields: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.fullName = reader.string()
              break
            }
            case 2: {
              obj.event = reader.bool()
              break
            }
            case 3: {
              if (opts.limits?.fields != null && obj.fields.length === opts.limits.fields) {
                throw new MaxLengthError('Decode error - repeated field "fields" had too many elements')
              }

              obj.fields.push(FieldDescriptor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fields$
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
          fields: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.fullName`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.event`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              if (opts.limits?.fields != null && obj.fields === opts.limits.fields) {
                throw new MaxLengthError('Streaming decode error - repeated field "fields" had too many elements')
              }

              for (const evt of FieldDescriptor.codec().stream(reader, reader.uint32(), `${prefix}.fields[]`, {
                limits: opts.limits?.fields$
              })) {
                yield {
                  ...evt,
                  index: obj.fields
                }
              }

              obj.fields++

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

  export interface MessageDescriptorFullNameFieldEvent {
    field: '$.fullName'
    value: string
  }

  export interface MessageDescriptorEventFieldEvent {
    field: '$.event'
    value: boolean
  }

  export interface MessageDescriptorFieldsNumberFieldEvent {
    field: '$.fields[].number'
    value: number
    index: number
  }

  export interface MessageDescriptorFieldsNameFieldEvent {
    field: '$.fields[].name'
    value: string
    index: number
  }

  export interface MessageDescriptorFieldsLabelFieldEvent {
    field: '$.fields[].label'
    value: Label
    index: number
  }

  export interface MessageDescriptorFieldsTypeFieldEvent {
    field: '$.fields[].type'
    value: Type
    index: number
  }

  export interface MessageDescriptorFieldsTypeNameFieldEvent {
    field: '$.fields[].typeName'
    value: string
    index: number
  }

  export interface MessageDescriptorFieldsKeyTypeFieldEvent {
    field: '$.fields[].keyType'
    value: Type
    index: number
  }

  export interface MessageDescriptorFieldsOneofFieldEvent {
    field: '$.fields[].oneof'
    value: string
    index: number
  }

  export function encode (obj: Partial<MessageDescriptor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MessageDescriptor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MessageDescriptor>): MessageDescriptor {
    return decodeMessage(buf, MessageDescriptor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MessageDescriptor>): Generator<MessageDescriptorFullNameFieldEvent | MessageDescriptorEventFieldEvent | MessageDescriptorFieldsNumberFieldEvent | MessageDescriptorFieldsNameFieldEvent | MessageDescriptorFieldsLabelFieldEvent | MessageDescriptorFieldsTypeFieldEvent | MessageDescriptorFieldsTypeNameFieldEvent | MessageDescriptorFieldsKeyTypeFieldEvent | MessageDescriptorFieldsOneofFieldEvent> {
    return streamMessage(buf, MessageDescriptor.codec(), opts)
  }
}

export interface FieldDescriptor {
  number: number
  name: string
  label: Label
  type: Type
  typeName: string
  keyType: Type
  oneof: string
}

export namespace FieldDescriptor {
  let _codec: Codec<FieldDescriptor>

  export const codec = (): Codec<FieldDescriptor> => {
    if (_codec == null) {
      _codec = message<FieldDescriptor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.number != null && obj.number !== 0)) {
          w.uint32(8)
          w.uint32(obj.number)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(18)
          w.string(obj.name)
        }

        if (obj.label != null && __LabelValues[obj.label] !== 0) {
          w.uint32(24)
          Label.codec().encode(obj.label, w)
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(32)
          Type.codec().encode(obj.type, w)
        }

        if ((obj.typeName != null && obj.typeName !== '')) {
          w.uint32(42)
          w.string(obj.typeName)
        }

        if (obj.keyType != null && __TypeValues[obj.keyType] !== 0) {
          w.uint32(48)
          Type.codec().encode(obj.keyType, w)
        }

        if ((obj.oneof != null && obj.oneof !== '')) {
          w.uint32(58)
          w.string(obj.oneof)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          number: 0,
          name: '',
          label: Label.OPTIONAL,
          type: Type.NONE,
          typeName: '',
          keyType: Type.NONE,
          oneof: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.number = reader.uint32()
              break
            }
            case 2: {
              obj.name = reader.string()
              break
            }
            case 3: {
              obj.label = Label.codec().decode(reader)
              break
            }
            case 4: {
              obj.type = Type.codec().decode(reader)
              break
            }
            case 5: {
              obj.typeName = reader.string()
              break
            }
            case 6: {
              obj.keyType = Type.codec().decode(reader)
              break
            }
            case 7: {
              obj.oneof = reader.string()
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
                field: `${prefix}.number`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.label`,
                value: Label.codec().decode(reader)
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.type`,
                value: Type.codec().decode(reader)
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.typeName`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.keyType`,
                value: Type.codec().decode(reader)
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.oneof`,
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

  export interface FieldDescriptorNumberFieldEvent {
    field: '$.number'
    value: number
  }

  export interface FieldDescriptorNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface FieldDescriptorLabelFieldEvent {
    field: '$.label'
    value: Label
  }

  export interface FieldDescriptorTypeFieldEvent {
    field: '$.type'
    value: Type
  }

  export interface FieldDescriptorTypeNameFieldEvent {
    field: '$.typeName'
    value: string
  }

  export interface FieldDescriptorKeyTypeFieldEvent {
    field: '$.keyType'
    value: Type
  }

  export interface FieldDescriptorOneofFieldEvent {
    field: '$.oneof'
    value: string
  }

  export function encode (obj: Partial<FieldDescriptor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FieldDescriptor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FieldDescriptor>): FieldDescriptor {
    return decodeMessage(buf, FieldDescriptor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FieldDescriptor>): Generator<FieldDescriptorNumberFieldEvent | FieldDescriptorNameFieldEvent | FieldDescriptorLabelFieldEvent | FieldDescriptorTypeFieldEvent | FieldDescriptorTypeNameFieldEvent | FieldDescriptorKeyTypeFieldEvent | FieldDescriptorOneofFieldEvent> {
    return streamMessage(buf, FieldDescriptor.codec(), opts)
  }
}

export enum Label {
  OPTIONAL = 'OPTIONAL',
  REQUIRED = 'REQUIRED',
  REPEATED = 'REPEATED'
}

enum __LabelValues {
  OPTIONAL = 0,
  REQUIRED = 1,
  REPEATED = 2
}

export namespace Label {
  export const codec = (): Codec<Label> => {
    return enumeration<Label>(__LabelValues)
  }
}

export enum Type {
  NONE = 'NONE',
  DOUBLE = 'DOUBLE',
  FLOAT = 'FLOAT',
  INT64 = 'INT64',
  UINT64 = 'UINT64',
  INT32 = 'INT32',
  FIXED64 = 'FIXED64',
  FIXED32 = 'FIXED32',
  BOOL = 'BOOL',
  STRING = 'STRING',
  GROUP = 'GROUP',
  MESSAGE = 'MESSAGE',
  BYTES = 'BYTES',
  UINT32 = 'UINT32',
  ENUM = 'ENUM',
  SFIXED32 = 'SFIXED32',
  SFIXED64 = 'SFIXED64',
  SINT32 = 'SINT32',
  SINT64 = 'SINT64'
}

enum __TypeValues {
  NONE = 0,
  DOUBLE = 1,
  FLOAT = 2,
  INT64 = 3,
  UINT64 = 4,
  INT32 = 5,
  FIXED64 = 6,
  FIXED32 = 7,
  BOOL = 8,
  STRING = 9,
  GROUP = 10,
  MESSAGE = 11,
  BYTES = 12,
  UINT32 = 13,
  ENUM = 14,
  SFIXED32 = 15,
  SFIXED64 = 16,
  SINT32 = 17,
  SINT64 = 18
}

export namespace Type {
  export const codec = (): Codec<Type> => {
    return enumeration<Type>(__TypeValues)
  }
}

export interface EnumDescriptor {
  fullName: string
  values: EnumValue[]
}

export namespace EnumDescriptor {
  let _codec: Codec<EnumDescriptor>

  export const codec = (): Codec<EnumDescriptor> => {
    if (_codec == null) {
      _codec = message<EnumDescriptor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.fullName != null && obj.fullName !== '')) {
          w.uint32(10)
          w.string(obj.fullName)
        }

        if (obj.values != null && obj.values.length > 0) {
          for (const value of obj.values) {
            w.uint32(18)
            EnumValue.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          fullName: '',
          values: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.fullName = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.values != null && obj.values.length === opts.limits.values) {
                throw new MaxLengthError('Decode error - repeated field "values" had too many elements')
              }

              obj.values.push(EnumValue.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.values$
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
          values: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.fullName`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.values != null && obj.values === opts.limits.values) {
                throw new MaxLengthError('Streaming decode error - repeated field "values" had too many elements')
              }

              for (const evt of EnumValue.codec().stream(reader, reader.uint32(), `${prefix}.values[]`, {
                limits: opts.limits?.values$
              })) {
                yield {
                  ...evt,
                  index: obj.values
                }
              }

              obj.values++

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

  export interface EnumDescriptorFullNameFieldEvent {
    field: '$.fullName'
    value: string
  }

  export interface EnumDescriptorValuesNameFieldEvent {
    field: '$.values[].name'
    value: string
    index: number
  }

  export interface EnumDescriptorValuesNumberFieldEvent {
    field: '$.values[].number'
    value: number
    index: number
  }

  export function encode (obj: Partial<EnumDescriptor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EnumDescriptor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnumDescriptor>): EnumDescriptor {
    return decodeMessage(buf, EnumDescriptor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnumDescriptor>): Generator<EnumDescriptorFullNameFieldEvent | EnumDescriptorValuesNameFieldEvent | EnumDescriptorValuesNumberFieldEvent> {
    return streamMessage(buf, EnumDescriptor.codec(), opts)
  }
}

export interface EnumValue {
  name: string
  number: number
}

export namespace EnumValue {
  let _codec: Codec<EnumValue>

  export const codec = (): Codec<EnumValue> => {
    if (_codec == null) {
      _codec = message<EnumValue>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.number != null && obj.number !== 0)) {
          w.uint32(16)
          w.int32(obj.number)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          number: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.number = reader.int32()
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
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.number`,
                value: reader.int32()
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

  export interface EnumValueNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface EnumValueNumberFieldEvent {
    field: '$.number'
    value: number
  }

  export function encode (obj: Partial<EnumValue>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EnumValue.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnumValue>): EnumValue {
    return decodeMessage(buf, EnumValue.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnumValue>): Generator<EnumValueNameFieldEvent | EnumValueNumberFieldEvent> {
    return streamMessage(buf, EnumValue.codec(), opts)
  }
}
