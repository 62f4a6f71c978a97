// Shared set-up for the Chromium end-to-end tests: the dev server on a free port and Debian's
// Chromium driven by playwright-core (never a downloaded browser), with a fresh profile.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.mjs';

export const CHROMIUM = process.env.GYRE_CHROMIUM ?? '/usr/bin/chromium';
export const OUTPUT_DIR = new URL('../../test-output/', import.meta.url);

const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic',
];

/**
 * Starts the server (on `root`, default the repository; `base` mounts it under a subpath,
 * `isolation: false` sends no COOP/COEP, as GitHub Pages) and the browser; returns
 * { url, context, newPage(), close() }. The server sends the site's strict Content-Security-Policy.
 */
export async function openBrowser({ root, base = '/', isolation = true } = {}) {
  const server = await startServer({ root, port: 0, host: '127.0.0.1', base, isolation });
  const profile = await mkdtemp(join(tmpdir(), 'gyre-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1100, height: 900 },
    });
  } catch (error) {
    await server.close();
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  return {
    url: server.url,
    context,
    /**
     * A page that records console errors, uncaught exceptions and Content-Security-Policy
     * violations (securitypolicyviolation events) in `page.problems`.
     */
    async newPage() {
      const page = await context.newPage();
      page.problems = [];
      page.on('console', (message) => {
        if (message.type() === 'error') page.problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => page.problems.push(`page error: ${error.message}`));
      await page.exposeBinding('gyreReportCspViolation', (_, text) => page.problems.push(`csp: ${text}`));
      await page.addInitScript(() => {
        document.addEventListener('securitypolicyviolation', (event) => {
          window.gyreReportCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || 'inline'} ` +
            `at ${event.sourceFile}:${event.lineNumber}`);
        });
      });
      return page;
    },
    async close() {
      await context.close();
      await server.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}
