import { mkdtemp, rm, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { MemoryLevel } from 'memory-level'
import { ClassicLevel } from 'classic-level'
import type { Test } from 'uvu'
import { Log, type LogInit } from '../src/log/log.js'
import { readSeq, seqKey, unpackFeed } from '../src/log/keys.js'
import { sublevels } from '../src/log/level.js'
import type { Sub } from '../src/log/types.js'

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures')

export async function fixture (name: string): Promise<string> {
  return readFile(join(FIXTURES, name), 'utf8')
}

/** A fresh temp folder, removed by the returned cleanup. */
export async function tempDir (): Promise<{ path: string, cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'hyperemitter-test-'))
  return { path, cleanup: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** The two level implementations every log test runs on. */
export const LEVELS = {
  'memory-level': () => Promise.resolve({ db: new MemoryLevel(), path: undefined as string | undefined, cleanup: async () => {} }),
  'classic-level': async () => {
    const dir = await tempDir()
    const path = join(dir.path, 'db')
    return { db: new ClassicLevel(path), path, cleanup: dir.cleanup }
  },
  // as HyperEmitter opens a folder: commits go as chained batches (level.ts writeBatch)
  'classic-level, buffers': async () => {
    const dir = await tempDir()
    const path = join(dir.path, 'db')
    return { db: new ClassicLevel(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' }), path, cleanup: dir.cleanup }
  }
}

export function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void, reject: (e: unknown) => void } {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Resolves once `check` is true, polling; rejects after `ms`. */
export async function until (check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

/** Emitters made by a test, closed by `closeAll`. */
export class Cluster {
  readonly emitters: Array<{ close: () => Promise<void> }> = []
  add<T extends { close: () => Promise<void> }> (e: T): T {
    this.emitters.push(e)
    return e
  }

  async closeAll (): Promise<void> {
    await Promise.all(this.emitters.splice(0).map(async e => { await e.close().catch(() => {}) }))
  }
}

/** Resolves with the next `count` payloads of event `name` on `emitter`. */
export function collect<T = Record<string, unknown>> (emitter: { on: (name: string, fn: (m: T) => void) => unknown }, name: string, count: number, ms = 10_000): Promise<T[]> {
  const got: T[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { reject(new Error(`got ${got.length} of ${count} ${name} events`)) }, ms)
    emitter.on(name, (m: T) => {
      got.push(m)
      if (got.length === count) { clearTimeout(timer); resolve(got) }
    })
  })
}

/** A log opened by `logOpener`, with its level and the folder behind it (classic-level). */
export interface OpenedLog { log: Log, db: ClassicLevel | MemoryLevel, path: string | undefined, cleanup: () => Promise<void> }

/**
 * Opens logs for the tests of suite `t` on the levels `make` makes; each is
 * closed and removed after its test, even one that failed half-way.
 */
export function logOpener (t: Test, make: () => Promise<{ db: ClassicLevel | MemoryLevel, path: string | undefined, cleanup: () => Promise<void> }>): (init?: LogInit) => Promise<OpenedLog> {
  const opened: OpenedLog[] = []
  t.after.each(async () => {
    for (const { log, cleanup } of opened.splice(0)) {
      await log.close().catch(() => {})
      await cleanup()
    }
  })
  return async (init?: LogInit) => {
    const lv = await make()
    const handle = { log: await Log.open(lv.db, init), ...lv }
    opened.push(handle)
    return handle
  }
}

/**
 * Flips the last byte of the entry at feed position `seq` in a log's feed
 * (`sublevels(db).feed`): a damaged entry, for verify to find.
 */
export async function flipFeedByte (feed: Sub, seq: number): Promise<void> {
  const [[key, value]] = await feed.iterator({ lte: seqKey(seq), reverse: true, limit: 1 }).all()
  let end = -1
  unpackFeed(readSeq(key), value, (at, item) => { if (at === seq) end = item.byteOffset - value.byteOffset + item.byteLength })
  if (end < 0) throw new Error(`no entry at feed position ${seq}`)
  const record = Buffer.from(value)
  record[end - 1] ^= 1
  await feed.put(key, record)
}

/** flipFeedByte on the db at `path` (closed). */
export async function flipStoredByte (path: string, seq: number): Promise<void> {
  const level = new ClassicLevel<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
  try {
    await flipFeedByte(sublevels(level).feed, seq)
  } finally {
    await level.close()
  }
}
