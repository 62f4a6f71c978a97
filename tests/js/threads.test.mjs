// The threaded flavours in Node: the thread count and its options, results bit for bit equal to
// the single-thread build of the same flavour (GEMM, attention by query blocks and by heads, LM
// logits, DDPM samples), and no deadlock or leak: dispose, abort during threaded work, a worker
// thread that crashes mid-job, several engines at once, and a script that ends without dispose.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AbortedError, BadArgumentError, InternalError, UnsupportedError, createEngine, relaxedSimdSupported,
  threadsSupported,
} from '../../web/lib/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const shipped = (name) => join(root, 'models', name);
const TEXT = 'It is a truth universally acknowledged, that a single man in possession of a good fortune';

function randomFloats(count, seed) {
  let state = seed;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state * 1664525 + 1013904223) >>> 0;
    out[i] = state / 2 ** 31 - 1;
  }
  return out;
}

const BASES = [...(relaxedSimdSupported() ? ['relaxed'] : []), 'simd'];
const baseOptions = (base) => ({ relaxed: base === 'relaxed' });

test('Node runs threads; the thread count follows the threads option', async () => {
  assert.equal(threadsSupported(), true);
  const two = await createEngine({ threads: 2 });
  assert.equal(two.features.threads, 2);
  assert.match(two.features.flavour, /-threads$/);
  assert.match(two.wasmUrl, /gyre-(relaxed|simd)-threads\.wasm$/);
  two.dispose();
  const one = await createEngine({ threads: 1 });
  assert.equal(one.features.threads, 1);
  assert.doesNotMatch(one.features.flavour, /threads/);
  const scalar = await createEngine({ simd: false });
  assert.equal(scalar.features.threads, 1, "'auto' falls back to one thread for the scalar build");
  await assert.rejects(createEngine({ simd: false, threads: 2 }), UnsupportedError);
  // A fixed URL names one module: 'auto' keeps to it, a thread count cannot be honoured.
  const fixed = join(root, 'web/lib/wasm/gyre-simd.wasm');
  assert.equal((await createEngine({ wasmUrl: fixed })).features.threads, 1);
  await assert.rejects(createEngine({ wasmUrl: fixed, threads: 2 }), UnsupportedError);
  for (const threads of [0, -1, 1.5, 65, 'many', true]) {
    await assert.rejects(createEngine({ threads }), BadArgumentError, String(threads));
  }
});

for (const base of BASES) {
  describe(`threaded ${base} build equals the single-thread ${base} build`, () => {
    test('GEMM and attention (query blocks, heads) bit for bit', async () => {
      const single = await createEngine({ ...baseOptions(base), threads: false });
      const threaded = await createEngine({ ...baseOptions(base), threads: 3 });
      try {
        for (const [m, n, k] of [[256, 256, 256], [301, 130, 257], [64, 512, 512], [1, 512, 512]]) {
          const a = randomFloats(m * k, 1);
          const b = randomFloats(k * n, 2);
          const want = single.kernels.gemm(a, b, { m, n, k, activation: 'silu' });
          const got = threaded.kernels.gemm(a, b, { m, n, k, activation: 'silu' });
          assert.deepEqual(got, want, `${m}x${n}x${k}`);
        }
        for (const [heads, queries, mask] of [[1, 1024, 'causal'], [4, 300, 'causal'], [1, 700, 'causal-window']]) {
          const size = heads * queries * 64;
          const [q, k, v] = [randomFloats(size, 3), randomFloats(size, 4), randomFloats(size, 5)];
          const options = { queries, keys: queries, heads, headDim: 64, mask, window: 100, entropy: true };
          const want = single.kernels.attention(q, k, v, options);
          const got = threaded.kernels.attention(q, k, v, options);
          assert.deepEqual(got.out, want.out, `${heads} heads, ${queries} queries`);
          assert.deepEqual(got.entropy, want.entropy);
        }
      } finally {
        threaded.dispose();
      }
    });

    test('LM logits and DDPM samples bit for bit', async () => {
      const single = await createEngine({ ...baseOptions(base), threads: false });
      const threaded = await createEngine({ ...baseOptions(base), threads: 2 });
      try {
        const lmOne = await single.loadModel(shipped('gau-lm-softmax-plus'));
        const lmTwo = await threaded.loadModel(shipped('gau-lm-softmax-plus'));
        const long = TEXT.repeat(6);
        assert.deepEqual(lmTwo.logits(long), lmOne.logits(long));
        assert.deepEqual(lmTwo.logits(long, { attention: 'local', window: 64 }),
          lmOne.logits(long, { attention: 'local', window: 64 }));
        const ddpmOne = await single.loadModel(shipped('ddpm-digits'));
        const ddpmTwo = await threaded.loadModel(shipped('ddpm-digits'));
        const want = await ddpmOne.sample({ count: 4, steps: 3, seed: 9 });
        const got = await ddpmTwo.sample({ count: 4, steps: 3, seed: 9 });
        assert.deepEqual(got.images, want.images);
      } finally {
        threaded.dispose();
      }
    });
  });
}

