/**
 * The names an entry may give its event (protocols/README.md §6), each with
 * the full name of the event it stands for: every event's full name
 * (`pkg.Name`), and its short name (`Name`) when no other event has the same
 * one. In the order of `fullNames`, each full name before its short name.
 */
export function eventNames (fullNames: readonly string[]): Map<string, string> {
  const shortCount = new Map<string, number>()
  for (const full of fullNames) shortCount.set(shortName(full), (shortCount.get(shortName(full)) ?? 0) + 1)
  const names = new Map<string, string>()
  for (const full of fullNames) {
    names.set(full, full)
    const short = shortName(full)
    if (short !== full && shortCount.get(short) === 1) names.set(short, full)
  }
  return names
}

function shortName (full: string): string {
  return full.slice(full.lastIndexOf('.') + 1)
}
