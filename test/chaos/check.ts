// The chaos run's check of the logs' contents against what was acknowledged.

export interface LogCheck {
  /** (node, acknowledged value) pairs missing from that node's log, or there under another id */
  lost: number
  /** values stored more than once in one node's log (each extra copy counts) */
  duplicates: number
  /** Integer values in some log that no one saw acknowledged (in flight at a kill) */
  unacked: number
  /** what is wrong, one line each */
  problems: string[]
}

/**
 * `acked`: the [value, id] of every acknowledged emit, by incarnation name.
 * `logs`: every Integer [value, id] in each node's log, or undefined when it
 * could not be read (then that node is not checked).
 */
export function checkLogs (
  acked: Array<{ by: string, acks: Array<[number, string]> }>,
  logs: Array<{ name: string, values: Array<[number, string]> | undefined }>
): LogCheck {
  const problems: string[] = []
  const acks = new Map<number, { id: string, by: string }>()
  for (const { by, acks: list } of acked) {
    for (const [v, id] of list) {
      const seen = acks.get(v)
      // values are unique by construction (node, incarnation, counter)
      if (seen != null) problems.push(`harness: value ${v} acknowledged twice (${seen.by} ${seen.id}, ${by} ${id})`)
      else acks.set(v, { id, by })
    }
  }
  let lost = 0
  let duplicates = 0
  const notAcked = new Set<number>()
  const examples: string[] = []
  for (const { name, values } of logs) {
    if (values == null) continue
    const ids = new Map<number, string[]>()
    for (const [v, id] of values) {
      const list = ids.get(v)
      if (list == null) ids.set(v, [id])
      else list.push(id)
    }
    let dup = 0
    for (const [v, list] of ids) {
      if (list.length > 1) dup += list.length - 1
      if (!acks.has(v)) notAcked.add(v)
    }
    if (dup > 0) {
      const shown = [...ids].filter(([, list]) => list.length > 1).slice(0, 3).map(([v, list]) => `${v} ×${list.length}`)
      problems.push(`${name} stores ${dup} values more than once: ${shown.join(', ')}`)
    }
    duplicates += dup
    for (const [v, { id, by }] of acks) {
      const list = ids.get(v)
      if (list != null && list.includes(id)) continue
      lost++
      if (examples.length < 10) examples.push(`${name} lacks ${v} (${by}, ${id.slice(0, 16)}…)${list == null ? '' : ` but has it under ${list[0].slice(0, 16)}…`}`)
    }
  }
  if (lost > 0) problems.push(`${lost} (node, acknowledged value) pairs missing: ${examples.join('; ')}`)
  return { lost, duplicates, unacked: notAcked.size, problems }
}
