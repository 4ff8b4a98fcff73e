import { SyncService } from './service.js'
import type { SyncComponents, SyncInit } from './types.js'

export { PROTOCOL, REFUSE } from './constants.js'
export type { RefuseName } from './constants.js'
export type { SyncEvents, SyncEvent, SyncInit, SyncComponents } from './types.js'
export { SyncService }
export { LocalDescriptor } from './schemas.js'

/** The sync service, for libp2p's `services`: `{ sync: hyperSync(init) }`. */
export function hyperSync (init: SyncInit): (components: SyncComponents) => SyncService {
  return (components) => new SyncService(components, init)
}
