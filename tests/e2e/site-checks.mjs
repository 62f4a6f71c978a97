// The demo site's end-to-end checks, shared by site.test.mjs (the dev server on the repository) and
// site-static.test.mjs (the static folder of npm run build:site): every page is opened in headless
// Chromium, its main action is driven to completion, what it renders is checked, and a screenshot
// of it is saved as test-output/<prefix>-<page>.png.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OUTPUT_DIR, openBrowser } from './browser.mjs';

const PAGES = ['write', 'lab', 'rope', 'entropy', 'gau', 'diffusion', 'widen', 'bench'];
const RUN_TIMEOUT = 240_000;
// Models trained late in a session may not be shipped yet; their checks run once they are.
const shipped = (name) => existsSync(fileURLToPath(new URL(`../../models/${name}/model.safetensors`, import.meta.url)));

/**
 * Registers the site's tests; `root` is the served folder (default: the repository), `base` the
 * subpath it is served under, `isolation: false` a host without COOP/COEP. Every page runs under
 * the server's strict Content-Security-Policy, and a violation fails its test (tab.problems).
 */
export function siteSuite(prefix, { root, base = '/', isolation = true } = {}) {
  let browser;

  before(async () => {
    await mkdir(OUTPUT_DIR, { recursive: true });
    browser = await openBrowser({ root: typeof root === 'function' ? await root() : root, base, isolation });
  });
  after(async () => { await browser?.close(); });

  async function open(page, query = '', { width = 1100 } = {}) {
    const tab = await browser.newPage();
    await tab.setViewportSize({ width, height: 900 });
    await tab.goto(`${browser.url}/web/demos/${page}.html${query}`);
    await tab.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
    assert.equal(await tab.getAttribute('body', 'data-state'), 'ready', await tab.textContent('#error'));
    return tab;
  }

  // On the pages built from elements, body[data-run] mirrors the element's state and '#error' finds
  // the element's error box (Playwright's CSS pierces shadow roots).
  async function finished(tab) {
    await tab.waitForSelector('body[data-run="done"], body[data-run="error"]', { timeout: RUN_TIMEOUT });
    assert.equal(await tab.getAttribute('body', 'data-run'), 'done', await tab.textContent('#error'));
    assert.equal(await tab.isVisible('#error'), false);
  }

  async function rerun(tab, button) {
    await tab.evaluate(() => { delete document.body.dataset.run; });
    await tab.click(button);
    await finished(tab);
  }

  async function screenshot(tab, name) {
    await tab.screenshot({ path: fileURLToPath(new URL(`${prefix}-${name}.png`, OUTPUT_DIR)), fullPage: true });
  }

  const number = async (tab, selector) => Number(await tab.getAttribute(selector, 'data-value') ?? await tab.textContent(selector));

  // The page states the download size of `name`'s weights: the size of the file the server sends.
  async function showsDownloadSize(tab, selector, name) {
    const response = await tab.request.get(`${browser.url}/models/${name}/model.safetensors`);
    const size = `${((await response.body()).length / 1048576).toFixed(2)} MB`;
    const text = await tab.textContent(selector);
    assert.ok(text.includes(`${name} ready: ${size}`) || (text.startsWith('Download: ') && text.includes(`${name} ${size}`)), `${text} (expected ${size})`);
  }

  // A canvas with drawn content: not a single colour.
  const painted = (tab, selector) => tab.$eval(selector, (canvas) => {
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    const colours = new Set();
    for (let i = 0; i < data.length && colours.size < 8; i += 4 * 97) colours.add(`${data[i]},${data[i + 1]},${data[i + 2]},${data[i + 3]}`);
    return canvas.width > 0 && colours.size > 2;
  });

  describe(`${prefix}: the demo site`, () => {
    test('the home page links every demo page, and every link opens', async () => {
      const tab = await browser.newPage();
      const home = await tab.goto(`${browser.url}/web/demos/`);
      // Served under the strict policy (pages and the engine worker), with or without isolation.
      const worker = await tab.request.get(`${browser.url}/web/lib/worker.js`);
      for (const headers of [home.headers(), worker.headers()]) {
        assert.match(headers['content-security-policy'], /^default-src 'self'; script-src 'self' 'wasm-unsafe-eval'$/);
        assert.equal(headers['cross-origin-embedder-policy'], isolation ? 'require-corp' : undefined);
      }
      await tab.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
      const cards = await tab.$$eval('#pages a', (links) => links.map((link) => link.getAttribute('href')));
      assert.deepEqual(cards, PAGES.map((page) => `${page}.html`));
      const nav = await tab.$$eval('header.site nav ul a', (links) => links.map((link) => link.getAttribute('href')));
      assert.deepEqual(nav, cards);
      for (const href of cards) {
        const response = await tab.request.get(`${browser.url}/web/demos/${href}`);
        assert.equal(response.status(), 200, href);
      }
      assert.equal(await tab.textContent('#feature-simd'), 'yes');
      await screenshot(tab, 'home');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('RoPE: Toeplitz scores, the decay bound of the spec, equal layouts after the permutation', async () => {
      const tab = await open('rope');
      await finished(tab);
      assert.ok(Number(await tab.textContent('#rope-toeplitz')) < 1e-4);
      assert.ok(Number(await tab.textContent('#rope-norm')) < 1e-4);
      assert.ok(Number(await tab.textContent('#rope-layout-raw')) > 0.1, 'the layouts differ on the same q, k');
      assert.ok(Number(await tab.textContent('#rope-layout-permuted')) < 1e-3, 'and agree after the permutation');
      assert.ok(await painted(tab, '#rope-heatmap'));
      assert.ok(await painted(tab, '#rope-decay'));
      await tab.selectOption('#rope-dim', '128');
      await finished(tab);
      const rows = await tab.$$eval('#rope-decay-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].slice(1).map((td) => Number(td.textContent))));
      assert.equal(rows.length, 2, 'for d′ = 128 the spec\'s reference row is shown');
      rows[0].forEach((value, i) => assert.ok(Math.abs(value - rows[1][i]) <= 0.011, `${value} vs ${rows[1][i]}`));
      await screenshot(tab, 'rope');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Entropy: random heads match the reference simulation; a trained head is measured', async () => {
      const tab = await open('entropy');
      await finished(tab);
      const table = await tab.$$eval('#random-table tbody tr', (trs) => trs.map((tr) => [...tr.cells].slice(1).map((td) => Number(td.textContent))));
      const [, standard, logn] = table;  // columns n = 16 … 4096, then the slope
      // docs/ALGORITHMS.md §2.5: 3.69 → 7.83 nats (1/√d) and 3.94 → 7.46 (log-n) between n = 64 and 4096.
      assert.ok(Math.abs(standard[2] - 3.69) < 0.2 && Math.abs(standard[8] - 7.83) < 0.2, String(standard));
      assert.ok(Math.abs(logn[2] - 3.94) < 0.2 && Math.abs(logn[8] - 7.46) < 0.2, String(logn));
      assert.ok(logn[9] < standard[9] - 0.05, 'the log-n scale lowers the slope');
      await tab.selectOption('#trained-model', 'gau-lm-softmax-plus');
      await rerun(tab, '#trained-run');
      await showsDownloadSize(tab, '#trained-progress', 'gau-lm-softmax-plus');
      assert.match(await tab.textContent('#trained-takeaway'), /nats at n ≈ 128, \d\.\d\d at n ≈ 2048/);
      assert.ok(await painted(tab, '#trained-chart'));
      await screenshot(tab, 'entropy');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Entropy: the post-hoc log-n scale holds a trained softmax head\'s entropy down past its training length',
      { skip: !shipped('gau-lm-softmax') && 'gau-lm-softmax is not shipped yet' }, async () => {
        const tab = await open('entropy');
        await finished(tab);
        await tab.selectOption('#trained-model', 'gau-lm-softmax');
        await rerun(tab, '#trained-run');
        const text = await tab.textContent('#trained-takeaway');
        const [, full, logn] = text.match(/full attention: [\d.]+ nats at n ≈ 128, ([\d.]+) at n ≈ 2048; .*: [\d.]+ nats at n ≈ 128, ([\d.]+) at n ≈ 2048/);
        assert.ok(Number(logn) < Number(full), text);
        await screenshot(tab, 'entropy-softmax');
        await tab.close();
      });

    test('GAU: the trained layer under each normaliser; FLOPs and memory curves', async () => {
      const tab = await open('gau');
      await finished(tab);
      assert.equal(await tab.textContent('#gau-n'), '42');
      assert.equal(await tab.textContent('#gau-sizes'), '160 / 320 / 64');
      await showsDownloadSize(tab, '#gau-progress', 'gau-lm-softmax-plus');
      assert.match(await tab.textContent('#gau-rowsum'), /^1\.000/, 'softmax_plus rows sum to 1');
      for (const id of ['#gau-a', '#gau-u', '#gau-v', '#gau-z', '#gau-o', '#cost-flops', '#cost-memory']) {
        assert.ok(await painted(tab, id), id);
      }
      await tab.evaluate(() => { delete document.body.dataset.run; });
      await tab.check('input[name="gau-normaliser"][value="relu2"]');
      await finished(tab);
      assert.equal(await tab.getAttribute('body', 'data-normaliser'), 'relu2');
      assert.ok(parseFloat(await tab.textContent('#gau-zeros')) > 0, 'relu² zeroes negative scores');
      assert.doesNotMatch(await tab.textContent('#gau-rowsum'), /^1\.000/);
      assert.match(await tab.textContent('#cost-takeaway'), /FLASH needs fewer FLOPs than quadratic GAU from n ≈ \d+/);
      await rerun(tab, '#measure-run');
      for (const key of ['quadMs', 'flashMs']) {
        const times = (await tab.getAttribute('#measure-chart', `data-${key.replace('Ms', '-ms')}`)).split(',').map(Number);
        assert.equal(times.length, 5);
        assert.ok(times.every((t) => t > 0 && Number.isFinite(t)), `${key}: ${times}`);
      }
      assert.ok(await painted(tab, '#measure-chart'));
      await screenshot(tab, 'gau');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    // The Write, Length lab and Diffusion pages are Gyre's elements; Playwright's CSS selectors pierce
    // their open shadow roots ('gyre-generate #run' is the button inside <gyre-generate>).
    test('Write: streams the requested number of characters, the same for the same seed', async () => {
      const tab = await open('write', '?autorun&max=120');
      await finished(tab);
      assert.equal(await tab.getAttribute('gyre-generate', 'state'), 'done');
      assert.equal(await tab.textContent('gyre-generate #count'), '120');
      const first = await tab.textContent('gyre-generate #output .generated');
      assert.equal([...first].length, 120);
      assert.equal(await tab.$eval('gyre-generate', (element) => element.text), first);
      assert.ok(Number(await tab.textContent('gyre-generate #speed')) > 0);
      assert.match(await tab.textContent('gyre-generate #first'), /^\d+ ms$/);
      await showsDownloadSize(tab, 'gyre-generate #download-size', 'gau-lm-softmax-plus');
      await rerun(tab, 'gyre-generate #run');
      assert.equal(await tab.textContent('gyre-generate #output .generated'), first, 'seed 1 again gives the same text');
      await tab.fill('gyre-generate #seed', '2');
      await rerun(tab, 'gyre-generate #run');
      assert.notEqual(await tab.textContent('gyre-generate #output .generated'), first);
      // Stop: the AbortSignal crosses into the worker and ends the stream early, without an error.
      await tab.fill('gyre-generate #max', '20000');
      await tab.evaluate(() => { delete document.body.dataset.run; });
      await tab.click('gyre-generate #run');
      await tab.waitForFunction(() => document.querySelector('gyre-generate').shadowRoot.querySelector('.generated').textContent.length > 50);
      await tab.click('gyre-generate #stop');
      await finished(tab);
      const stoppedAt = Number(await tab.textContent('gyre-generate #count'));
      assert.ok(stoppedAt > 50 && stoppedAt < 20000, `stopped after ${stoppedAt} characters`);
      await screenshot(tab, 'write');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Length lab: the curves exist, and at 16× the training length the window stays below full attention', async () => {
      const tab = await open('lab', '?autorun&model=gau-lm-softmax-plus&length=2048');
      await finished(tab);
      const chart = await tab.$eval('gyre-length-lab #loss', (canvas) => ({ ...canvas.dataset }));
      const full = Number(chart.at16xFull);
      const window = Number(chart.at16xWindow);
      assert.ok(Number.isFinite(full) && Number.isFinite(window), JSON.stringify(chart));
      assert.ok(window < full, `at 16× L: window ${window} bits/char, full ${full}`);
      const modes = await tab.$$eval('gyre-length-lab #table tbody tr', (trs) => trs.map((tr) => tr.dataset.mode));
      assert.deepEqual(modes, ['full', 'window']);
      assert.match(await tab.textContent('gyre-length-lab #takeaway'), /the window stays \d\.\d\d bits\/char below/);
      await showsDownloadSize(tab, 'gyre-length-lab #download-size', 'gau-lm-softmax-plus');
      for (const id of ['#loss', '#entropy', '#heat-full', '#heat-window']) assert.ok(await painted(tab, `gyre-length-lab ${id}`), id);
      await screenshot(tab, 'lab');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    for (const model of ['gau-lm-softmax', 'gau-lm-relu2', 'roformer-v2-tiny']) {
      test(`Length lab: ${model} with every attention mode`, { skip: !shipped(model) && `${model} is not shipped yet` }, async () => {
        const tab = await open('lab', `?model=${model}&length=2048`);
        await tab.check('gyre-length-lab input[name="mode"][value="windowLogn"]');
        await tab.click('gyre-length-lab #run');
        await finished(tab);
        const chart = await tab.$eval('gyre-length-lab #loss', (canvas) => ({ ...canvas.dataset }));
        assert.equal(chart.model, model);
        await showsDownloadSize(tab, 'gyre-length-lab #download-size', model);
        for (const key of ['at16xFull', 'at16xFullLogn', 'at16xWindow', 'at16xWindowLogn']) {
          assert.ok(Number.isFinite(Number(chart[key])), `${key}: ${JSON.stringify(chart)}`);
        }
        assert.ok(Number(chart.at16xWindow) < Number(chart.at16xFull), `window below full at 16× L: ${JSON.stringify(chart)}`);
        await screenshot(tab, `lab-${model}`);
        assert.deepEqual(tab.problems, []);
        await tab.close();
      });
    }

    test('Length lab: flash-lm shows its one mode, without window, log-n or attention views', { skip: !shipped('flash-lm') && 'flash-lm is not shipped yet' }, async () => {
      const tab = await open('lab', '?model=flash-lm&length=2048');
      await tab.waitForSelector('gyre-length-lab #flash-note', { state: 'visible' });
      for (const id of ['#window', '#modes', '#layer', '#entropy', '#heat-full']) assert.equal(await tab.isVisible(`gyre-length-lab ${id}`), false, id);
      await tab.click('gyre-length-lab #run');
      await finished(tab);
      const chart = await tab.$eval('gyre-length-lab #loss', (canvas) => ({ ...canvas.dataset }));
      assert.equal(chart.model, 'flash-lm');
      assert.ok(Number(chart.at16xFlash) > 0 && Number(chart.at16xFlash) < 4, JSON.stringify(chart));
      assert.deepEqual(await tab.$$eval('gyre-length-lab #table tbody tr', (trs) => trs.map((tr) => tr.dataset.mode)), ['flash']);
      assert.match(await tab.textContent('gyre-length-lab #takeaway'), /FLASH costs \d\.\d\d bits\/char/);
      await showsDownloadSize(tab, 'gyre-length-lab #download-size', 'flash-lm');
      assert.ok(await painted(tab, 'gyre-length-lab #loss'));
      await screenshot(tab, 'lab-flash-lm');
      // Back to a GAU-LM: the controls return.
      await tab.selectOption('gyre-length-lab #model', { label: 'gau-lm-softmax-plus' });
      await tab.waitForSelector('gyre-length-lab #window', { state: 'visible' });
      assert.equal(await tab.isVisible('gyre-length-lab #flash-note'), false);
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Write: flash-lm generates with its mixed-chunk attention (no window to choose)', { skip: !shipped('flash-lm') && 'flash-lm is not shipped yet' }, async () => {
      const tab = await open('write', '?model=flash-lm&autorun&max=300');
      await finished(tab);
      assert.equal(await tab.textContent('gyre-generate #count'), '300');
      assert.equal([...await tab.textContent('gyre-generate #output .generated')].length, 300);
      assert.equal(await tab.$eval('gyre-generate #attention', (select) => select.value), 'as-trained');
      assert.equal(await tab.isDisabled('gyre-generate #attention'), true);
      await showsDownloadSize(tab, 'gyre-generate #download-size', 'flash-lm');
      await screenshot(tab, 'write-flash-lm');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Length lab: Stop ends a long evaluation at once and the lab runs again', async () => {
      const tab = await open('lab', '?model=gau-lm-softmax-plus');
      await tab.selectOption('gyre-length-lab #length', '8192');
      await tab.click('gyre-length-lab #run');
      await tab.waitForFunction(() => /loss with full attention/.test(document.querySelector('gyre-length-lab').shadowRoot.querySelector('#progress-label').textContent));
      await tab.click('gyre-length-lab #stop');
      await finished(tab);
      assert.equal(await tab.textContent('gyre-length-lab #progress-label'), 'Stopped.');
      await tab.selectOption('gyre-length-lab #length', '1024');
      await rerun(tab, 'gyre-length-lab #run');
      assert.match(await tab.textContent('gyre-length-lab #progress-label'), /^Done: /);
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Diffusion: samples digits step by step and can replay them', async () => {
      const tab = await open('diffusion', '?autorun&count=4&steps=10&seed=3');
      await finished(tab);
      assert.equal(await tab.textContent('gyre-diffusion #step'), '10 / 10');
      assert.match(await tab.textContent('gyre-diffusion #per-step'), /ms for 4 images/);
      await showsDownloadSize(tab, 'gyre-diffusion #download-size', 'ddpm-digits');
      assert.ok(await painted(tab, 'gyre-diffusion #x'));
      assert.ok(await painted(tab, 'gyre-diffusion #x0'));
      assert.ok(await painted(tab, 'gyre-diffusion #schedule'));
      assert.equal(await tab.$eval('gyre-diffusion', (element) => element.images.length), 4 * 28 * 28);
      assert.equal(await tab.isDisabled('gyre-diffusion #replay'), false);
      await tab.fill('gyre-diffusion #replay', '0');
      assert.equal(await tab.textContent('gyre-diffusion #step'), '1 / 10');
      await screenshot(tab, 'diffusion');
      // The class-conditional model: the page asks for each digit in turn; asking for 7s changes the images.
      assert.equal(await tab.inputValue('gyre-diffusion #label'), 'each');
      assert.equal(await tab.isDisabled('gyre-diffusion #label'), false);
      const inTurn = await tab.$eval('gyre-diffusion', (element) => Array.from(element.images));
      await tab.selectOption('gyre-diffusion #label', '7');
      await rerun(tab, 'gyre-diffusion #run');
      const sevens = await tab.$eval('gyre-diffusion', (element) => Array.from(element.images));
      assert.equal(sevens.length, inTurn.length);
      assert.notDeepEqual(sevens, inTurn);
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Widening: exact with the duplicated θ table, approximate with standard RoPE; the pitfalls break the toy', async () => {
      const tab = await open('widen', '?autorun');
      await finished(tab);
      const exact = await number(tab, '#widen-delta');
      assert.ok(exact < 1e-3, `max |Δ logits| ${exact}`);
      assert.equal(await tab.textContent('#widen-hidden'), '160 → 320');
      await showsDownloadSize(tab, '#widen-progress', 'gau-lm-softmax-plus');
      assert.equal(await tab.textContent('#widen-text-original'), await tab.textContent('#widen-text-wide'));
      await tab.check('input[name="widen-rope"][value="standard"]');
      await rerun(tab, '#widen-run');
      assert.ok(await number(tab, '#widen-delta') > 1e-2, 'standard RoPE is only approximately lossless');

      assert.equal(await tab.textContent('#toy-verdict'), 'exact');
      assert.ok(await number(tab, '#toy-delta') < 1e-10);
      for (const pitfall of ['#toy-typo', '#toy-eps', '#toy-tile']) {
        await tab.check(pitfall);
        assert.equal(await tab.textContent('#toy-verdict'), 'broken', pitfall);
        await tab.uncheck(pitfall);
      }
      await tab.check('input[name="toy-heads"][value="1"]');
      await tab.check('#toy-tile');
      assert.equal(await tab.textContent('#toy-verdict'), 'exact', 'with one head tiling is a mere permutation');
      await screenshot(tab, 'widen');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('Benchmark: every kernel of the quick suite is timed in both builds', async () => {
      const tab = await open('bench', '?autorun&budget=100');
      await finished(tab);
      const rows = await tab.$$eval('gyre-benchmark #table tbody tr', (trs) => trs.map((tr) => ({ kernel: tr.dataset.kernel, rate: Number(tr.dataset.rate), cells: [...tr.cells].map((td) => td.textContent) })));
      assert.equal(rows.length, 8);
      assert.deepEqual([...new Set(rows.map((row) => row.kernel))], ['gemm', 'attention', 'flash', 'exp', 'softmax']);
      for (const row of rows) {
        assert.ok(row.rate > 0 && Number.isFinite(row.rate), JSON.stringify(row));
        assert.match(row.cells[3], /^\d+\.\d\d G(FLOP|elem)\/s$/);
      }
      assert.match(await tab.textContent('gyre-benchmark #summary'), /^Best GEMM: \d+\.\d GFLOP\/s/);
      // Threaded where the server makes the page cross-origin isolated (the dev server), else not.
      assert.match(await tab.textContent('gyre-benchmark #main-build'), /^relaxed SIMD(, threaded)?$/);
      assert.match(await tab.textContent('gyre-benchmark #threads'), /^Threads: \d+ threads? \(the scalar build: 1\)$/);
      await screenshot(tab, 'bench');
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });

    test('model downloads go to the Cache API and the next visit reads them from there', async () => {
      const first = await open('write');
      await first.evaluate(() => caches.delete('gyre-models-v1'));
      await first.click('gyre-generate #run');
      await finished(first);
      assert.match(await first.textContent('gyre-generate #progress-label'), /^gau-lm-softmax-plus ready: \d+\.\d+ MB, /);
      assert.doesNotMatch(await first.textContent('gyre-generate #progress-label'), /cache/);
      await first.close();
      const second = await open('write', '?autorun&max=5');
      await finished(second);
      assert.match(await second.textContent('gyre-generate #progress-label'), /^gau-lm-softmax-plus ready: \d+\.\d+ MB from the cache, /);
      const cached = await second.evaluate(async () => (await (await caches.open('gyre-models-v1')).keys()).map((request) => new URL(request.url).pathname));
      const mount = new URL(browser.url).pathname.replace(/\/$/, '');  // '' or the subpath, e.g. /gyre
      assert.deepEqual(cached.sort(), [`${mount}/models/gau-lm-softmax-plus/config.json`, `${mount}/models/gau-lm-softmax-plus/model.safetensors`]);
      assert.deepEqual(second.problems, []);
      await second.close();
    });

    test('errors are readable messages on the page, and the page stays usable', async () => {
      const broken = await browser.newPage();
      await broken.goto(`${browser.url}/web/demos/rope.html?wasm=/nowhere/gyre-{flavour}.wasm`);
      await broken.waitForSelector('body[data-state="error"]', { timeout: 60_000 });
      assert.match(await broken.textContent('#error'), /NotFoundError \[NOT_FOUND\]: .*\/nowhere\/gyre-relaxed\.wasm.*404/);
      await broken.close();

      const tab = await open('lab');
      await tab.$eval('gyre-length-lab', (lab) => lab.setAttribute('model', '../../models/gau-lm-missing/'));
      await tab.click('gyre-length-lab #run');
      await tab.waitForSelector('body[data-run="error"]', { timeout: 60_000 });
      assert.equal(await tab.getAttribute('gyre-length-lab', 'state'), 'error');
      assert.match(await tab.textContent('gyre-length-lab #error'), /NotFoundError \[NOT_FOUND\]: .*gau-lm-missing\/config\.json.*404/);
      await tab.selectOption('gyre-length-lab #model', 'gau-lm-softmax-plus');
      await tab.selectOption('gyre-length-lab #length', '1024');
      await rerun(tab, 'gyre-length-lab #run');
      assert.equal(await tab.isVisible('gyre-length-lab #error'), false);
      await tab.close();
    });

    test('phone width and keyboard: no sideways scrolling, the menu and the main action work from the keyboard', async () => {
      for (const page of ['index', ...PAGES]) {
        const tab = await browser.newPage();
        await tab.setViewportSize({ width: 390, height: 800 });
        await tab.goto(`${browser.url}/web/demos/${page}.html`);
        await tab.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
        const overflow = await tab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
        assert.ok(overflow <= 1, `${page} scrolls sideways by ${overflow}px at 390px`);
        if (page === 'lab') await screenshot(tab, 'lab-phone');
        await tab.close();
      }
      const tab = await open('rope', '', { width: 390 });
      await finished(tab);
      assert.equal(await tab.isVisible('#site-links'), false, 'the menu is folded at phone width');
      await tab.focus('.nav-toggle');
      await tab.keyboard.press('Enter');
      assert.equal(await tab.isVisible('#site-links'), true);
      await tab.keyboard.press('Tab');
      assert.equal(await tab.evaluate(() => document.activeElement.getAttribute('href')), 'write.html');
      await tab.evaluate(() => { delete document.body.dataset.run; });
      await tab.focus('#rope-run');
      await tab.keyboard.press('Enter');
      await finished(tab);
      await tab.close();
    });

    test('?worker=false runs the engine in the page with the same results', async () => {
      const tab = await open('rope', '?worker=false');
      await finished(tab);
      assert.match(await tab.textContent('#engine-status'), /in this page/);
      assert.ok(Number(await tab.textContent('#rope-layout-permuted')) < 1e-3);
      assert.deepEqual(tab.problems, []);
      await tab.close();
    });
  });
}
