import protobuf from 'protobufjs'
import { SchemaError } from '../errors.js'

/** The built-in message every node writes when it listens. */
export const EVENT_PEER_PROTO = `
syntax = "proto3";
message EventPeer {
  message Address {
    string ip = 1;
    uint32 port = 2;
  }
  string id = 1;
  repeated Address addresses = 2;
}
`

/**
 * Parses a user's `.proto` text as every node does: field names as written
 * (`keepCase`), plus the built-in EventPeer unless the schema defines one,
 * every type resolved. Throws SchemaError.
 */
export function parseSchema (text: string): protobuf.Root {
  const root = new protobuf.Root()
  try {
    protobuf.parse(text, root, { keepCase: true })
    // a schema may define EventPeer itself (the reference's fixtures do not)
    if (root.lookup('EventPeer') == null) protobuf.parse(EVENT_PEER_PROTO, root, { keepCase: true })
    root.resolveAll()
  } catch (err) {
    throw new SchemaError(`cannot parse schema: ${(err as Error).message}`, { cause: err })
  }
  return root
}

/**
 * The event types: the messages of the file and its packages. Messages nested
 * in a message (EventPeer.Address) are field types, not events.
 */
export function eventTypes (ns: protobuf.NamespaceBase, out: protobuf.Type[] = []): protobuf.Type[] {
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested)
    else if (nested instanceof protobuf.Namespace) eventTypes(nested, out)
  }
  return out
}
