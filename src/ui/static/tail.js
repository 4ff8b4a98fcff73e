// The live tail: the events the server sampled for this page, newest on top,
// at most MAX_ROWS in the page. Events are drawn together, at most every
// DRAW_MS; while paused they are kept (the newest MAX_ROWS) and counted.
import { el, clock, short, hue, peerColor, compact } from './util.js'

const MAX_ROWS = 250
// Each draw shifts the rows and repaints the list: at most this often. A
// lone event is drawn at once; a stream of them four times a second.
const DRAW_MS = 250

export class EventTail {
  constructor (list, { onSelect, status } = {}) {
    this.list = list
    this.status = status
    this.onSelect = onSelect
    this.paused = false
    this.held = []
    this.heldCount = 0
    this.queue = []
    this.frame = 0
    this.timer = undefined
    this.drawn = 0
    this.selected = undefined
    this.ids = new Map()
  }

  /** New events, oldest first. */
  add (events) {
    if (this.paused) {
      this.heldCount += events.length
      this.held.push(...events)
      if (this.held.length > MAX_ROWS) this.held.splice(0, this.held.length - MAX_ROWS)
      return
    }
    this.queue.push(...events)
    if (this.queue.length > MAX_ROWS) this.queue.splice(0, this.queue.length - MAX_ROWS)
    this.schedule()
  }

  schedule () {
    if (this.frame !== 0 || this.timer != null) return
    const wait = this.drawn + DRAW_MS - performance.now()
    if (wait <= 0) this.frame = requestAnimationFrame(() => this.draw())
    else this.timer = setTimeout(() => { this.timer = undefined; this.frame = requestAnimationFrame(() => this.draw()) }, wait)
  }

  clear () {
    this.queue = []
    this.held = []
    this.heldCount = 0
    this.list.replaceChildren()
  }

  pause () {
    this.paused = true
  }

  resume () {
    this.paused = false
    const held = this.held
    this.held = []
    this.heldCount = 0
    this.add(held)
  }

  select (id) {
    this.selected = id
    for (const row of this.list.children) row.classList.toggle('selected', row.dataset.id === id)
  }

  draw () {
    this.frame = 0
    this.drawn = performance.now()
    const events = this.queue
    this.queue = []
    const rows = document.createDocumentFragment()
    for (let i = events.length - 1; i >= 0; i--) rows.append(this.row(events[i]))
    this.list.prepend(rows)
    while (this.list.childElementCount > MAX_ROWS) this.list.lastElementChild.remove()
  }

  row (e) {
    const peer = this.ids.get(e.author) ?? e.author
    return el('li', { class: e.id === this.selected ? 'event selected' : 'event', 'data-id': e.id, 'data-name': e.name, tabindex: 0, onclick: () => this.onSelect?.(e.id, e.seq), onkeydown: (ev) => { if (ev.key === 'Enter') this.onSelect?.(e.id, e.seq) } },
      el('span', { class: 'time', text: clock(e.timestamp) }),
      el('span', { class: 'name', style: `--tag:${hue(e.name)}`, text: e.name }),
      el('span', { class: 'author', style: `color:${peerColor(peer)}`, title: peer, text: short(peer) }),
      el('span', { class: 'seq', title: 'position in this node\'s feed', text: '#' + e.seq }),
      el('code', { class: 'payload', text: e.payload + (e.cut ? ' …' : '') })
    )
  }

  /** The server's count for the last second: matched, shown, dropped. */
  rate ({ matched, shown, dropped }) {
    if (this.status == null) return
    const parts = [`${compact(matched)}/s matched`, `${compact(shown)}/s shown`]
    if (matched > shown) parts.push('sampled')
    if (dropped > 0) parts.push(`${compact(dropped)} skipped (page behind)`)
    if (this.paused) parts.push(`paused: ${compact(this.heldCount)} new`)
    this.status.textContent = parts.join(' · ')
  }
}
