// examples/html: a plain page with one module script and a <gyre-generate> element, served by the dev
// server under the strict CSP, generates text in Chromium with no error or CSP violation.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openBrowser } from './browser.mjs';

let browser;
before(async () => { browser = await openBrowser(); });
after(async () => { await browser?.close(); });

test('examples/html: the element generates text on a plain page', async (t) => {
  const tab = await browser.newPage();
  await tab.goto(`${browser.url}/examples/html/index.html`);
  await tab.waitForSelector('gyre-generate[state="done"], gyre-generate[state="error"]', { state: 'attached', timeout: 120_000 });
  const element = await tab.$('gyre-generate');
  assert.equal(await element.getAttribute('state'), 'done');
  const text = await element.evaluate((node) => node.text);
  t.diagnostic(JSON.stringify(text));
  assert.ok(text.length >= 60, `only ${text.length} characters`);
  assert.deepEqual(tab.problems, []);
  await tab.close();
});
