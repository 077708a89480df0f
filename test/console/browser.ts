// Debian's Chromium driven by playwright-core: never a browser of Playwright's
// own (this machine cannot download one, and CI installs the chromium package).
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import type { Test } from 'tap'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/**
 * Whether the browser tests can run here. Without Chromium they are skipped
 * on a developer's machine (with the command that fixes it) and fail in CI,
 * where .ci/run installs it.
 */
export function browserMissing (): string | false {
  if (existsSync(CHROMIUM)) return false
  const why = `${CHROMIUM} is missing: apt-get install chromium (or set CHROMIUM_PATH)`
  if (process.env.CI !== undefined && process.env.CI !== '') throw new Error(why)
  return why
}

/** A headless Chromium, closed at teardown; `args` are flags of the caller's (`--ignore-certificate-errors`). */
export async function launch (t: Test, args: string[] = []): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Flags from the machine notes: without the network ones Chromium keeps
    // dialling Google, which this sandbox refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', ...args]
  })
  t.teardown(() => browser.close())
  return browser
}

/** A page at `url`, with its script errors (but those matching `allow`) turned into test failures. */
export async function openConsole (t: Test, browser: Browser, url: string, allow?: RegExp): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 820 } })
  page.setDefaultTimeout(10_000)
  page.on('pageerror', (error) => { t.fail(`page error: ${error.message}`) })
  page.on('console', (message) => {
    if (message.type() === 'error' && allow?.test(message.text()) !== true) t.fail(`console error: ${message.text()}`)
  })
  await page.goto(url)
  await page.waitForSelector('#state[data-state="open"]')
  return page
}

/** Subscribes from the page's form, with the keyboard, and waits for the ack. */
export async function subscribeInPage (page: Page, topic: string): Promise<void> {
  await page.fill('#subscribe-topic', topic)
  await page.press('#subscribe-topic', 'Enter')
  await page.waitForSelector(`#subscriptions li[data-topic="${topic}"][data-state="active"]`)
}

/** Publishes from the page's form. */
export async function publishInPage (page: Page, topic: string, data: string, mode: 'json' | 'text' = 'json'): Promise<void> {
  await page.fill('#publish-topic', topic)
  await page.check(`input[name="mode"][value="${mode}"]`)
  await page.fill('#publish-data', data)
  await page.click('#publish-form button[type="submit"]')
}
