// Durations as the server's settings and the CLI's --timeout take them:
// `250ms`, `30s`, `5m`, `1h`. Apart from settings.ts so that `pub` and `sub`
// load it without the settings' schemas.

const UNITS = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const
const DURATION = /^(\d+(?:\.\d+)?|\.\d+)(ms|s|m|h)?$/

/**
 * A duration as ms: `250ms`, `30s`, `5m`, `1h`, or a number of ms (text
 * from a flag or variable, a number or text in the file). undefined when it
 * reads as none, or is a bare number where a unit is required.
 */
export function parseDuration (raw: unknown, unitRequired: boolean): number | undefined {
  if (typeof raw === 'number') return unitRequired ? undefined : raw
  const match = typeof raw === 'string' ? DURATION.exec(raw) : null
  if (match === null) return undefined
  const unit = match[2] as keyof typeof UNITS | undefined
  if (unit === undefined) return unitRequired ? undefined : Number(match[1])
  // Rounded off the float error of '0.29s'; a fraction of a ms stays and is refused.
  return Math.round(Number(match[1]) * UNITS[unit] * 1000) / 1000
}

/** ms as the largest unit that says it exactly: 300000 → '5m'. */
export function formatDuration (value: number): string {
  for (const [unit, size] of Object.entries(UNITS)) {
    if (value !== 0 && value % size === 0) return `${value / size}${unit}`
  }
  return `${value}ms`
}
