// The peer graph: this node in the middle, its sync sessions (the overlay's
// active view) on solid edges coloured by whether they are caught up, other
// open connections on dashed ones, the passive view on dotted ones, and the
// peers it only knows of (from EventPeer announcements, mDNS, identify) with
// no edge: peers do not report their own views, so edges beyond this node
// are not drawn. A small force layout (springs on edges, repulsion between
// nodes) runs a few hundred steps when the set of peers changes, not
// continuously, so a page with hundreds of peers stays idle between changes.
import { svg, fill, short, peerColor } from './util.js'

const R = { self: 15, active: 11, connected: 9, passive: 7, known: 5 }
const LENGTH = { active: 110, connected: 150, passive: 200, known: 250 }

export class PeerGraph {
  constructor (root, { onSelect } = {}) {
    this.root = root
    this.onSelect = onSelect
    this.nodes = new Map()
    this.selected = undefined
    this.svg = svg('svg', { class: 'graph', role: 'img', 'aria-label': 'peer graph' })
    this.edges = svg('g', { class: 'edges' })
    this.dots = svg('g', { class: 'dots' })
    this.svg.append(this.edges, this.dots)
    root.append(this.svg)
    this.size()
    new ResizeObserver(() => { this.size(); this.settle(60) }).observe(root)
  }

  size () {
    this.w = Math.max(200, this.root.clientWidth)
    this.h = Math.max(200, this.root.clientHeight)
    this.svg.setAttribute('viewBox', `${-this.w / 2} ${-this.h / 2} ${this.w} ${this.h}`)
  }

  /** Shows `self` (peer id) and `peers` (the state's peers). */
  update (self, peers) {
    const seen = new Set([self])
    let changed = !this.nodes.has(self)
    if (changed) this.nodes.set(self, { id: self, place: 'self', x: 0, y: 0, vx: 0, vy: 0, fixed: true })
    for (const p of peers) {
      seen.add(p.id)
      let n = this.nodes.get(p.id)
      if (n == null) {
        const a = Math.random() * Math.PI * 2
        const r = LENGTH[p.place] ?? 200
        n = { id: p.id, x: Math.cos(a) * r, y: Math.sin(a) * r, vx: 0, vy: 0 }
        this.nodes.set(p.id, n)
        changed = true
      }
      if (n.place !== p.place) changed = true
      n.place = p.place
      n.peer = p
    }
    for (const id of [...this.nodes.keys()]) {
      if (!seen.has(id)) { this.nodes.delete(id); changed = true }
    }
    if (changed) this.settle(240)
    else this.draw()
  }

  select (id) {
    this.selected = id
    this.draw()
  }

  // Steps the layout `steps` times, drawing every few steps.
  settle (steps) {
    this.pending = (this.pending ?? 0) + steps
    if (this.running) return
    this.running = true
    const frame = () => {
      const n = Math.min(this.pending, 12)
      for (let i = 0; i < n; i++) this.step()
      this.pending -= n
      this.draw()
      if (this.pending > 0) requestAnimationFrame(frame)
      else this.running = false
    }
    requestAnimationFrame(frame)
  }

  step () {
    const nodes = [...this.nodes.values()]
    const k = Math.min(1, 900 / Math.max(1, nodes.length * nodes.length)) * 1800
    for (let i = 0; i < nodes.length; i++) {
      const a = nodes[i]
      for (let j = i + 1; j < nodes.length; j++) {
        const b = nodes[j]
        let dx = a.x - b.x
        let dy = a.y - b.y
        let d2 = dx * dx + dy * dy
        if (d2 < 1) { dx = Math.random(); dy = Math.random(); d2 = 1 }
        const f = k / d2
        a.vx += dx * f; a.vy += dy * f
        b.vx -= dx * f; b.vy -= dy * f
      }
    }
    const maxR = Math.min(this.w, this.h) / 2 - 22
    for (const n of nodes) {
      if (n.fixed) { n.x = 0; n.y = 0; n.vx = 0; n.vy = 0; continue }
      // a spring to the centre, its rest length by how close the peer is
      const d = Math.hypot(n.x, n.y) || 1
      const want = Math.min(maxR, (LENGTH[n.place] ?? 200) * Math.min(1, maxR / 260))
      const f = (want - d) * 0.05
      n.vx += (n.x / d) * f
      n.vy += (n.y / d) * f
      n.vx *= 0.6; n.vy *= 0.6
      n.x += n.vx; n.y += n.vy
      const r = Math.hypot(n.x, n.y)
      if (r > maxR) { n.x *= maxR / r; n.y *= maxR / r }
    }
  }

  draw () {
    const edges = []
    const dots = []
    for (const n of this.nodes.values()) {
      if (n.place === 'self' || n.place === 'known') continue
      const p = n.peer
      const state = p.session ? (p.synced && !(p.lacks?.total > 0) ? 'synced' : 'behind') : 'none'
      edges.push(svg('line', { x1: 0, y1: 0, x2: n.x.toFixed(1), y2: n.y.toFixed(1), class: `edge ${n.place} ${state}` }))
    }
    for (const n of this.nodes.values()) {
      const p = n.peer
      const r = R[n.place] ?? 6
      const cls = ['dot', n.place]
      if (p?.blocked) cls.push('blocked')
      if (p?.session) cls.push(p.synced && !(p.lacks?.total > 0) ? 'synced' : 'behind')
      if (n.id === this.selected) cls.push('selected')
      const title = n.place === 'self'
        ? `this node ${n.id}`
        : `${n.id}\n${p.place}${p.address ? ' · ' + p.address : ''}${p.session ? `\nsent ${p.sent} · received ${p.received}` : ''}`
      const g = svg('g', { class: cls.join(' '), transform: `translate(${n.x.toFixed(1)} ${n.y.toFixed(1)})`, 'data-peer': n.id, onclick: () => this.onSelect?.(n.id) },
        svg('title', { text: title }),
        svg('circle', { r, style: n.place === 'self' ? undefined : `--peer:${peerColor(n.id)}` }),
        n.place === 'known' ? null : svg('text', { y: r + 12, text: n.place === 'self' ? 'this node' : short(n.id) })
      )
      dots.push(g)
    }
    fill(this.edges, edges)
    fill(this.dots, dots)
  }
}
