import { chromium, type Browser, type Page } from 'playwright-core';

/**
 * Debian's Chromium for the browser tests (playwright-core cannot download one here), headless
 * with the flags this machine's closed network needs, and a page that records its own errors:
 * uncaught page errors and console errors go to `problems`, which each test expects empty.
 */
export async function openAdminPage(options: {
  problems: string[];
  /** Console errors a test causes on purpose (a refused upload's 400). */
  ignoreConsole?: (text: string) => boolean;
  acceptDownloads?: boolean;
  acceptDialogs?: boolean;
}): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'ru-RU', acceptDownloads: options.acceptDownloads ?? false });
  const page = await context.newPage();
  page.on('pageerror', (err) => options.problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !options.ignoreConsole?.(msg.text())) options.problems.push(`console: ${msg.text()}`);
  });
  if (options.acceptDialogs ?? true) page.on('dialog', (d) => void d.accept());
  return { browser, page };
}
