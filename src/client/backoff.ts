import { optionError } from './errors.js'

/** How the client spaces its reconnect attempts. */
export interface ReconnectOptions {
  /** Delay before the first attempt, in ms. Default 250. */
  initialDelay: number
  /** No delay is longer than this, in ms. Default 10000. */
  maxDelay: number
  /** Each attempt waits this many times longer than the one before. Default 2. */
  factor: number
  /** Fraction of each delay taken off at random, 0 to 1, so that clients dropped together do not return together. Default 0.5. */
  jitter: number
  /** Give up after this many failed attempts in a row. Default Infinity. */
  maxAttempts: number
}

export const defaultReconnect: Readonly<ReconnectOptions> = Object.freeze({
  initialDelay: 250,
  maxDelay: 10_000,
  factor: 2,
  jitter: 0.5,
  maxAttempts: Infinity
})

/**
 * The wait before reconnect attempt `attempt` (0 for the first): exponential,
 * capped at `maxDelay`, then shortened by up to `jitter` of itself. The result
 * lies in [base × (1 − jitter), base] with base = min(maxDelay, initialDelay × factor^attempt).
 */
export function reconnectDelay (attempt: number, options: ReconnectOptions, random: () => number = Math.random): number {
  const base = Math.min(options.maxDelay, options.initialDelay * options.factor ** attempt)
  return Math.round(base * (1 - options.jitter * random()))
}

/** Fills in and checks reconnect options; throws a TypeError (code `OPTION`) naming the bad one. */
export function resolveReconnect (options: Partial<ReconnectOptions> = {}): ReconnectOptions {
  const resolved = { ...defaultReconnect, ...options }
  for (const [name, min, max] of [
    ['initialDelay', 0, Infinity], ['maxDelay', 0, Infinity], ['factor', 1, Infinity], ['jitter', 0, 1], ['maxAttempts', 0, Infinity]
  ] as const) {
    const value = resolved[name]
    if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) {
      throw optionError(`reconnect.${name} must be a number from ${min} to ${max}, got ${String(value)}`)
    }
  }
  return resolved
}
