import type { HyperEmitter, StatusEvents } from '../index.js'
import { catchUpStatus, type Progress } from './progress.js'

/** Prints peer connections and refusals, one line each; returns the unsubscribe. */
export function reportStatus (emitter: HyperEmitter, notice: (line: string) => void): () => void {
  const handlers = {
    'peer:connect': (e: StatusEvents['peer:connect']) => {
      const address = emitter.peers().find(p => p.id === e.peer)?.address.replace(/\/p2p\/[^/]+$/, '')
      notice(`hypem: peer ${e.peer} connected${address != null && address !== '' ? ` from ${address}` : ''}`)
    },
    'peer:disconnect': (e: StatusEvents['peer:disconnect']) => { notice(`hypem: peer ${e.peer} disconnected`) },
    'peer:refused': (e: StatusEvents['peer:refused']) => {
      notice(e.remote ? `hypem: peer ${e.peer} refused this node: ${e.code}: ${e.reason}` : `hypem: refused peer ${e.peer}: ${e.code}: ${e.reason}`)
    },
    'peer:invalid': (e: StatusEvents['peer:invalid']) => { notice(`hypem: peer ${e.peer} sent ${e.count} invalid entries: ${e.reason}`) }
  }
  for (const [name, fn] of Object.entries(handlers)) emitter.status.on(name, fn)
  return () => { for (const [name, fn] of Object.entries(handlers)) emitter.status.off(name, fn) }
}

/** A progress line for every peer that connects, until it has sent what this node lacked. */
export function showCatchUp (emitter: HyperEmitter, progress: Progress): () => void {
  if (!progress.enabled) return () => {}
  const started = new Map<string, { at: number, received: number }>()
  const end = ({ peer }: { peer: string }): void => {
    started.delete(peer)
    progress.delete(`catch-up ${peer}`)
  }
  const begin = ({ peer }: { peer: string }): void => {
    const info = emitter.peers().find(p => p.id === peer)
    if (info?.synced === true) return
    started.set(peer, { at: Date.now(), received: info?.received ?? 0 })
    progress.set(`catch-up ${peer}`, tick => {
      const from = started.get(peer)
      const received = (emitter.peers().find(p => p.id === peer)?.received ?? 0) - (from?.received ?? 0)
      return catchUpStatus({ received, length: emitter.log.closed ? 0 : emitter.log.length, ms: Date.now() - (from?.at ?? Date.now()), tick })
    })
  }
  emitter.status.on('peer:connect', begin)
  emitter.status.on('peer:synced', end)
  emitter.status.on('peer:disconnect', end)
  return () => {
    emitter.status.off('peer:connect', begin)
    emitter.status.off('peer:synced', end)
    emitter.status.off('peer:disconnect', end)
  }
}
