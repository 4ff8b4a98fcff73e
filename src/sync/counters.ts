// What the sync sessions of one node did, summed over all of them since the
// node started: the figures that tell how well the broadcast tree works
// (protocols/README.md §5.8). Plain numbers, raised by SessionCore and the
// sync service; read them as a copy (`SyncService.counters`).

/** The counters as plain data. (Entries sent but not stored are the copies that crossed: entriesSent summed over a cluster, less entriesStored.) */
export type SyncFigures = { [K in Exclude<keyof SyncCounters, 'snapshot'>]: number }

export class SyncCounters {
  /** entries sent in Entries frames */
  entriesSent = 0
  /** entries received and stored */
  entriesStored = 0
  /** authors this node asked peers not to push (in Prune frames) */
  prunesSent = 0
  /** authors peers asked this node not to push */
  prunesReceived = 0
  /** authors this node asked peers to push again (in Graft frames), for any reason */
  graftsSent = 0
  /** ... of them, because an IHave announced entries that did not come in time (LazyRepair) */
  repairGrafts = 0
  /** authors peers asked this node to push again */
  graftsReceived = 0
  /** items (author, seq) this node announced in IHave frames */
  ihavesSent = 0
  /** items peers announced to this node */
  ihavesReceived = 0

  /** A copy, as plain data. */
  snapshot (): SyncFigures {
    return { ...this }
  }
}
