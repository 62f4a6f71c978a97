// Long work in the JS API: evaluate, attentionEntropy, attentionWeights and verify accept `signal`
// and `onProgress` and then run in steps (same results as the one-call form); a 100,000-character
// full-attention evaluation is cancelled within one step; a 4 MiB prompt generates with the window
// model in bounded wasm memory, and full attention refuses it early with TooLargeError. The long
// kernels (attention, attentionWeights) likewise run in blocks of queries with `signal` and
// `onProgress`, bit for bit equal to one call. (~60 s)
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { AbortedError, BadArgumentError, TooLargeError, createEngine } from '../../web/lib/index.js';
import { FLAVOURS, flavourOptions } from './flavours.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shipped = (name) => join(root, 'models', name);
const MiB = 1024 * 1024;

/** About `length` characters of English from the model card (repeated). */
async function longText(length) {
  const card = (await readFile(join(root, 'models', 'gau-lm-softmax-plus', 'README.md'), 'utf8')).replace(/[^ -~\n]/g, ' ');
  return card.repeat(Math.ceil(length / card.length)).slice(0, length);
}

/** Starts `run(signal, onProgress)`, aborts it from a timer after `afterMs`, and resolves to the
 * milliseconds from the timer's due time to the AbortedError: the wait for the step that was running. */
async function cancelLatency(run, afterMs = 200) {
  const controller = new AbortController();
  const reports = [];
  const due = performance.now() + afterMs;
  const timer = setTimeout(() => controller.abort(), afterMs);
  const work = run(controller.signal, (progress) => reports.push(progress));
  await assert.rejects(work, AbortedError);
  const latency = performance.now() - due;
  clearTimeout(timer);
  assert.ok(controller.signal.aborted, 'the abort came from the timer');
  assert.ok(reports.length >= 1 && reports.at(-1).done < reports.at(-1).total, 'stopped part-way');
  return latency;
}

