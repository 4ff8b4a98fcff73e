// The types that let `HyperEmitter<E>` check event names and messages at
// compile time. `hypem types schema.proto` writes an E for a schema; the
// emitter never sees E at run time, where the schema alone decides.
import type { HyperEmitter } from './emitter.js'
import type { Event, KnownEvent, UnknownEvent } from './reader.js'

/**
 * The two messages of one event type. They differ: `emit` takes enum values
 * as numbers and 64-bit integers as numbers or `{ low, high }`, and may leave
 * fields out; listeners and readers get enum values by name, 64-bit integers
 * as numbers, and every field with its default filled in.
 */
export interface EventMessages<Input = unknown, Output = unknown> {
  /** what `emit(name, message)` takes */
  input: Input
  /** what listeners and readers get */
  output: Output
}

/**
 * Event types by event name: the `E` of `HyperEmitter<E>`. `hypem types
 * schema.proto` writes one for a schema (its `Events`). An interface
 * qualifies as well as a type literal.
 */
export type EventMap<E = Record<string, EventMessages>> = { [N in keyof E]: EventMessages }

/**
 * The events of an emitter made without an event map: any name, any message
 * (checked at run time only), and listeners that get a plain object.
 */
export type UntypedEvents = Record<string, EventMessages<unknown, Record<string, unknown>>>

/** The event names of `E`: every string for an untyped emitter. */
export type EventName<E> = keyof E & string

/** Whether `E` names its events (false for UntypedEvents and other index signatures). */
type Untyped<E> = string extends EventName<E> ? true : false

/** What `emit(name, message)` takes for event `N`. */
export type EmitMessage<E extends EventMap<E>, N extends EventName<E>> = E[N]['input']

/**
 * What a listener of event `N` gets: `E[N]['output']`, or, on an untyped
 * emitter, `T` (the listener's own type argument, a plain object by default).
 */
export type ListenerMessage<E extends EventMap<E>, N extends EventName<E>, T = Record<string, unknown>> =
  Untyped<E> extends true ? T : E[N]['output']

/**
 * One event as `events()` yields it from a typed emitter: a KnownEvent whose
 * `name` tells its payload's type, or an UnknownEvent (check `unknown`
 * first). An untyped emitter yields `Event`.
 */
export type TypedEvent<E extends EventMap<E>> = Untyped<E> extends true
  ? Event
  : { [N in EventName<E>]: KnownEvent<E[N]['output']> & { name: N } }[EventName<E>] | UnknownEvent

/**
 * An emitter of any event map, typed or not: the type of a parameter that
 * takes every emitter. A `HyperEmitter<Events>` does not go where a plain
 * `HyperEmitter` is expected: that one's listeners may ask for any message
 * type (`on<T>`), which a typed emitter cannot promise.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyHyperEmitter = HyperEmitter<any>
