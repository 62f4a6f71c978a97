// A page on another origin (another port) loads the engine from the dev server by URL, as a site
// embedding Gyre from a CDN would: the library and the models carry CORS and
// Cross-Origin-Resource-Policy: cross-origin, so the page can import, fetch and even run
// cross-origin isolated (COEP: require-corp); the engine runs in the page and in a worker (started
// through a same-origin bootstrap). Other trees stay same-origin.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { openBrowser } from './browser.mjs';

let browser;  // server A (the repository) and Chromium
let embedder;  // server B
let embedderUrl;

function pageScript(engineOrigin) {
  return `const origin = ${JSON.stringify(engineOrigin)};
const results = { isolated: crossOriginIsolated };
try {
  const { createEngine } = await import(origin + '/web/lib/index.js');
  for (const worker of [false, true]) {
    const engine = await createEngine({ worker });
    const lm = await engine.loadModel(origin + '/models/gau-lm-softmax-plus/');
    let text = 'It is';
    for await (const piece of await lm.generate(text, { maxTokens: 20, seed: 1 })) text += piece;
    results[worker ? 'worker' : 'page'] = { flavour: engine.features.flavour, text };
    await lm.dispose();
    if (worker) engine.terminate();
  }
  results.demoScript = await fetch(origin + '/web/demos/site.js').then(() => 'loaded', (error) => error.name);
  document.body.dataset.result = JSON.stringify(results);
  document.body.dataset.state = 'done';
} catch (error) {
  document.body.dataset.result = error.name + ': ' + error.message;
  document.body.dataset.state = 'error';
}
`;
}

before(async () => {
  browser = await openBrowser();
  const engineOrigin = new URL(browser.url).origin;
  embedder = createServer((request, response) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      // What an embedding site's policy must allow: the engine's origin for scripts, fetches and
      // the worker's modules (a module worker's imports count as worker-src), and blob: for the
      // worker's same-origin bootstrap.
      'Content-Security-Policy': `default-src 'self'; script-src 'self' ${engineOrigin} 'wasm-unsafe-eval'; ` +
        `connect-src 'self' ${engineOrigin}; worker-src 'self' blob: ${engineOrigin}`,
    };
    if (request.url === '/') {
      response.writeHead(200, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
      response.end('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>embedder</title>' +
        '<link rel="icon" href="/favicon.ico"><script type="module" src="/page.js"></script></head><body></body></html>\n');
    } else if (request.url === '/page.js') {
      response.writeHead(200, { ...headers, 'Content-Type': 'text/javascript; charset=utf-8' });
      response.end(pageScript(engineOrigin));
    } else {
      response.writeHead(request.url === '/favicon.ico' ? 204 : 404, headers);
      response.end();
    }
  });
  await new Promise((resolve) => embedder.listen(0, '127.0.0.1', resolve));
  // "localhost" vs 127.0.0.1 would also differ in origin; another port is enough.
  embedderUrl = `http://127.0.0.1:${embedder.address().port}/`;
});
after(async () => {
  await browser?.close();
  embedder?.closeAllConnections();
  await new Promise((resolve) => embedder ? embedder.close(resolve) : resolve());
});

test('a page on another origin imports the engine and a model by URL, in the page and in a worker', async (t) => {
  const tab = await browser.newPage();
  await tab.goto(embedderUrl);
  await tab.waitForSelector('body[data-state]', { state: 'attached', timeout: 120_000 });
  const state = await tab.getAttribute('body', 'data-state');
  const result = await tab.getAttribute('body', 'data-result');
  assert.equal(state, 'done', result);
  const { isolated, page, worker, demoScript } = JSON.parse(result);
  t.diagnostic(`page: ${page.flavour} ${JSON.stringify(page.text)}; worker: ${worker.flavour} ${JSON.stringify(worker.text)}`);
  assert.equal(isolated, true, 'the embedding page is cross-origin isolated with the engine loaded');
  for (const run of [page, worker]) {
    assert.match(run.flavour, /^(relaxed|simd|scalar)(-threads)?$/);
    assert.ok(run.text.startsWith('It is') && run.text.length >= 25, run.text);
  }
  assert.equal(worker.text, page.text, 'same seed, same text in the page and in the worker');
  assert.equal(demoScript, 'TypeError', 'the demo pages are not shared with other origins');
  // That refused fetch is the only console error.
  assert.ok(tab.problems.every((problem) => /CORS|Failed to (load|fetch)/.test(problem)), tab.problems.join('\n'));
  assert.ok(!tab.problems.some((problem) => problem.startsWith('csp:')), tab.problems.join('\n'));
  await tab.close();
});
