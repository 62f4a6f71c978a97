// Soak: memory stays flat under repetition. 300 cycles of load → forward → dispose; 100,000 tokens
// generated with the window model (memory flat, tokens/s not decaying: first and last tenth
// compared loosely); 1,000 calls of each kernel (the stepped attention too). Wasm memory never
// shrinks, so "flat" means it stops growing after a warm-up; the JS heap is compared after a forced
// collection. One flavour (SIMD128): leaks are in the shared code. Prints the figures the README's
// Reliability section quotes.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createEngine } from '../../web/lib/index.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc');
const root = fileURLToPath(new URL('../../', import.meta.url));
const MiB = 1024 * 1024;

function jsHeap() {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().heapUsed;
}

function random(count, seed = 1) {
  const values = new Float32Array(count);
  let state = seed;
  for (let i = 0; i < count; ++i) {
    state = (state * 1664525 + 1013904223) >>> 0;
    values[i] = state / 2 ** 32 - 0.5;
  }
  return values;
}

describe('soak', () => {
  test('300 cycles of load → forward → dispose leave wasm memory and the JS heap flat', async () => {
    const engine = await createEngine({ relaxed: false, threads: false });
    const dir = join(root, 'models', 'gau-lm-softmax-plus');
    const config = await readFile(join(dir, 'config.json'), 'utf8');
    const weights = new Uint8Array(await readFile(join(dir, 'model.safetensors')));
    const cycle = async () => {
      const lm = await engine.loadModel({ config, weights });
      const logits = lm.logits('It is a truth universally acknowledged');
      assert.ok(Number.isFinite(logits[0]));
      lm.dispose();
    };
    for (let i = 0; i < 20; ++i) await cycle();  // warm-up: the heap reaches its working size
    const wasmStart = engine.heapBytes;
    const jsStart = jsHeap();
    for (let i = 0; i < 300; ++i) await cycle();
    const wasmEnd = engine.heapBytes;
    const jsEnd = jsHeap();
    console.log(`300 load/forward/dispose cycles: wasm ${(wasmStart / MiB).toFixed(1)} -> ${(wasmEnd / MiB).toFixed(1)} MiB, ` +
      `JS heap ${(jsStart / MiB).toFixed(1)} -> ${(jsEnd / MiB).toFixed(1)} MiB`);
    assert.equal(wasmEnd, wasmStart);  // one leaked model would be 8 MiB (weights and their packed copy)
    assert.ok(jsEnd - jsStart < 4 * MiB, `JS heap grew ${(jsEnd - jsStart) / MiB} MiB`);
  });

  test('100,000 tokens generated with the window: memory flat, tokens/s not decaying', async () => {
    const engine = await createEngine({ relaxed: false, threads: false });
    const lm = await engine.loadModel(join(root, 'models', 'gau-lm-softmax-plus'));
    const total = 100000;
    const segment = total / 10;
    const rates = [];
    const heaps = [];
    let count = 0;
    let started = performance.now();
    for await (const piece of lm.generate('It is a truth', { maxTokens: total, seed: 3, window: 128 })) {
      assert.equal(piece.length > 0, true);
      if (++count % segment === 0) {
        const now = performance.now();
        rates.push(segment / ((now - started) / 1000));
        heaps.push(engine.heapBytes);
        started = now;
      }
    }
    assert.equal(count, total);
    console.log(`100,000 tokens, window 128: tokens/s per tenth ${rates.map((r) => r.toFixed(0)).join(' ')}; ` +
      `wasm ${heaps.map((h) => (h / MiB).toFixed(1)).join(' ')} MiB`);
    assert.equal(heaps.at(-1), heaps[0]);  // nothing grows after the first 10,000 tokens
    // Loose: a shared machine's speed drifts, a per-token cost that grew with the position would not
    // stay within 2x over 90,000 tokens.
    assert.ok(rates.at(-1) > rates[0] / 2, `first ${rates[0]}, last ${rates.at(-1)} tokens/s`);
    lm.dispose();
  });

  test('1,000 calls of each kernel leave wasm memory and the JS heap flat', async () => {
    const engine = await createEngine({ relaxed: false, threads: false });
    const { kernels } = engine;
    const n = 64;
    const d = 32;
    const q = random(n * d, 1);
    const k = random(n * d, 2);
    const v = random(n * d, 3);
    const calls = {
      attention: () => kernels.attention(q, k, v, { queries: n, headDim: d, mask: 'causal', entropy: true }),
      attentionWeights: () => kernels.attentionWeights(q, k, { queries: n, headDim: d, queryBegin: 3, queryEnd: 9 }),
      gemm: () => kernels.gemm(q, k, { m: n, n, k: d, transposeB: true, activation: 'silu' }),
      flash: () => kernels.flash(q, k, q, k, v, { length: n, chunk: 16, qkDim: d, valueDim: d }),
      flashDecoder: () => {
        const decoder = kernels.flashDecoder({ chunk: 16, qkDim: d, valueDim: d });
        for (let t = 0; t < 4; ++t) decoder.step(q.subarray(0, d), k.subarray(0, d), q.subarray(0, d), k.subarray(0, d), v.subarray(0, d));
        decoder.dispose();
      },
      linear: () => {
        const layer = kernels.linear(k, { in: d, out: n, activation: 'gelu' });
        layer.apply(q.subarray(0, 4 * d), 4);
        layer.dispose();
      },
      attentionInSteps: () => kernels.attention(q, k, v, { queries: n, headDim: d, onProgress: () => {} }),
      rope: () => engine.rope(q, { headDim: d, position: 5 }),
    };
    for (const [name, call] of Object.entries(calls)) {
      for (let i = 0; i < 50; ++i) await call();
      const wasmStart = engine.heapBytes;
      const jsStart = jsHeap();
      for (let i = 0; i < 1000; ++i) await call();
      const wasmEnd = engine.heapBytes;
      const jsEnd = jsHeap();
      console.log(`1,000 ${name} calls: wasm ${(wasmStart / MiB).toFixed(1)} -> ${(wasmEnd / MiB).toFixed(1)} MiB, ` +
        `JS heap ${(jsStart / MiB).toFixed(1)} -> ${(jsEnd / MiB).toFixed(1)} MiB`);
      assert.equal(wasmEnd, wasmStart, name);
      assert.ok(jsEnd - jsStart < 2 * MiB, `${name}: JS heap grew ${(jsEnd - jsStart) / MiB} MiB`);
    }
  });
});
