// The part of Hypercore 11 (untyped JavaScript) that bench/peers.ts uses.
declare module 'hypercore' {
  import type { Duplex } from 'node:stream'

  interface Range {
    done: () => Promise<void>
    destroy: () => void
  }

  export default class Hypercore {
    /** storage: a folder (RocksDB through hypercore-storage); key: another core's, to replicate it */
    constructor (storage: string, key?: Uint8Array | null)
    readonly key: Uint8Array
    readonly length: number
    readonly contiguousLength: number
    ready (): Promise<void>
    append (blocks: Uint8Array | Uint8Array[]): Promise<{ length: number, byteLength: number }>
    /** a streamx duplex (Noise over the given transport); it pipes like a Node stream */
    replicate (isInitiator: boolean): Duplex
    download (range?: { start?: number, end?: number, linear?: boolean }): Range
    /** the blocks from `start`, and with `live` those appended later, as they come */
    createReadStream (opts?: { start?: number, end?: number, live?: boolean }): { on: (event: 'data' | 'error', fn: (value: unknown) => void) => void, destroy: () => void }
    close (): Promise<void>
  }
}
