// The recent DAG: the last entries of the change feed, one lane per author,
// in feed order from left to right. An entry's `prev` (its author's entry
// before it) runs along its lane; its links to other authors' heads cross
// lanes. A filled dot is signed; a ring is covered by a later signature of
// its author.
import { svg, fill, short, shortId, peerColor } from './util.js'

const STEP = 16
const LANE = 28
const LABELS = 112
const LEFT = 6

export class DagView {
  constructor (root, { onSelect } = {}) {
    this.root = root
    this.onSelect = onSelect
    // the lane names stay put while the entries scroll
    this.labels = svg('svg', { class: 'dag-lanes', width: LABELS })
    this.svg = svg('svg', { class: 'dag', role: 'img', 'aria-label': 'recent entries of the log' })
    this.scroller = document.createElement('div')
    this.scroller.className = 'dag-scroll'
    this.scroller.append(this.svg)
    const side = document.createElement('div')
    side.className = 'dag-labels'
    side.append(this.labels)
    root.append(side, this.scroller)
  }

  /** Draws `entries` (the server's DagEntry list); `self` is this node's author key, `ids` maps authors to peer ids. */
  update (entries, self, ids) {
    const lanes = new Map()
    const count = new Map()
    for (const e of entries) count.set(e.author, (count.get(e.author) ?? 0) + 1)
    const authors = [...count.keys()].sort((a, b) => (b === self) - (a === self) || count.get(b) - count.get(a))
    authors.forEach((a, i) => lanes.set(a, i))
    const width = LEFT + entries.length * STEP + 24
    const height = Math.max(1, authors.length) * LANE + 12
    this.svg.setAttribute('width', width)
    this.svg.setAttribute('height', height)
    this.svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
    const at = new Map()
    entries.forEach((e, i) => at.set(e.id, { x: LEFT + 12 + i * STEP, y: 18 + lanes.get(e.author) * LANE }))
    this.labels.setAttribute('height', height)
    const parts = []
    const labels = []
    for (const a of authors) {
      const y = 18 + lanes.get(a) * LANE
      parts.push(svg('line', { class: 'lane', x1: 0, y1: y, x2: width, y2: y }))
      labels.push(svg('text', { class: 'lane-label', x: 10, y: y + 4, style: `fill:${peerColor(ids.get(a) || a)}` }, svg('title', { text: ids.get(a) || a }), a === self ? 'this node' : short(ids.get(a) || a)))
    }
    fill(this.labels, labels)
    for (const e of entries) {
      const p = at.get(e.id)
      const prev = at.get(e.prev)
      if (prev != null) parts.push(svg('line', { class: 'prev', x1: prev.x, y1: prev.y, x2: p.x, y2: p.y }))
      for (const link of e.links) {
        const q = at.get(link)
        if (q == null) continue
        const mx = (p.x + q.x) / 2
        parts.push(svg('path', { class: 'link', d: `M${q.x},${q.y} C${mx},${q.y} ${mx},${p.y} ${p.x},${p.y}` }))
      }
    }
    for (const e of entries) {
      const p = at.get(e.id)
      parts.push(svg('circle', {
        class: e.signed ? 'entry signed' : 'entry covered',
        cx: p.x,
        cy: p.y,
        r: 5,
        style: `--peer:${peerColor(ids.get(e.author) || e.author)}`,
        'data-id': e.id,
        onclick: () => this.onSelect?.(e.id, e.seq)
      }, svg('title', { text: `${e.name} #${e.seq}\n${shortId(e.id, 16)}\nauthor seq ${e.authorSeq} · clock ${e.clock}${e.signed ? ' · signed' : ' · covered'}` })))
    }
    fill(this.svg, parts)
    // the newest entries are on the right
    this.scroller.scrollLeft = this.scroller.scrollWidth
  }
}
