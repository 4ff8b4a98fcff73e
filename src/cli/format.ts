import { inspect } from 'node:util'

/** An event as a line of ndjson carries it. */
export interface EventLine {
  name: string
  payload: Record<string, unknown>
}

/** An event as hypem prints it: one of the schema, or one it does not define (its payload the raw bytes). */
export type PrintedEvent = (EventLine & { unknown?: undefined }) | { name: string, payload: Uint8Array, unknown: true }

/** A line of input that is not an event; its message says why. */
export class LineError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'LineError'
  }
}

// bytes fields go out as base64, which protobufjs takes back for bytes fields;
// `this[key]` is the value before Buffer#toJSON turned it into { type, data }
function replacer (this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key]
  if (raw instanceof Uint8Array) return Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64')
  if (typeof value === 'bigint') return value.toString()
  return value
}

/**
 * One ndjson line, with its newline: `{"name":...,"payload":...}`, or for an
 * event the schema does not define `{"name":...,"payload":"<base64>","unknown":true}`.
 */
export function toJsonLine (event: PrintedEvent): string {
  const line = event.unknown === true ? { name: event.name, payload: event.payload, unknown: true } : { name: event.name, payload: event.payload }
  return JSON.stringify(line, replacer) + '\n'
}

/** An input line: an event, and the idempotency key to emit it with, if any. */
export interface InputLine extends EventLine {
  key?: string
}

/** Longest idempotency key (the library's limit, kept here to report the line). */
const MAX_KEY_BYTES = 256

/** Parses one ndjson input line; throws LineError when it is not `{ name, payload?, key? }`. */
export function parseJsonLine (line: string): InputLine {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch (err) {
    throw new LineError(`not JSON: ${(err as Error).message}`)
  }
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new LineError('not a {"name":...,"payload":...} object')
  const { name, payload, key } = value as { name?: unknown, payload?: unknown, key?: unknown }
  if (typeof name !== 'string' || name === '') throw new LineError('"name" must be the event name, a string')
  if (payload != null && (typeof payload !== 'object' || Array.isArray(payload))) throw new LineError('"payload" must be an object')
  if (key != null && (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES)) throw new LineError(`"key" must be a string of 1 to ${MAX_KEY_BYTES} bytes`)
  const event: InputLine = { name, payload: (payload ?? {}) as Record<string, unknown> }
  if (key != null) event.key = key
  return event
}

/**
 * An event as the REPL prints it: `Hello { from: 'Matteo', message: '' }`;
 * one the schema does not define: `Farewell (not in this schema, 5 bytes)`.
 */
export function formatEvent (event: PrintedEvent, colors = false): string {
  if (event.unknown === true) return `${event.name} (not in this schema, ${event.payload.byteLength} bytes)`
  return `${event.name} ${inspect(event.payload, { colors, depth: 6, breakLength: 80 })}`
}

/** An error as one line, without a stack: `Name: message`. */
export function describeError (err: unknown): string {
  if (err instanceof Error) {
    const inner = (err as { errors?: unknown[] }).errors
    if (err.message === '' && Array.isArray(inner) && inner.length > 0) return describeError(inner[0])
    const message = err.message.split('\n')[0]
    const name = err.name === 'Error' || err.name === '' ? '' : `${err.name}: `
    return name + message
  }
  return String(err)
}
