// The model API (web/lib/model.js) in Node on every wasm flavour (flavours.mjs): loading, generation (seeded, streamed,
// abortable), evaluation with attention overrides, attention entropy and weights, widening with
// verify(), DDPM sampling with per-step callbacks, golden logits through JS, and typed errors.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AbortedError, BadArgumentError, BadModelError, DiffusionModel, LanguageModel, TooLargeError, createEngine,
} from '../../web/lib/index.js';
import { FLAVOURS, flavourOptions } from './flavours.mjs';
import { assertGreedy, collect, readGolden } from './golden.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shipped = (name) => join(root, 'models', name);
const runtime = (name) => join(root, 'tests', 'golden', 'runtime', name);
const TEXT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.';

for (const flavour of FLAVOURS) {
  describe(`models (${flavour})`, () => {
    let engine;
    let lm;
    let scratch;
    before(async () => {
      engine = await createEngine(flavourOptions(flavour));
      lm = await engine.loadModel(shipped('gau-lm-softmax-plus'));
      scratch = await mkdtemp(join(tmpdir(), 'gyre-models-'));
    });
    after(async () => {
      lm?.dispose();
      await rm(scratch, { recursive: true, force: true });
    });

    test('loads a language model with its config and vocabulary', () => {
      assert.ok(lm instanceof LanguageModel);
      assert.equal(lm.info.family, 'gau-lm');
      assert.equal(lm.info.normaliser, 'softmax_plus');
      assert.equal(lm.vocab.length, lm.info.vocabSize);
      assert.equal(lm.decode(lm.encode('Emma')), 'Emma');
      assert.equal(lm.encode('€')[0], 0, 'characters outside the vocabulary map to id 0');
    });

    test('golden logits through the JS API match PyTorch within 1e-4', async () => {
      const manifest = JSON.parse(await readFile(join(root, 'tests/golden/golden.json'), 'utf8'));
      const entry = manifest.models['gau-lm-softmax-plus'];
      const golden = await readGolden(join(root, 'tests/golden', entry.file));
      const positions = golden.get('logit_positions');
      const modes = { full: {}, full_logn: { attention: 'full', logn: true }, window_64: { attention: 'local', window: 64 } };
      for (const [mode, options] of Object.entries(modes)) {
        const logits = lm.logits(entry.prompt, options);
        const expected = golden.get(`${mode}.logits`);
        const vocab = lm.info.vocabSize;
        let worst = 0;
        positions.forEach((position, p) => {
          for (let v = 0; v < vocab; v++) worst = Math.max(worst, Math.abs(logits[position * vocab + v] - expected[p * vocab + v]));
        });
        assert.ok(worst <= 1e-4, `${mode}: max |error| ${worst}`);
      }
    });

    test('generate streams pieces, stops at maxTokens, and a seed makes it deterministic', async () => {
      const options = { maxTokens: 40, temperature: 0.9, topK: 20, topP: 0.95, repetitionPenalty: 1.1, seed: 5 };
      const first = await collect(lm.generate('Elizabeth', options));
      const second = await collect(lm.generate('Elizabeth', options));
      assert.equal([...first].length, 40);
      assert.equal(first, second);
      const other = await collect(lm.generate('Elizabeth', { ...options, seed: 6 }));
      assert.notEqual(first, other);
    });

    test('greedy generation follows the argmax of the full-pass logits', async () => {
      const prompt = 'She was';
      const text = await collect(lm.generate(prompt, { maxTokens: 5, temperature: 0, attention: 'as-trained' }));
      assertGreedy(lm, prompt, text);
    });

    test('an AbortSignal stops generation with AbortedError, and the model stays usable', async () => {
      const controller = new AbortController();
      let count = 0;
      await assert.rejects(async () => {
        for await (const piece of lm.generate('The', { maxTokens: 100000, seed: 1, signal: controller.signal })) {
          if (++count === 50) controller.abort();
          assert.equal(typeof piece, 'string');
        }
      }, AbortedError);
      assert.ok(count >= 50 && count < 100);
      assert.equal([...await collect(lm.generate('The', { maxTokens: 3, seed: 1 }))].length, 3);
    });

    test('evaluate returns the per-position loss under each attention override', () => {
      const asTrained = lm.evaluate(TEXT);
      assert.equal(asTrained.nll.length, [...TEXT].length - 1);
      assert.ok(asTrained.bitsPerChar > 0.5 && asTrained.bitsPerChar < 6, `${asTrained.bitsPerChar}`);
      const local = lm.evaluate(TEXT, { attention: 'local', window: 16 });
      assert.notDeepEqual(local.nll, asTrained.nll);
      // Inside the training length the window of 128 sees everything: identical to as-trained.
      const wide = lm.evaluate(TEXT, { attention: 'local', window: 128 });
      assert.ok(wide.nll.every((v, i) => Math.abs(v - asTrained.nll[i]) < 1e-5));
      assert.throws(() => lm.evaluate(TEXT, { attention: 'sideways' }), BadArgumentError);
      assert.throws(() => lm.evaluate(TEXT, { attention: 'local', window: 0 }), BadArgumentError);
      assert.throws(() => lm.evaluate('x'), BadArgumentError);
    });

    test('log-n changes the loss only past the training length (softmax model)', async () => {
      const model = await engine.loadModel(runtime('gau-softmax'));  // trained length 32
      const text = TEXT.repeat(2);
      const plain = model.evaluate(text, { attention: 'full' }).nll;
      const logn = model.evaluate(text, { attention: 'full', logn: true }).nll;
      for (let i = 0; i < 31; i++) assert.ok(Math.abs(plain[i] - logn[i]) < 1e-6);
      assert.ok(plain.slice(40).some((v, i) => Math.abs(v - logn[40 + i]) > 1e-4));
      model.dispose();
    });

    test('attention entropy and weights of one layer', async () => {
      const n = [...TEXT].length;
      const { entropy, heads } = lm.attentionEntropy(TEXT, { layer: 2 });
      assert.equal(heads, 1);
      assert.equal(entropy.length, n);
      assert.equal(entropy[0], 0, 'the first token sees only itself');
      assert.ok(entropy[n - 1] > 0 && entropy[n - 1] <= Math.log(n) + 1e-5);
      const { weights, rows, keys } = lm.attentionWeights(TEXT, { layer: 2, queryBegin: 10, queryEnd: 20 });
      assert.equal(rows, 10);
      assert.equal(keys, n);
      for (let r = 0; r < rows; r++) {
        const row = weights.subarray(r * keys, (r + 1) * keys);
        const sum = row.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - 1) < 1e-5, `row ${r} sums to ${sum}`);
        assert.ok(row.subarray(10 + r + 1).every((w) => w === 0), 'causal: no weight on later keys');
      }
      const roformer = await engine.loadModel(runtime('roformer-softmax'));
      assert.equal(roformer.attentionEntropy(TEXT, { layer: 1 }).entropy.length, n * roformer.info.heads);
      assert.throws(() => roformer.attentionWeights(TEXT, { head: roformer.info.heads }), BadArgumentError);
      roformer.dispose();
    });

    test('widen(k) is lossless with the duplicated θ table, approximate with standard RoPE', async () => {
      for (const name of ['roformer-softmax', 'gau-relu2']) {
        const model = await engine.loadModel(runtime(name));
        const wide = model.widen(2);
        assert.equal(wide.info.hidden, 2 * model.info.hidden);
        assert.ok(wide.verify(TEXT) <= 1e-5, `${name}: ${wide.verify(TEXT)}`);
        const standard = model.widen(3, { exactRope: false });
        assert.ok(standard.verify(TEXT) > 1e-3);
        assert.throws(() => model.verify(TEXT), BadArgumentError);
        for (const m of [wide, standard, model]) m.dispose();
      }
      const wide = lm.widen(2);
      assert.ok(wide.verify() <= 1e-4);
      wide.dispose();
      // 1M parameters × 16² would need gigabytes of heap: refused before allocating, engine intact.
      assert.throws(() => lm.widen(16), TooLargeError);
      assert.throws(() => lm.widen(1.5), BadArgumentError);
      assert.ok(lm.evaluate(TEXT).bitsPerChar > 0);
    });

    test('DDPM: seeded strided sampling with per-step x_t and predicted x0', async () => {
      const ddpm = await engine.loadModel(shipped('ddpm-digits'));
      assert.ok(ddpm instanceof DiffusionModel);
      const steps = [];
      const first = await ddpm.sample({ count: 2, steps: 5, seed: 3, onStep: (s) => steps.push(s) });
      assert.equal(steps.length, 5);
      assert.deepEqual(steps.map((s) => s.k), [800, 600, 400, 200, 0]);
      assert.equal(steps[0].x.length, 2 * 28 * 28);
      assert.ok(steps.every((s) => s.x0.every((v) => v >= -1 && v <= 1)));
      assert.ok(first.images.every((v) => v >= -1 && v <= 1));
      const again = await ddpm.sample({ count: 2, steps: 5, seed: 3 });
      assert.deepEqual(again.images, first.images);
      const eta = await ddpm.sample({ count: 2, steps: 5, seed: 3, eta: 1 });
      assert.notDeepEqual(eta.images, first.images);
      await assert.rejects(ddpm.sample({ count: 0 }), BadArgumentError);
      await assert.rejects(ddpm.sample({ sigma: 'huge' }), BadArgumentError);
      const controller = new AbortController();
      controller.abort();
      await assert.rejects(ddpm.sample({ signal: controller.signal }), AbortedError);
      ddpm.dispose();
    });

    test('DDPM: class-conditional sampling and guidance; bad labels and weights are BAD_ARGUMENT', async () => {
      const ddpm = await engine.loadModel(shipped('ddpm-digits'));
      assert.equal(ddpm.info.classes, 10);
      const options = { count: 2, steps: 5, seed: 3 };
      // By default each image's digit is drawn from the seed; the result names it.
      const random = await ddpm.sample({ ...options, count: 8 });
      assert.equal(random.labels.length, 8);
      assert.ok(random.labels.every((digit) => Number.isInteger(digit) && digit >= 0 && digit < 10));
      assert.ok(new Set(random.labels).size > 1);
      assert.deepEqual((await ddpm.sample({ ...options, count: 8 })).labels, random.labels);
      assert.notDeepEqual((await ddpm.sample({ ...options, count: 8, seed: 4 })).labels, random.labels);
      assert.deepEqual((await ddpm.sample({ ...options, count: 8, label: Array.from(random.labels) })).images,
        random.images);
      // null: the any-class row.
      const any = await ddpm.sample({ ...options, label: null });
      assert.deepEqual(any.labels, Int32Array.of(-1, -1));
      assert.deepEqual((await ddpm.sample({ ...options, label: [null, null] })).images, any.images);
      const threes = await ddpm.sample({ ...options, label: 3 });
      const sevens = await ddpm.sample({ ...options, label: 7 });
      assert.notDeepEqual(threes.images, any.images);
      assert.notDeepEqual(threes.images, sevens.images);
      // Per-image labels: each image is what it would be alone with that label.
      const mixed = await ddpm.sample({ ...options, label: [3, 7] });
      const image = 28 * 28;
      assert.deepEqual(mixed.images.subarray(0, image), threes.images.subarray(0, image));
      assert.deepEqual(mixed.images.subarray(image), sevens.images.subarray(image));
      const x = new Float32Array(2 * image).fill(0.5);
      assert.deepEqual(ddpm.predictNoise(x, [500, 500], Int32Array.of(-1, -1)), ddpm.predictNoise(x, [500, 500]));
      assert.notDeepEqual(ddpm.predictNoise(x, [500, 500], 3), ddpm.predictNoise(x, [500, 500]));
      for (const label of [10, -1, 2.5, '3', [3], [3, 7, 1]]) {
        await assert.rejects(ddpm.sample({ ...options, label }), BadArgumentError, `label ${label}`);
      }
      assert.throws(() => ddpm.predictNoise(x, [500, 500], Int32Array.of(3, 10)), BadArgumentError);
      // Classifier-free guidance: changes labelled images only; out-of-range weights are refused.
      const guided = await ddpm.sample({ ...options, label: [3, null], guidance: 2 });
      assert.notDeepEqual(guided.images.subarray(0, image), threes.images.subarray(0, image));
      assert.deepEqual(guided.images.subarray(image), any.images.subarray(image));
      assert.deepEqual((await ddpm.sample({ ...options, label: 3, guidance: 1 })).images, threes.images);
      for (const guidance of [-1, 11, Number.NaN, '2']) {
        await assert.rejects(ddpm.sample({ ...options, label: 3, guidance }), BadArgumentError, `guidance ${guidance}`);
      }
      assert.ok((await ddpm.sample({ ...options, label: 1 })).images.length === 2 * image, 'engine still usable');
      ddpm.dispose();
    });

    test('a model with a missing or misshapen tensor is BAD_MODEL naming it; the engine stays usable', async () => {
      const source = runtime('gau-softmax');
      const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8'));
      const weights = await readFile(join(source, 'model.safetensors'));
      const bad = join(scratch, 'bad');
      await mkdir(bad, { recursive: true });
      await writeFile(join(bad, 'config.json'), JSON.stringify({ ...config, architecture: { ...config.architecture, hidden: 48 } }));
      await writeFile(join(bad, 'model.safetensors'), weights);
      await assert.rejects(engine.loadModel(bad), (error) => error instanceof BadModelError && /embeddings\.weight/.test(error.message));
      await assert.rejects(engine.loadModel({ config: { ...config, architecture: { ...config.architecture, layers: 3 } }, weights }),
        (error) => error instanceof BadModelError && /layers\.2\./.test(error.message));
      await assert.rejects(engine.loadModel({ config: { family: 'gpt-9' }, weights }), BadModelError);
      await assert.rejects(engine.loadModel(join(scratch, 'missing')), (error) => error.code === 'NOT_FOUND');
      assert.equal([...await collect(lm.generate('A', { maxTokens: 2, seed: 1 }))].length, 2);
    });

    test('a disposed model refuses calls', async () => {
      const model = await engine.loadModel(runtime('gau-softmax'));
      model.dispose();
      assert.throws(() => model.evaluate(TEXT), BadArgumentError);
    });
  });
}
