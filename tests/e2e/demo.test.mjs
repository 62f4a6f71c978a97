// Opens the demo site in headless Chromium, waits for the engine, checks what the page shows,
// and saves screenshots under test-output/.
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OUTPUT_DIR, openBrowser } from './browser.mjs';

let browser;
before(async () => {
  await mkdir(OUTPUT_DIR, { recursive: true });
  browser = await openBrowser();
});
after(async () => { await browser?.close(); });

async function openDemo(query = '') {
  const page = await browser.newPage();
  await page.goto(`${browser.url}/web/demos/${query}`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
  return page;
}

test('the demo page starts the threaded relaxed-SIMD engine (Chromium runs it) and shows its features', async () => {
  const page = await openDemo();
  const state = await page.getAttribute('body', 'data-state');
  assert.equal(state, 'ready', await page.textContent('#error'));
  assert.equal(await page.textContent('#feature-simd'), 'yes');
  // The dev server's COOP/COEP headers make the page cross-origin isolated, so threads run: one
  // per core, at most 8.
  assert.equal(await page.textContent('#feature-isolated'), 'yes');
  const threads = Math.min(await page.evaluate(() => navigator.hardwareConcurrency), 8);
  assert.equal(await page.textContent('#feature-threads'), String(threads));
  assert.match(await page.textContent('#feature-version'), /^\d+\.\d+\.\d+$/);
  assert.equal(await page.textContent('#feature-flavour'), threads > 1 ? 'gyre-relaxed-threads.wasm' : 'gyre-relaxed.wasm');
  assert.equal(await page.textContent("#features-json"),
    `engine.features = { "simd": true, "threads": ${threads}, "version": "${await page.textContent("#feature-version")}" }`);
  assert.equal(await page.isVisible('#error'), false);
  await page.screenshot({ path: fileURLToPath(new URL('demo.png', OUTPUT_DIR)), fullPage: true });
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('the RoPE example: the score depends only on m - n', async () => {
  const page = await openDemo();
  const scoreAt = async (m, n) => {
    await page.fill('#rope-m', String(m));
    await page.fill('#rope-n', String(n));
    assert.equal(await page.textContent('#rope-offset'), String(m - n));
    return Number(await page.textContent('#rope-score'));
  };
  const a = await scoreAt(10, 3);
  const b = await scoreAt(40, 33);
  const c = await scoreAt(3, 10);
  assert.ok(Number.isFinite(a));
  assert.ok(Math.abs(a - b) < 1e-4, `score(10,3)=${a} and score(40,33)=${b} should match`);
  assert.ok(Math.abs(a - c) > 1e-3, 'a different offset gives a different score');
  // The shifted rows all show the same score.
  const shifted = await page.$$eval('#rope-shifts tr td:nth-child(3)', (cells) => cells.map((cell) => Number(cell.textContent)));
  assert.equal(shifted.length, 4);
  for (const value of shifted) assert.ok(Math.abs(value - c) < 1e-4, `${value} vs ${c}`);
  assert.deepEqual(page.problems, []);
  await page.close();
});

test('?relaxed=false loads the SIMD128 binary, ?threads=false the single-thread one', async () => {
  const page = await openDemo('?relaxed=false');
  assert.equal(await page.getAttribute('body', 'data-state'), 'ready', await page.textContent('#error'));
  assert.equal(await page.textContent('#feature-simd'), 'yes');
  assert.match(await page.textContent('#feature-flavour'), /^gyre-simd(-threads)?\.wasm$/);
  await page.close();
  const single = await openDemo('?threads=false');
  assert.equal(await single.getAttribute('body', 'data-state'), 'ready', await single.textContent('#error'));
  assert.equal(await single.textContent('#feature-threads'), '1');
  assert.equal(await single.textContent('#feature-flavour'), 'gyre-relaxed.wasm');
  await single.close();
});

test('?simd=false loads the scalar binary', async () => {
  const page = await openDemo('?simd=false');
  assert.equal(await page.getAttribute('body', 'data-state'), 'ready', await page.textContent('#error'));
  assert.equal(await page.textContent('#feature-simd'), 'no');
  assert.equal(await page.textContent('#feature-flavour'), 'gyre-scalar.wasm');
  await page.screenshot({ path: fileURLToPath(new URL('demo-scalar.png', OUTPUT_DIR)) });
  await page.close();
});

test('a missing or HTML wasm URL shows a typed error naming the URL', async () => {
  const missing = await openDemo('?wasm=/nowhere/gyre-simd.wasm');
  assert.equal(await missing.getAttribute('body', 'data-state'), 'error');
  assert.equal(await missing.getAttribute('body', 'data-error-code'), 'NOT_FOUND');
  assert.match(await missing.textContent('#error'), /NOT_FOUND.*\/nowhere\/gyre-simd\.wasm.*404/);
  await missing.close();

  const html = await openDemo('?wasm=/web/demos/index.html');
  assert.equal(await html.getAttribute('body', 'data-error-code'), 'NOT_WASM');
  assert.match(await html.textContent('#error'), /web\/demos\/index\.html returned an HTML page/);
  await html.close();
});

test('in the browser, a lying safetensors file is a BadModelError and the engine stays usable', async () => {
  const page = await openDemo();
  const result = await page.evaluate(async () => {
    const { createEngine, BadModelError } = await import('/web/lib/index.js');
    const engine = await createEngine();
    const header = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
    const file = new Uint8Array(8 + header.length + 8);
    new DataView(file.buffer).setBigUint64(0, BigInt(header.length), true);
    file.set(header, 8);
    new DataView(file.buffer).setFloat32(8 + header.length + 4, 2.5, true);
    const lying = file.slice();
    new DataView(lying.buffer).setBigUint64(0, 2n ** 60n, true);
    let error;
    try { await engine.loadSafetensors(lying); } catch (caught) { error = caught; }
    const good = await engine.loadSafetensors(file);
    return {
      isBadModel: error instanceof BadModelError,
      code: error?.code,
      message: error?.message,
      values: Array.from(good.tensors.get('w').data),
    };
  });
  assert.ok(result.isBadModel, result.message);
  assert.equal(result.code, 'BAD_MODEL');
  assert.match(result.message, /header length 1152921504606846976/);
  assert.deepEqual(result.values, [0, 2.5]);
  await page.close();
});

test('engine.kernels.linear through the worker client: packed once, applied, typed errors, disposed', async () => {
  const page = await openDemo();
  const result = await page.evaluate(async () => {
    const { createEngine, BadArgumentError } = await import('/web/lib/index.js');
    const engine = await createEngine({ worker: true });
    // W [3 × 2] (in × out), bias, relu: y = relu(x·W + b)
    const layer = await engine.kernels.linear(Float32Array.of(1, 2, 3, 4, 5, 6), {
      in: 3, out: 2, bias: Float32Array.of(0.5, -100), activation: 'relu',
    });
    const y = await layer.apply(Float32Array.of(1, 0, -1, 2, 1, 0), 2);
    // Into the caller's array: the worker writes into its copy, the client into this one.
    const out = new Float32Array(5).fill(9);
    const returned = await layer.apply(Float32Array.of(1, 0, -1, 2, 1, 0), 2, out);
    const typed = async (promise) => {
      try { await promise; return 'no error'; } catch (error) { return error instanceof BadArgumentError ? error.message : String(error); }
    };
    const short = await typed(layer.apply(Float32Array.of(1, 2), 1));
    await layer.dispose();
    const disposed = await typed(layer.apply(Float32Array.of(1, 2, 3), 1));
    return { y: Array.from(y), isFloat32: y instanceof Float32Array, short, disposed, out: Array.from(out),
      returnedOut: returned === out };
  });
  // row 0: (1·1 + 0·3 − 1·5, 1·2 + 0·4 − 1·6) + b = (−3.5, −104) → relu (0, 0)
  // row 1: (2·1 + 1·3, 2·2 + 1·4) + b = (5.5, −92) → (5.5, 0)
  assert.deepEqual(result.y, [0, 0, 5.5, 0]);
  assert.deepEqual(result.out, [0, 0, 5.5, 0, 9]);
  assert.ok(result.returnedOut, 'apply(x, rows, out) resolves to out');
  assert.ok(result.isFloat32);
  assert.match(result.short, /x holds 2 floats, needs 3/);
  assert.match(result.disposed, /disposed/);
  await page.close();
});
