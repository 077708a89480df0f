// "Did you mean": the likely intent of a misspelled option name, for
// PUBSUB_ERR_OPTION (the plugin's options and a namespace's fields).

/** The name at most two edits from `name`, if one is: a typo's likely intent. */
export function closest (name: string, names: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = 3
  for (const candidate of names) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance]
  }
  return best
}

/** ` (did you mean 'x'?)` when a name is near `name`, else ''. */
export function didYouMean (name: string, names: readonly string[]): string {
  const near = closest(name, names)
  return near === undefined ? '' : ` (did you mean '${near}'?)`
}

/** Levenshtein distance, one row at a time. */
function editDistance (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length] as number
}