describe('no deadlock, no leak', () => {
  test('dispose stops the threads; calls afterwards are a clear error; dispose is idempotent', async () => {
    const engine = await createEngine({ threads: 2 });
    const lm = await engine.loadModel(shipped('gau-lm-softmax-plus'));
    lm.logits(TEXT);
    engine.dispose();
    engine.dispose();
    assert.throws(() => engine.kernels.gemm(randomFloats(64, 1), randomFloats(64, 2), { m: 8, n: 8, k: 8 }),
      (error) => error instanceof InternalError && /disposed/.test(error.message));
  });

  test('aborting threaded generation and sampling leaves the engine usable', async () => {
    const engine = await createEngine({ threads: 2 });
    try {
      const ddpm = await engine.loadModel(shipped('ddpm-digits'));
      const controller = new AbortController();
      await assert.rejects(ddpm.sample({
        count: 8, steps: 20, seed: 1, signal: controller.signal,
        onStep: ({ step }) => { if (step === 2) controller.abort(); },
      }), AbortedError);
      const lm = await engine.loadModel(shipped('gau-lm-softmax-plus'));
      const stop = new AbortController();
      let pieces = 0;
      await assert.rejects((async () => {
        for await (const piece of lm.generate(TEXT, { maxTokens: 100, seed: 2, signal: stop.signal })) {
          if (++pieces === 5) stop.abort();
          assert.equal(typeof piece, 'string');
        }
      })(), AbortedError);
      const again = await ddpm.sample({ count: 2, steps: 2, seed: 1 });
      assert.equal(again.images.length, 2 * 28 * 28);
    } finally {
      engine.dispose();
    }
  });

  test('a worker thread that crashes mid-job is an InternalError, not a hang; a new engine works', async () => {
    const engine = await createEngine({ threads: 2 });
    assert.throws(() => engine[Symbol.for('gyre.trapInWorkerForTest')](),
      (error) => error instanceof InternalError && /worker thread/.test(error.message));
    assert.throws(() => engine.rope(new Float32Array(4)), (error) => error instanceof InternalError &&
      /create a new engine/.test(error.message));
    engine.dispose();
    const fresh = await createEngine({ threads: 2 });
    assert.equal(fresh.rope(new Float32Array(4)).length, 4);
    fresh.dispose();
  });

  test('several threaded engines at once compute independently', async () => {
    const engines = await Promise.all([2, 2, 3].map((threads) => createEngine({ threads })));
    const a = randomFloats(192 * 192, 7);
    const b = randomFloats(192 * 192, 8);
    const want = (await createEngine({ threads: false, relaxed: engines[0].features.flavour.startsWith('relaxed') }))
      .kernels.gemm(a, b, { m: 192, n: 192, k: 192 });
    for (let round = 0; round < 3; round++) {
      for (const engine of engines) assert.deepEqual(engine.kernels.gemm(a, b, { m: 192, n: 192, k: 192 }), want);
    }
    for (const engine of engines) engine.dispose();
  });

  test('a script that never disposes its threaded engine still exits', () => {
    const script = `import { createEngine } from ${JSON.stringify(new URL('../../web/lib/index.js', import.meta.url).href)};
      const engine = await createEngine({ threads: 2 });
      const a = new Float32Array(256 * 256).fill(1);
      const c = engine.kernels.gemm(a, a, { m: 256, n: 256, k: 256 });
      console.log(engine.features.threads, c[0]);`;
    const child = spawnSync(process.execPath, ['--no-experimental-fetch', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.error, undefined, 'the process did not exit by itself');
    assert.equal(child.status, 0, child.stderr);
    assert.equal(child.stdout.trim(), '2 256');
  });
});
