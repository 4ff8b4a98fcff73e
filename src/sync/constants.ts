import { MAX_GROUP } from '../log/log.js'
import { MAX_LINKS } from '../log/entry.js'

export const PROTOCOL_NAME = 'hyperemitter/sync'
export const PROTOCOL_VERSION = 1
/** The libp2p protocol id the sync service handles. */
export const PROTOCOL = `/${PROTOCOL_NAME}/${PROTOCOL_VERSION}.0.0`

/** Largest frame read: a batch (MAX_BATCH_BYTES) plus one largest entry and framing. */
export const MAX_FRAME_BYTES = 1024 * 1024
/** A sender closes a batch at this size: per-frame cost dominates below, memory above. */
export const MAX_BATCH_BYTES = 512 * 1024
/** Most entries in one frame, also a decode limit. */
export const MAX_BATCH_ENTRIES = 4096
/**
 * Most context entries in one Entries frame, a decode limit; and at most
 * CONTEXT_PER_ENTRY per entry of the frame (the one before a floor, each
 * link, and the one before each linked author's floor), or it is a PROTOCOL
 * error (protocols/README.md §5.9).
 */
export const MAX_CONTEXT = MAX_BATCH_ENTRIES
export const CONTEXT_PER_ENTRY = 2 * MAX_LINKS + 1
/** Entries frames a sender may have unacknowledged: bounds the receiver's buffer. */
export const WINDOW = 4
/**
 * The receive window a sync stream asks of its muxer: the Entries frames the
 * credits allow, so that a sender waits on credits alone. A catch-up's first
 * frames would otherwise wait for yamux window updates from a receiver that
 * is busy checking the frame before them.
 */
export const STREAM_WINDOW = WINDOW * MAX_FRAME_BYTES
/** Entries a sender reads from its log at once in catch-up: a few frames' worth, framed while the last ones wait for credits. */
export const READ_BATCH = 4 * MAX_BATCH_ENTRIES
/**
 * Entries of a catch-up's first read; each next read takes four times as
 * many, up to READ_BATCH. The first frame crosses in one stream window, and
 * the remote checks it while the next read runs.
 */
export const FIRST_READ = 1024
/**
 * Entries a session's receiver may hold while they wait for a signature or
 * parents (its Ingester's bound): every frame the window allows, and an
 * unsigned group tail.
 */
export const SESSION_MAX_PENDING = WINDOW * MAX_BATCH_ENTRIES + 2 * MAX_GROUP
/**
 * Entries a receiver decodes at once, at most one such part ahead of the
 * store: decoded, an entry takes several times its encoded size, and entries
 * that live across a few scavenges go to V8's old generation until a full GC.
 */
export const RECEIVE_PART = 1024
/**
 * Entries frames with at least this many signed entries are hashed and
 * their signatures checked on the node's check pool while the last ones
 * are stored. Others (a live push, or a catch-up of groups, one signature
 * each) are checked on this thread: the copy to a worker and back costs
 * more than their hashes.
 */
export const CHECK_FROM = 32
/** Most authors in a Hello (about 38 bytes each, so the Hello fits MAX_FRAME_BYTES). */
export const MAX_HAVE = 20_000
/** A peer that does not say Hello within this time is dropped. */
export const HANDSHAKE_TIMEOUT = 10_000
/** Commits queued for live push per session; past it the sender re-reads the db. */
export const LIVE_QUEUE = 8192
/** Held entries are tried again this long after a commit of the node (their parents may have come through another session). */
export const RETRY_MS = 10
/** How often a session with a peer that is not lazy/1 asks it again for the authors it pruned there (see Graft). */
export const REGRAFT_MS = 2000
/**
 * Hello features: optional behaviours this implementation offers. A peer
 * uses one only when both Hellos name it; an older peer names none.
 */
export const FEATURE_LAZY = 'lazy/1'
export const FEATURES: readonly string[] = [FEATURE_LAZY]
/** Most features a Hello may name (a decode limit); longer names than MAX_FEATURE_LENGTH are ignored. */
export const MAX_FEATURES = 32
export const MAX_FEATURE_LENGTH = 64
/**
 * How long entries left out for a lazy/1 peer wait before an IHave announces
 * them: the IHaves of a round go after the entries pushed down the tree
 * instead of competing with them, and those of a stream of commits go as
 * one.
 */
export const IHAVE_DELAY = 50
/**
 * How long after an IHave announced entries this node lacks it waits, at
 * least, for them to come by an eager path before it grafts the announcing
 * peer: a few round trips and a store pass, so that a healthy tree is not
 * doubled. The wait grows with how late the tree delivers (LazyRepair).
 */
export const GRAFT_TIMEOUT = 400
/**
 * The most that wait grows to, and the longest a node defers a graft while
 * it is behind or its tree still delivers the author: a loaded cluster's
 * tree is late, a broken one is repaired within this.
 */
export const MAX_GRAFT_TIMEOUT = 30_000
/** The wait is this many times the longest lag of the tree sampled lately. */
export const LAG_FACTOR = 2
/** How long a sampled lag counts: once the load is over, the wait is back at GRAFT_TIMEOUT within this. */
export const LAG_MEMORY = 5_000
/**
 * A first deliverer that sent nothing for this long (and for the wait) no
 * longer counts as delivering: a connection that outlived a partition can
 * stay silent for seconds after the heal, in TCP's retransmission backoff.
 * Shorter, a process that is only busy would count as gone.
 */
export const DELIVERER_SILENCE = 2000
/** How long after a graft for entries still missing the next announcer is grafted. */
export const GRAFT_RETRY = 200
/** Announcing peers remembered per author for grafts: a few more than the ~6 active peers of an overlay. */
export const MAX_ANNOUNCERS = 8
/**
 * Live entries of each author a lazy/1 peer has not taken yet that go in one
 * probe: if the peer has them from another path it prunes the author, and
 * only these crossed the link twice; if not, the rest follow its Ack, one
 * round trip later.
 */
export const PROBE_ENTRIES = 1
/** Invalid entries a peer may send in one session before it is dropped. */
export const MAX_INVALID = 16
/** How long a dropped peer is kept away. */
export const BLOCK_MS = 60_000
/**
 * How often the service looks for connections that have no session (it ended,
 * or a block expired) and opens one: sessions come back within about this.
 */
export const RECONCILE_MS = 1000
/** Longest wait before a session is opened again to a peer that keeps refusing them. */
export const MAX_REOPEN_BACKOFF = 30_000
/**
 * A session this long past its handshake gives way to a new stream from the
 * same peer: the peer opens one only when it has no session, so the old one
 * is dead on its side (a connection dropped during a partition that this
 * side has not noticed yet). Younger ones are a simultaneous open.
 */
export const REPLACE_AFTER_MS = 2000
/** Sync streams per connection: one, and one more while a duplicate is resolved. */
export const MAX_STREAMS = 2
/** Time to open a sync stream on a new connection. */
export const OPEN_TIMEOUT = 10_000
/** Time for a stream's close (its last frames flushed) before it is reset. */
export const CLOSE_TIMEOUT = 1000

/** Refuse codes (sync.proto RefuseCode), sent as numbers so that new ones decode. */
export const REFUSE = { UNKNOWN: 0, VERSION: 1, SCHEMA: 2, TOPIC: 3, INVALID_ENTRY: 4, PROTOCOL: 5, LIMIT: 6 } as const
export type RefuseName = keyof typeof REFUSE

export function refuseName (code: number): RefuseName {
  return (Object.keys(REFUSE) as RefuseName[]).find(k => REFUSE[k] === code) ?? 'UNKNOWN'
}
