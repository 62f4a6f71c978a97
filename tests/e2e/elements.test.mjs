// Gyre's custom elements (web/lib/elements/) on a minimal plain page, as a site author would use them:
// one module script, attributes, a stylesheet that themes them, and a strict Content-Security-Policy
// (no inline script or style). The page and its stylesheet are served by the test itself, on the dev
// server's origin, with the CSP header.
import assert from 'node:assert/strict';
import { mkdir, stat } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OUTPUT_DIR, openBrowser } from './browser.mjs';

const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'";
const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Gyre elements on a plain page</title>
  <link rel="stylesheet" href="/elements-test/theme.css">
  <script type="module" src="/web/lib/elements/index.js"></script>
</head>
<body>
  <h1>Plain page</h1>
  <gyre-generate id="themed" model="/models/gau-lm-softmax-plus/" prompt="Elizabeth said" max-tokens="30"
    temperature="0" seed="3" top-k="5"></gyre-generate>
  <gyre-diffusion id="digits" model="/models/ddpm-digits/" count="2" steps="10" seed="1"></gyre-diffusion>
  <gyre-generate id="unset"></gyre-generate>
  <gyre-length-lab id="lab" model="/models/gau-lm-softmax-plus/" length="1024"></gyre-length-lab>
</body>
</html>`;
const THEME = `
body { font-family: sans-serif; max-width: 900px; margin: 20px auto; }
gyre-generate, gyre-diffusion { margin-bottom: 16px; }
#themed { --gyre-accent: rgb(200, 30, 40); --gyre-font: "DejaVu Serif", serif; --gyre-background: rgb(250, 245, 235); }
`;

let browser;
before(async () => {
  await mkdir(OUTPUT_DIR, { recursive: true });
  browser = await openBrowser();
});
after(async () => { await browser?.close(); });

async function openPlainPage() {
  const page = await browser.newPage();
  await page.route('**/elements-test/**', (route) => {
    const css = route.request().url().endsWith('.css');
    route.fulfill({
      status: 200,
      headers: { 'content-type': css ? 'text/css' : 'text/html; charset=utf-8', 'content-security-policy': CSP },
      body: css ? THEME : PAGE,
    });
  });
  // Records CSP violations (an init script runs whatever the page's CSP says).
  await page.addInitScript(() => {
    window.violations = [];
    document.addEventListener('securitypolicyviolation', (event) => {
      window.violations.push(`${event.violatedDirective}: ${event.blockedURI}`);
    });
  });
  await page.goto(`${browser.url}/elements-test/index.html`);
  await page.waitForSelector('#themed[state="ready"]', { timeout: 60_000 });
  return page;
}

const state = (page, selector) => page.getAttribute(selector, 'state');
const settled = (page, selector) => page.waitForSelector(`${selector}[state="done"], ${selector}[state="error"]`, { timeout: 120_000 });

test('elements on a plain page under a strict CSP: attributes, theming, one shared engine, errors inside', async () => {
  const page = await openPlainPage();

  // Attributes set the controls.
  assert.equal(await page.inputValue('#themed #max'), '30');
  assert.equal(await page.inputValue('#themed #seed'), '3');
  assert.equal(await page.inputValue('#themed #temperature'), '0');
  assert.equal(await page.inputValue('#themed #topk'), '5');
  assert.equal(await page.inputValue('#themed #prompt'), 'Elizabeth said');
  assert.equal(await page.isVisible('#themed #model'), false, 'one model: no model menu');
  assert.equal(await page.inputValue('#digits #count'), '2');

  // Theming: the page's custom properties reach into the shadow roots; the other elements keep the default.
  const style = (selector, property) => page.$eval(selector, (node, name) => getComputedStyle(node)[name], property);
  assert.equal(await style('#themed #run', 'backgroundColor'), 'rgb(200, 30, 40)');
  assert.equal(await style('#digits #run', 'backgroundColor'), 'rgb(61, 90, 254)');
  assert.match(await style('#themed', 'fontFamily'), /DejaVu Serif/);
  assert.equal(await style('#themed', 'backgroundColor'), 'rgb(250, 245, 235)');
  assert.equal(await page.$eval('#themed', (node) => node.shadowRoot.adoptedStyleSheets.length), 2);

  // Every control has an accessible name; streamed output and progress are live regions.
  const unlabelled = await page.$$eval('gyre-generate, gyre-diffusion, gyre-length-lab', (elements) => elements.flatMap((element) =>
    [...element.shadowRoot.querySelectorAll('input, select, textarea, button')]
      .filter((control) => !(control.labels?.length || control.getAttribute('aria-label') || control.textContent.trim()))
      .map((control) => `${element.id} #${control.id}`)));
  assert.deepEqual(unlabelled, []);
  assert.equal(await page.getAttribute('#themed #output', 'aria-live'), 'polite');
  assert.equal(await page.getAttribute('#themed #progress-label', 'aria-live'), 'polite');

  // Every element of the page shares one engine worker.
  assert.equal(page.workers().length, 1);

  // The element without a model says so inside itself, as a typed error.
  await page.click('#unset #run');
  await settled(page, '#unset');
  assert.equal(await state(page, '#unset'), 'error');
  assert.match(await page.textContent('#unset #error'), /^BadArgumentError \[BAD_ARGUMENT\]: <gyre-generate> needs a model: set its model attribute/);
  assert.equal(await page.isVisible('#unset #error'), true);

  // The lab without its held-out text says so too.
  await page.click('#lab #run');
  await settled(page, '#lab');
  assert.match(await page.textContent('#lab #error'), /^BadArgumentError \[BAD_ARGUMENT\]: <gyre-length-lab> needs held-out text: set its text-url attribute/);
  assert.equal(await page.inputValue('#lab #length'), '1024');

  // Diffusion through the element's run() method; the sizes of the downloads are shown.
  const steps = await page.$eval('#digits', async (element) => (await element.run()).steps);
  assert.equal(steps, 10);
  assert.equal(await page.textContent('#digits #step'), '10 / 10');
  const weights = await stat(new URL('../../models/ddpm-digits/model.safetensors', import.meta.url));
  const shown = `ddpm-digits ready: ${(weights.size / 1048576).toFixed(2)} MB`;  // as the element formats it
  assert.ok((await page.textContent('#digits #progress-label')).startsWith(shown), shown);

  await page.screenshot({ path: fileURLToPath(new URL('elements-plain.png', OUTPUT_DIR)), fullPage: true });
  assert.deepEqual(await page.evaluate(() => window.violations), [], 'no CSP violation');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('keyboard: Ctrl+Enter generates, Tab reaches the buttons, Enter runs, Escape stops', async () => {
  const page = await openPlainPage();
  const active = () => page.$eval('#themed', (element) => element.shadowRoot.activeElement?.id ?? null);

  await page.focus('#themed #prompt');
  await page.keyboard.press('Control+Enter');
  await settled(page, '#themed');
  assert.equal(await state(page, '#themed'), 'done', await page.textContent('#themed #error'));
  assert.equal(await page.textContent('#themed #count'), '30');
  const greedy = await page.textContent('#themed #output .generated');
  assert.equal([...greedy].length, 30);
  assert.match(await page.textContent('#themed #progress-label'), /^gau-lm-softmax-plus ready: \d\.\d\d MB/);

  // From the prompt, Tab moves to Generate; Enter runs it again (temperature 0: the same text).
  await page.focus('#themed #prompt');
  await page.keyboard.press('Tab');
  assert.equal(await active(), 'run');
  await page.$eval('#themed', (element) => element.removeAttribute('state'));
  await page.keyboard.press('Enter');
  await settled(page, '#themed');
  assert.equal(await page.textContent('#themed #output .generated'), greedy);

  // Escape stops a long generation without an error.
  await page.fill('#themed #max', '20000');
  await page.focus('#themed #run');
  await page.keyboard.press('Enter');
  assert.equal(await active(), 'stop', 'focus moves from Generate to Stop while it runs');
  // Above the previous run's 30, so the count read is this run's (it may not be reset yet).
  await page.waitForFunction(() => Number(document.querySelector('#themed').shadowRoot.getElementById('count').textContent) > 40);
  await page.keyboard.press('Escape');
  await settled(page, '#themed');
  assert.equal(await state(page, '#themed'), 'done');
  const stoppedAt = Number(await page.textContent('#themed #count'));
  assert.ok(stoppedAt > 40 && stoppedAt < 20000, `stopped after ${stoppedAt}`);
  assert.equal(await active(), 'run', 'and back to Generate when it ends');
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('removing the elements from the DOM stops the run, frees the models and ends the worker', async () => {
  const page = await openPlainPage();
  const [worker] = page.workers();
  assert.ok(worker);
  const closed = new Promise((resolve) => worker.on('close', resolve));
  // A long generation in flight when the elements go.
  await page.fill('#themed #max', '20000');
  await page.click('#themed #run');
  await page.waitForFunction(() => Number(document.querySelector('#themed').shadowRoot.getElementById('count').textContent) > 5);
  const before = await page.evaluate(async () => (await import('/web/lib/elements/index.js')).hubStatus());
  assert.deepEqual({ running: before.running, users: before.users, inWorker: before.inWorker }, { running: true, users: 4, inWorker: true });
  assert.deepEqual(before.models, [`${new URL(page.url()).origin}/models/gau-lm-softmax-plus/`]);

  // Moving an element keeps the engine.
  await page.evaluate(() => document.body.append(document.querySelector('#digits')));
  assert.equal((await page.evaluate(async () => (await import('/web/lib/elements/index.js')).hubStatus())).users, 4);

  await page.evaluate(() => { for (const element of document.querySelectorAll('gyre-generate, gyre-diffusion, gyre-length-lab')) element.remove(); });
  await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the worker did not end')), 10_000))]);
  const after = await page.evaluate(async () => (await import('/web/lib/elements/index.js')).hubStatus());
  assert.deepEqual(after, { running: false, users: 0, models: [], inWorker: false });
  assert.equal(page.workers().length, 0);

  // A new element starts a fresh engine.
  await page.evaluate(() => {
    const element = document.createElement('gyre-generate');
    element.id = 'again';
    element.setAttribute('model', '/models/gau-lm-softmax-plus/');
    element.setAttribute('max-tokens', '10');
    document.body.append(element);
  });
  await page.waitForSelector('#again[state="ready"]', { timeout: 60_000 });
  await page.click('#again #run');
  await settled(page, '#again');
  assert.equal(await page.textContent('#again #count'), '10');
  assert.deepEqual(page.problems, []);
  await page.close();
});
