// The threaded engine in headless Chromium (the dev server sends COOP/COEP, so the page is
// cross-origin isolated): in the page and in the engine's Web Worker, results equal to the
// single-thread build, and no deadlock or leak: dispose, abort during threaded sampling, a worker
// thread that crashes mid-job, several engines on one page.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openBrowser } from './browser.mjs';

let browser;
let page;
before(async () => {
  browser = await openBrowser();
  page = await browser.newPage();
  await page.goto(`${browser.url}/web/demos/`);
  await page.waitForSelector('body[data-state="ready"], body[data-state="error"]', { timeout: 60_000 });
});
after(async () => {
  await page?.close();
  await browser?.close();
});

test('the page is isolated and runs 2 threads, equal to one thread bit for bit', async () => {
  const result = await page.evaluate(async () => {
    const { createEngine } = await import('/web/lib/index.js');
    const threaded = await createEngine({ threads: 2 });
    const single = await createEngine({ threads: false });
    const n = 256;
    const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
    const b = Float32Array.from({ length: n * n }, (_, i) => Math.cos(i));
    const gemmEqual = threaded.kernels.gemm(a, b, { m: n, n, k: n }).join() === single.kernels.gemm(a, b, { m: n, n, k: n }).join();
    const q = Float32Array.from({ length: 1024 * 64 }, (_, i) => Math.sin(i * 0.37));
    const options = { queries: 1024, headDim: 64 };
    const attentionEqual = threaded.kernels.attention(q, q, q, options).out.join() === single.kernels.attention(q, q, q, options).out.join();
    const features = threaded.features;
    threaded.dispose();
    return { isolated: crossOriginIsolated, features, gemmEqual, attentionEqual };
  });
  assert.equal(result.isolated, true);
  assert.equal(result.features.threads, 2);
  assert.match(result.features.flavour, /-threads$/);
  assert.equal(result.gemmEqual, true);
  assert.equal(result.attentionEqual, true);
  assert.deepEqual(page.problems, []);
});

test('in the engine Web Worker: 2 threads, models equal to one thread, abort mid-sampling', async () => {
  const result = await page.evaluate(async () => {
    const { createEngine, AbortedError } = await import('/web/lib/index.js');
    const remote = await createEngine({ worker: true, threads: 2 });
    const single = await createEngine({ threads: false });
    const ddpm = await remote.loadModel('/models/ddpm-digits/');
    const ddpmOne = await single.loadModel('/models/ddpm-digits/');
    const got = await ddpm.sample({ count: 4, steps: 3, seed: 5 });
    const want = await ddpmOne.sample({ count: 4, steps: 3, seed: 5 });
    const controller = new AbortController();
    let aborted = false;
    try {
      await ddpm.sample({ count: 8, steps: 20, seed: 1, signal: controller.signal,
        onStep: ({ step }) => { if (step === 2) controller.abort(); } });
    } catch (error) {
      aborted = error instanceof AbortedError || error.code === 'ABORTED';
    }
    const after = await ddpm.sample({ count: 2, steps: 2, seed: 1 });
    const threads = remote.features.threads;
    remote.terminate();
    return { threads, equal: Array.from(got.images).join() === Array.from(want.images).join(), aborted, afterLength: after.images.length };
  });
  assert.equal(result.threads, 2);
  assert.equal(result.equal, true);
  assert.equal(result.aborted, true);
  assert.equal(result.afterLength, 2 * 28 * 28);
});

test('dispose, a crashing worker thread and several engines: errors, never a hang', async () => {
  const result = await page.evaluate(async () => {
    const { createEngine } = await import('/web/lib/index.js');
    const engines = await Promise.all([2, 2, 3].map((threads) => createEngine({ threads })));
    const n = 160;
    const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i * 0.1));
    const first = engines[0].kernels.gemm(a, a, { m: n, n, k: n }).join();
    const allEqual = engines.every((engine) => engine.kernels.gemm(a, a, { m: n, n, k: n }).join() === first);
    engines.forEach((engine) => engine.dispose());
    let disposedError = '';
    try { engines[0].rope(new Float32Array(4)); } catch (error) { disposedError = error.code; }

    const crashing = await createEngine({ threads: 2 });
    let crashError = '';
    try { crashing[Symbol.for('gyre.trapInWorkerForTest')](); } catch (error) { crashError = `${error.code}: ${error.message}`; }
    let laterError = '';
    try { crashing.rope(new Float32Array(4)); } catch (error) { laterError = error.code; }
    crashing.dispose();
    const fresh = await createEngine({ threads: 2 });
    const freshWorks = fresh.rope(new Float32Array(4)).length === 4;
    fresh.dispose();
    return { allEqual, disposedError, crashError, laterError, freshWorks };
  });
  assert.equal(result.allEqual, true);
  assert.equal(result.disposedError, 'INTERNAL');
  assert.match(result.crashError, /^INTERNAL: .*worker thread/);
  assert.equal(result.laterError, 'INTERNAL');
  assert.equal(result.freshWorks, true);
});
