// The context entries one peer sent (protocols/README.md §5.9): dropped
// entries that the entries it sends rest on, held for an Ingester like its
// pending entries and bounded alike, and what they resolve in a store round:
// the floor an author's chain may start on here, and the links they stand for.
import { readEntry, toHex, verifyEntry, type DecodedEntry, type Head } from './entry.js'
import { CutEntry, type Log } from './log.js'
import { Context, type Pending } from './held.js'

export class PeerContext {
  readonly #log: Log
  /** the most entries held: past it, all are dropped */
  readonly #max: number
  // context entries from the peer, by hex id
  readonly #entries = new Map<string, Context>()
  // the newest signed context entry of each author (hex): the floor a link below it may rely on
  readonly #signedTop = new Map<string, Context>()

  constructor (log: Log, max: number) {
    this.#log = log
    this.#max = max
  }

  // One whose signature is there but does not verify is taken as unsigned.
  take (context: DecodedEntry[], now: number): void {
    for (const d of context) {
      const hex = toHex(d.id)
      if (this.#entries.has(hex)) continue
      if (this.#entries.size >= this.#max) this.clear()
      let signed = d.entry.signature.byteLength > 0
      if (signed) {
        try {
          verifyEntry(d)
        } catch {
          signed = false
        }
      }
      const bytes = d.bytes.slice()
      const ctx = new Context(new CutEntry(d.id, bytes, readEntry(bytes)), toHex(d.entry.author), signed, now)
      this.#entries.set(hex, ctx)
      const top = this.#signedTop.get(ctx.author)
      if (signed && (top == null || top.c.entry.seq < ctx.c.entry.seq)) this.#signedTop.set(ctx.author, ctx)
    }
  }

  /**
   * The floor `p` may start its author's chain on here: the peer sent the
   * entry before it as context, and nothing of that author is kept here
   * (`real`: the author has entries here, or ready in this round). The prev
   * is covered by the signature that covers `p`.
   */
  floorFor (p: Pending, real: boolean, above: number): CutEntry | undefined {
    if (real) return undefined
    const ctx = this.#entries.get(toHex(p.d.entry.prev))
    if (ctx == null || ctx.author !== p.author || ctx.c.entry.seq !== p.d.entry.seq - 1 || ctx.c.entry.seq <= above) return undefined
    return this.#log.mayAdopt(p.author, ctx.c.entry.seq) ? ctx.c : undefined
  }

  /**
   * A link to an entry this node does not hold, that the peer sent as
   * context: it stands for the dropped entry when it is below its author's
   * floor here (one this node has, or takes in this round: `floors`), or when
   * its own signature lets it start its author's floor here (then added to
   * `floors`, unless the author has entries ready in this round: `heads`).
   */
  cutLink (hex: string, floors: Map<string, CutEntry>, heads: Map<string, Head>): CutEntry | undefined {
    const ctx = this.#entries.get(hex)
    if (ctx == null) return undefined
    const adopted = floors.get(ctx.author)
    const floor = adopted != null ? adopted.entry.seq + 1 : this.#log.authorFloor(ctx.author)?.seq ?? 1
    if (ctx.c.entry.seq < floor) return ctx.c
    // the author's newest signed entry the peer sent, this one or a later one
    // (the one before the author's floor there), starts its floor here
    const top = ctx.signed ? ctx : this.#signedTop.get(ctx.author)
    if (top == null || top.c.entry.seq < ctx.c.entry.seq || heads.has(ctx.author) || !this.#log.mayAdopt(ctx.author, top.c.entry.seq)) return undefined
    if (top !== ctx && !this.#entries.has(toHex(top.c.id))) return undefined
    floors.set(ctx.author, top.c)
    return ctx.c
  }

  /** Drops the entries taken before `oldest` (ms). */
  expire (oldest: number): void {
    for (const [hex, c] of this.#entries) if (c.at < oldest) this.#entries.delete(hex)
    for (const [author, c] of this.#signedTop) if (c.at < oldest) this.#signedTop.delete(author)
  }

  clear (): void {
    this.#entries.clear()
    this.#signedTop.clear()
  }
}