describe('long work: steps, progress, cancellation, long prompts', () => {
  let engine;
  let lm;
  before(async () => {
    engine = await createEngine({ relaxed: false });
    lm = await engine.loadModel(shipped('gau-lm-softmax-plus'));
  });
  after(() => lm?.dispose());

  test('with onProgress the long calls return promises of the one-call results', async () => {
    const text = await longText(1500);
    for (const options of [{}, { attention: 'full', logn: true }, { attention: 'local', window: 64 }]) {
      const reports = [];
      const onProgress = (progress) => reports.push(progress);
      const once = lm.evaluate(text, options);
      const stepped = lm.evaluate(text, { ...options, onProgress });
      assert.ok(stepped instanceof Promise);
      assert.deepEqual((await stepped).nll, once.nll);
      assert.ok(reports.length >= 1);
      assert.deepEqual(reports.at(-1), { done: 1499, total: 1499 });
      assert.ok(reports.every((r, i) => i === 0 || r.done > reports[i - 1].done));

      assert.deepEqual((await lm.attentionEntropy(text, { layer: 5, ...options, onProgress })).entropy,
        lm.attentionEntropy(text, { layer: 5, ...options }).entropy);
      const range = { layer: 2, queryBegin: 1000, queryEnd: 1050, ...options };
      assert.deepEqual((await lm.attentionWeights(text, { ...range, onProgress })).weights, lm.attentionWeights(text, range).weights);
    }
    const wide = lm.widen(2);
    const delta = await wide.verify(text.slice(0, 600), { onProgress: () => {} });
    assert.equal(delta, wide.verify(text.slice(0, 600)));
    assert.ok(delta < 1e-3);
    wide.dispose();
    assert.throws(() => lm.evaluate(text, { onProgress: 'yes' }), BadArgumentError);
  });

  test('an aborted signal stops each long call with AbortedError; the engine stays usable', async () => {
    const text = await longText(1000);
    const aborted = AbortSignal.abort();
    await assert.rejects(lm.evaluate(text, { signal: aborted }), AbortedError);
    await assert.rejects(lm.attentionEntropy(text, { signal: aborted }), AbortedError);
    await assert.rejects(lm.attentionWeights(text, { queryBegin: 5, queryEnd: 9, signal: aborted }), AbortedError);
    const wide = lm.widen(2);
    await assert.rejects(wide.verify(text, { signal: aborted }), AbortedError);
    const long = await longText(20000);
    const latency = await cancelLatency((signal, onProgress) => wide.verify(long, { signal, onProgress }), 2000);
    console.log(`verify (20,000 characters) cancelled ${latency.toFixed(1)} ms after abort()`);
    wide.dispose();
    assert.ok(Number.isFinite(lm.evaluate(text).meanNll));
  });

  test('a 100,000-character full-attention evaluation is cancelled within one step', async () => {
    const text = await longText(100000);
    const latencies = [];
    for (const run of [
      (signal, onProgress) => lm.evaluate(text, { attention: 'full', signal, onProgress }),
      (signal, onProgress) => lm.attentionEntropy(text, { attention: 'full', layer: 5, signal, onProgress }),
      (signal, onProgress) => lm.attentionWeights(text, { attention: 'full', layer: 0, queryBegin: 99900, signal, onProgress }),
    ]) {
      latencies.push(await cancelLatency(run, 300));
    }
    console.log(`100,000 characters, full attention: cancelled ${latencies.map((ms) => ms.toFixed(1)).join(', ')} ms ` +
      'after abort() (evaluate, attentionEntropy, attentionWeights)');
    // The step is 20 ms plus one chunk; the bound is loose for a shared machine (the measured
    // figures are printed above and quoted in the README).
    for (const ms of latencies) assert.ok(ms < 1000, `${ms} ms`);
    assert.ok(Number.isFinite(lm.evaluate('It is a truth').meanNll));
  });

  test('a 4 MiB prompt generates with the window model in bounded memory; full attention refuses it', async () => {
    const fresh = await createEngine({ relaxed: false });
    const model = await fresh.loadModel(shipped('gau-lm-softmax-plus'));
    const prompt = await longText(4 * MiB);
    const before = fresh.heapBytes;
    let text = '';
    const started = performance.now();
    for await (const piece of model.generate(prompt, { maxTokens: 32, seed: 1, window: 128 })) text += piece;
    const seconds = (performance.now() - started) / 1000;
    assert.equal(text.length, 32);
    // The same tokens as from the prompt's last 6 · 127 + 1 characters: nothing before can reach them.
    let tail = '';
    for await (const piece of model.generate(prompt.slice(-(6 * 127 + 1)), { maxTokens: 32, seed: 1, window: 128 })) tail += piece;
    assert.equal(text, tail);
    const heap = fresh.heapBytes;
    console.log(`4 MiB prompt, window 128: 32 tokens in ${seconds.toFixed(2)} s; wasm memory ${(before / MiB).toFixed(1)} MiB ` +
      `after loading, ${(heap / MiB).toFixed(1)} MiB after generating`);
    // The prompt's 4 Mi token ids cross into the engine (16 MiB, twice at most while encoding); the
    // caches hold 128 keys a layer.
    assert.ok(heap <= before + 64 * MiB, `${heap / MiB} MiB`);
    await assert.rejects(async () => {
      for await (const piece of model.generate(prompt, { maxTokens: 1, attention: 'full' })) void piece;
    }, (error) => error instanceof TooLargeError && /1\.00 GiB/.test(error.message) && /'local'/.test(error.message));
    assert.throws(() => model.evaluate(prompt.slice(0, 200000), { attention: 'full' }), TooLargeError);
    model.dispose();
  });
});

