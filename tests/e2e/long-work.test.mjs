// Long work in the engine's Web Worker, in Chromium: a 100,000-character full-attention evaluate
// runs in steps there, reports progress, is cancelled through an AbortSignal (early, and late, deep
// into the text), and does not starve the page's other calls, which complete while it runs. The
// engine is used afterwards; the attention kernel likewise. Latencies are printed, not asserted (the
// README quotes them).
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
  await page.evaluate(async () => {
    const { createEngine } = await import('/web/lib/index.js');
    const engine = await createEngine({ worker: true, threads: false });
    const lm = await engine.loadModel('/models/gau-lm-softmax-plus/');
    const card = (await (await fetch('/models/gau-lm-softmax-plus/README.md')).text()).replace(/[^ -~\n]/g, ' ');
    window.gyreLongWork = { engine, lm, text: card.repeat(Math.ceil(100000 / card.length)).slice(0, 100000) };
  });
});
after(async () => {
  await page?.evaluate(() => window.gyreLongWork?.engine.terminate()).catch(() => {});
  await page?.close();
  await browser?.close();
});

test('worker: a long evaluate reports progress, other calls complete meanwhile, abort() rejects it', async () => {
  const result = await page.evaluate(async () => {
    const { AbortedError } = await import('/web/lib/index.js');
    const { engine, lm, text } = window.gyreLongWork;
    const controller = new AbortController();
    const reports = [];
    let settled = false;
    const long = lm.evaluate(text, { attention: 'full', signal: controller.signal,
      onProgress: (progress) => reports.push(progress) });
    long.then(() => { settled = true; }, () => { settled = true; });
    while (reports.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    // Calls made while the evaluation runs: a kernel, a forward pass and a short generation.
    const n = 64;
    const a = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
    const gemm = await engine.kernels.gemm(a, a, { m: n, n, k: n });
    const logits = await lm.logits('It is a truth');
    let generated = '';
    for await (const piece of await lm.generate('It is a truth', { maxTokens: 8, seed: 1 })) generated += piece;
    const othersDoneWhileRunning = !settled;
    const progressBeforeAbort = reports.length;
    const abortedAt = performance.now();
    controller.abort();
    let error;
    try { await long; } catch (caught) { error = caught; }
    const latencyMs = performance.now() - abortedAt;
    return {
      othersDoneWhileRunning, progressBeforeAbort, latencyMs,
      gemmLength: gemm.length, logitsFinite: Number.isFinite(logits[0]), generatedLength: generated.length,
      errorIsAborted: error instanceof AbortedError, errorCode: error?.code,
      last: reports.at(-1),
    };
  });
  console.log(`worker, 100,000 characters, full attention: ${result.progressBeforeAbort} progress reports before abort(); ` +
    `rejected ${result.latencyMs.toFixed(1)} ms after abort() (at ${result.last.done} of ${result.last.total} tokens)`);
  assert.equal(result.othersDoneWhileRunning, true, 'the other calls completed before the long evaluation settled');
  assert.ok(result.progressBeforeAbort >= 1);
  assert.equal(result.gemmLength, 64 * 64);
  assert.equal(result.logitsFinite, true);
  assert.equal(result.generatedLength, 8);
  assert.equal(result.errorIsAborted, true);
  assert.equal(result.errorCode, 'ABORTED');
  assert.ok(result.last.done < result.last.total, 'stopped part-way');
  assert.deepEqual(page.problems, []);
});

test('worker: a late abort, deep into the text, rejects it and leaves the engine usable', async () => {
  const result = await page.evaluate(async () => {
    const { AbortedError } = await import('/web/lib/index.js');
    const { lm, text } = window.gyreLongWork;
    const before = await lm.evaluate(text.slice(0, 300));
    const controller = new AbortController();
    const reports = [];
    const started = performance.now();
    const long = lm.evaluate(text, { attention: 'full', signal: controller.signal,
      onProgress: (progress) => reports.push(progress) });
    // Deep: well past the first steps, where each token attends over thousands of keys.
    while (!(performance.now() - started > 150 && (reports.at(-1)?.done ?? 0) >= 3000)) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const abortedAt = performance.now();
    const doneAtAbort = reports.at(-1).done;
    controller.abort();
    let error;
    try { await long; } catch (caught) { error = caught; }
    const latencyMs = performance.now() - abortedAt;
    const after = await lm.evaluate(text.slice(0, 300));
    return {
      latencyMs, doneAtAbort, total: reports.at(-1).total, runMs: abortedAt - started,
      errorIsAborted: error instanceof AbortedError,
      sameAfter: Array.from(after.nll).join() === Array.from(before.nll).join(),
    };
  });
  console.log(`worker, late abort after ${result.runMs.toFixed(0)} ms at token ${result.doneAtAbort} of ${result.total}: ` +
    `rejected ${result.latencyMs.toFixed(1)} ms after abort()`);
  assert.equal(result.errorIsAborted, true);
  assert.ok(result.doneAtAbort >= 3000 && result.doneAtAbort < result.total);
  assert.equal(result.sameAfter, true, 'the engine gives the same results after the cancelled call');
  assert.deepEqual(page.problems, []);
});

test('worker: a long attention kernel reports progress and is cancelled part-way', async () => {
  const result = await page.evaluate(async () => {
    const { AbortedError } = await import('/web/lib/index.js');
    const { engine } = window.gyreLongWork;
    const n = 4096;
    const q = Float32Array.from({ length: n * 64 }, (_, i) => Math.sin(i * 0.37));
    const controller = new AbortController();
    const reports = [];
    let error;
    try {
      await engine.kernels.attention(q, q, q, { queries: n, headDim: 64, mask: 'bidirectional', signal: controller.signal,
        onProgress: (progress) => { reports.push(progress); if (progress.done >= n / 4) controller.abort(); } });
    } catch (caught) { error = caught; }
    const small = { queries: 128, headDim: 64, mask: 'bidirectional' };
    const stepped = await engine.kernels.attention(q, q, q, { ...small, onProgress: () => {} });
    const once = await engine.kernels.attention(q, q, q, small);
    return { errorIsAborted: error instanceof AbortedError, last: reports.at(-1), equal: stepped.out.join() === once.out.join() };
  });
  assert.equal(result.errorIsAborted, true);
  assert.ok(result.last.done >= 1024 && result.last.done < result.last.total);
  assert.equal(result.equal, true);
});
