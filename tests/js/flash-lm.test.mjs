// flash-lm (FLASH mixed-chunk attention) through the public API on every wasm flavour: golden logits and
// loss, evaluation of a text many chunks long in steps equal to the full pass, seeded and greedy
// generation through the FlashDecoders, and BadArgumentError for the options FLASH does not have
// (window, log-n, attention capture, widening), after which the model stays usable.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BadArgumentError, LanguageModel, createEngine } from '../../web/lib/index.js';
import { FLAVOURS, flavourOptions } from './flavours.mjs';
import { assertGreedy, collect, readGolden } from './golden.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));

function maxAbsDiff(a, b) {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** −log p(token i + 1 | 0..i) from a full pass's logits, in float64. */
function nllFromLogits(logits, ids, vocab) {
  const nll = new Float64Array(ids.length - 1);
  for (let i = 0; i + 1 < ids.length; i++) {
    const row = logits.subarray(i * vocab, (i + 1) * vocab);
    const top = Math.max(...row);
    let sum = 0;
    for (const value of row) sum += Math.exp(value - top);
    nll[i] = Math.log(sum) + top - row[ids[i + 1]];
  }
  return nll;
}

const manifest = JSON.parse(await readFile(join(root, 'tests/golden/golden.json'), 'utf8'));
const entry = manifest.models['flash-lm'];

for (const flavour of FLAVOURS) {
  describe(`flash-lm (${flavour})`, () => {
    let engine;
    let lm;
    before(async () => {
      engine = await createEngine(flavourOptions(flavour));
      lm = await engine.loadModel(join(root, 'models', 'flash-lm'));
    });
    after(() => lm?.dispose());

    test('loads as a flash-lm with its chunk length', () => {
      assert.ok(lm instanceof LanguageModel);
      assert.equal(lm.info.family, 'flash-lm');
      assert.equal(lm.info.chunk, lm.config.architecture.chunk);
      assert.equal(lm.info.trainLength, 128);
    });

    test('golden logits and loss through the JS API match PyTorch within 1e-4', async () => {
      const golden = await readGolden(join(root, 'tests/golden', entry.file));
      const logits = lm.logits(entry.prompt);
      const expected = golden.get('full.logits');
      const vocab = lm.info.vocabSize;
      let worst = 0;
      golden.get('logit_positions').forEach((position, p) => {
        for (let v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs(logits[position * vocab + v] - expected[p * vocab + v]));
      });
      assert.ok(worst <= entry.tolerance.logits_abs, `logits max |error| ${worst}`);
      const { nll } = lm.evaluate(entry.prompt);
      const nllError = maxAbsDiff(nll, golden.get('full.nll'));
      assert.ok(nllError <= entry.tolerance.nll_abs, `nll max |error| ${nllError}`);
    });

    test('evaluate over 3000 characters in steps equals the full pass', async () => {
      const text = entry.prompt.repeat(15);
      const ids = lm.encode(text);
      const reference = nllFromLogits(lm.logits(ids), ids, lm.info.vocabSize);
      let progress = 0;
      const result = await lm.evaluate(text, { onProgress: ({ done }) => { progress = done; } });
      assert.equal(progress, ids.length - 1);
      const error = maxAbsDiff(result.nll, reference);
      assert.ok(error <= 1e-4, `chunked nll against the full pass: max |error| ${error}`);
      assert.ok(result.bitsPerChar > 0 && result.bitsPerChar < 4);
    });

    test('seeded generation is deterministic and greedy generation follows the full-pass argmax', async () => {
      const options = { maxTokens: 50, temperature: 0.9, topK: 20, seed: 5 };
      const first = await collect(lm.generate('Elizabeth', options));
      assert.equal([...first].length, 50);
      assert.equal(first, await collect(lm.generate('Elizabeth', options)));
      // 40 prompt characters and 30 greedy ones cross FLASH's chunk boundaries at 32 and 64.
      const prompt = entry.prompt.slice(0, 40);
      const text = await collect(lm.generate(prompt, { maxTokens: 30, temperature: 0 }));
      assertGreedy(lm, prompt, text);
    });

    test('a window, log-n, attention capture or widening is a BadArgumentError; the model stays usable', async () => {
      for (const options of [{ attention: 'local', window: 64 }, { attention: 'local' }, { attention: 'full', logn: true }]) {
        assert.throws(() => lm.logits('Emma', options), (e) => e instanceof BadArgumentError && /no window or log-n/.test(e.message));
        assert.throws(() => lm.evaluate('Emma was', options), BadArgumentError);
        await assert.rejects(() => collect(lm.generate('Emma', { ...options, maxTokens: 3 })), BadArgumentError);
      }
      assert.throws(() => lm.attentionEntropy('Emma was'), (e) => e instanceof BadArgumentError && /no attention matrix/.test(e.message));
      assert.throws(() => lm.attentionWeights('Emma was'), BadArgumentError);
      assert.throws(() => lm.widen(2), BadArgumentError);
      assert.equal([...await collect(lm.generate('Emma', { maxTokens: 3, seed: 1 }))].length, 3);
      assert.equal(lm.logits('Emma', { attention: 'full' }).length, 4 * lm.info.vocabSize);
    });
  });
}