describe('long kernels: attention and attentionWeights in steps', () => {
  function randomFloats(count, seed) {
    let state = seed;
    const values = new Float32Array(count);
    for (let i = 0; i < count; ++i) {
      state = (state * 1664525 + 1013904223) >>> 0;
      values[i] = state / 2 ** 31 - 1;
    }
    return values;
  }

  test('with onProgress they return promises of the one-call results, bit for bit, on every flavour and 2 threads', async () => {
    const n = 700;  // not a multiple of the 64-row blocks
    const heads = 2;
    const headDim = 24;
    const q = randomFloats(n * heads * headDim, 1);
    const k = randomFloats(n * heads * headDim, 2);
    const v = randomFloats(n * heads * headDim, 3);
    const cases = [
      { mask: 'causal', normaliser: 'softmax_plus', entropy: true },
      { mask: 'bidirectional', normaliser: 'relu2' },
      { mask: 'causal-window', window: 100, normaliser: 'softmax', entropy: true },
      { mask: 'band', window: 37, normaliser: 'softmax_plus', queries: 300, keys: n },
    ];
    for (const options of [...FLAVOURS.map(flavourOptions), { relaxed: false, threads: 2 }]) {
      const engine = await createEngine(options);
      const { kernels } = engine;
      for (const shape of cases) {
        const args = { queries: n, heads, headDim, ...shape };
        const reports = [];
        const once = kernels.attention(q, k, v, args);
        const stepped = kernels.attention(q, k, v, { ...args, onProgress: (progress) => reports.push(progress) });
        assert.ok(stepped instanceof Promise);
        const result = await stepped;
        assert.deepEqual(result.out, once.out, `${engine.features.flavour} ${JSON.stringify(shape)}`);
        assert.deepEqual(result.entropy, once.entropy);
        assert.deepEqual(reports.at(-1), { done: args.queries, total: args.queries });
        assert.ok(reports.every((r, i) => i === 0 || r.done > reports[i - 1].done));

        const range = { ...args, head: 1, queryBegin: 10, queryEnd: args.queries - 3 };
        const weights = await kernels.attentionWeights(q, k, { ...range, onProgress: () => {} });
        assert.deepEqual(weights, kernels.attentionWeights(q, k, range));
      }
      engine.dispose();
    }
  });

  test('an abort rejects them with AbortedError part-way; the engine stays usable and leaks nothing', async () => {
    const engine = await createEngine({ relaxed: false, threads: false });
    const { kernels } = engine;
    const n = 4096;
    const headDim = 64;
    const q = randomFloats(n * headDim, 4);
    const k = randomFloats(n * headDim, 5);
    const args = { queries: n, headDim, mask: 'bidirectional' };
    await assert.rejects(kernels.attention(q, k, k, { ...args, signal: AbortSignal.abort() }), AbortedError);
    const heaps = [];
    for (let round = 0; round < 2; ++round) {
      for (const [name, run] of [
        ['attention', (options) => kernels.attention(q, k, k, { ...args, ...options })],
        ['attentionWeights', (options) => kernels.attentionWeights(q, k, { ...args, queryBegin: 100, queryEnd: 612, ...options })],
      ]) {
        // Aborted from onProgress once a quarter is done: deep into the work, and no timer involved.
        const controller = new AbortController();
        const reports = [];
        const work = run({
          signal: controller.signal,
          onProgress: (progress) => {
            reports.push(progress);
            if (progress.done >= progress.total / 4) controller.abort();
          },
        });
        await assert.rejects(work, (error) => error instanceof AbortedError && error.code === 'ABORTED', name);
        assert.ok(reports.at(-1).done < reports.at(-1).total, `${name} stopped part-way`);
      }
      heaps.push(engine.heapBytes);
    }
    assert.equal(heaps[1], heaps[0], 'the aborted calls freed their buffers');
    assert.throws(() => kernels.attention(q, k, k, { ...args, onProgress: 1 }), BadArgumentError);
    assert.throws(() => kernels.attention(q, k, k, { ...args, signal: {} }), BadArgumentError);
    const small = { queries: 64, headDim };
    assert.deepEqual((await kernels.attention(q, k, k, { ...small, onProgress: () => {} })).out,
      kernels.attention(q, k, k, small).out);
    engine.dispose();
  });
});
