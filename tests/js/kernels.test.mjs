// engine.kernels: the raw kernels on Float32Arrays (what the demo site's entropy, GAU and benchmark
// pages call), checked against plain JS references in both wasm flavours.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { BadArgumentError, TooLargeError, createEngine } from '../../web/lib/index.js';
import { FLAVOURS, flavourOptions } from './flavours.mjs';

function random(seed) {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 31 - 1;
  };
}
const randomArray = (length, next) => Float32Array.from({ length }, next);

function maxDifference(a, b) {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

// softmax(scale · q kᵀ) over the visible keys, in float64: { out, entropy, weights }.
function attentionReference(q, k, v, n, d, { causal, scale = 1 / Math.sqrt(d) }) {
  const out = new Float64Array(n * d);
  const entropy = new Float64Array(n);
  const weights = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const visible = causal ? i + 1 : n;
    const scores = Array.from({ length: visible }, (_, j) => {
      let s = 0;
      for (let c = 0; c < d; c++) s += q[i * d + c] * k[j * d + c];
      return s * scale;
    });
    const max = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - max));
    const total = e.reduce((a, b) => a + b, 0);
    for (let j = 0; j < visible; j++) {
      const p = e[j] / total;
      weights[i * n + j] = p;
      entropy[i] -= p > 0 ? p * Math.log(p) : 0;
      for (let c = 0; c < d; c++) out[i * d + c] += p * v[j * d + c];
    }
  }
  return { out, entropy, weights };
}

// The FLASH mixed-chunk formula of kernels/flash.h (causal), in float64.
function flashReference(qq, kq, ql, kl, v, n, c, s, e) {
  const out = new Float64Array(n * e);
  const dot = (a, i, b, j) => { let sum = 0; for (let x = 0; x < s; x++) sum += a[i * s + x] * b[j * s + x]; return sum; };
  for (let t = 0; t < n; t++) {
    const g = Math.floor(t / c);
    for (let u = g * c; u <= t; u++) {
      const w = Math.max(0, dot(qq, t, kq, u)) ** 2 / (c * s);
      for (let x = 0; x < e; x++) out[t * e + x] += w * v[u * e + x];
    }
    if (g === 0) continue;
    for (let u = 0; u < g * c; u++) {
      const w = dot(ql, t, kl, u) / (g * c);
      for (let x = 0; x < e; x++) out[t * e + x] += w * v[u * e + x];
    }
  }
  return out;
}

// Random FLASH inputs for n tokens: the four projections (n × s: qQuad, kQuad, qLin, kLin) and v
// (n × e), with the options flash() takes for them.
function flashCase(seed, n, c, s, e) {
  const next = random(seed);
  const inputs = [0, 1, 2, 3].map(() => randomArray(n * s, next));
  const v = randomArray(n * e, next);
  return { inputs, v, options: { length: n, chunk: c, qkDim: s, valueDim: e, causal: true } };
}

for (const flavour of FLAVOURS) {
  describe(`engine.kernels (${flavour})`, () => {
    let kernels;
    before(async () => { ({ kernels } = await createEngine(flavourOptions(flavour))); });

    test('fused attention, its entropy and its weights match a float64 reference', () => {
      const next = random(3);
      const n = 37;
      const d = 16;
      const [q, k, v] = [randomArray(n * d, next), randomArray(n * d, next), randomArray(n * d, next)];
      for (const causal of [true, false]) {
        const reference = attentionReference(q, k, v, n, d, { causal });
        const options = { queries: n, keys: n, headDim: d, mask: causal ? 'causal' : 'bidirectional' };
        const { out, entropy } = kernels.attention(q, k, v, { ...options, entropy: true });
        assert.ok(maxDifference(out, reference.out) < 1e-5);
        assert.ok(maxDifference(entropy, reference.entropy) < 1e-4);
        assert.ok(maxDifference(kernels.attentionWeights(q, k, options), reference.weights) < 1e-5);
      }
    });

    test('uniform attention over n keys has entropy log n; softmax_plus keeps a peaked head sharper', () => {
      const n = 1000;
      const zeros = new Float32Array(8);
      const keys = randomArray(n * 8, random(5));
      const { entropy } = kernels.attention(zeros, keys, new Float32Array(n), {
        queries: 1, keys: n, headDim: 8, valueDim: 1, mask: 'bidirectional', entropy: true,
      });
      assert.ok(Math.abs(entropy[0] - Math.log(n)) < 1e-4, `${entropy[0]} vs ${Math.log(n)}`);
      const q = Float32Array.from({ length: 8 }, (_, i) => (i === 0 ? 4 : 0));
      const measure = (normaliser) => kernels.attention(q, keys, new Float32Array(n), {
        queries: 1, keys: n, headDim: 8, valueDim: 1, mask: 'bidirectional', normaliser, entropy: true,
      }).entropy[0];
      assert.ok(measure('softmax_plus') < measure('softmax'), 'log₅₁₂(1000) > 1 sharpens the weights');
    });

    test('GEMM, plain and with a transposed B, bias and SiLU, matches a float64 reference', () => {
      const next = random(9);
      const [m, n, k] = [13, 21, 17];
      const a = randomArray(m * k, next);
      const b = randomArray(k * n, next);
      const bias = randomArray(n, next);
      const expected = new Float64Array(m * n);
      const transposed = new Float32Array(n * k);
      for (let i = 0; i < k; i++) for (let j = 0; j < n; j++) transposed[j * k + i] = b[i * n + j];
      for (let r = 0; r < m; r++) {
        for (let c = 0; c < n; c++) {
          let sum = bias[c];
          for (let i = 0; i < k; i++) sum += a[r * k + i] * b[i * n + c];
          expected[r * n + c] = sum / (1 + Math.exp(-sum));
        }
      }
      assert.ok(maxDifference(kernels.gemm(a, b, { m, n, k, bias, activation: 'silu' }), expected) < 1e-5);
      assert.ok(maxDifference(kernels.gemm(a, transposed, { m, n, k, transposeB: true, bias, activation: 'silu' }), expected) < 1e-5);
    });

    test('a pre-packed linear layer matches a float64 reference for one row and many, until disposed', () => {
      const next = random(21);
      const [inFeatures, outFeatures] = [37, 19];  // neither a multiple of the 8-column panel
      const weight = randomArray(inFeatures * outFeatures, next);  // [in × out]
      const transposed = new Float32Array(outFeatures * inFeatures);
      for (let i = 0; i < inFeatures; i++) {
        for (let j = 0; j < outFeatures; j++) transposed[j * inFeatures + i] = weight[i * outFeatures + j];
      }
      const bias = randomArray(outFeatures, next);
      const reference = (x, rows, withBias, act) => {
        const y = new Float64Array(rows * outFeatures);
        for (let r = 0; r < rows; r++) {
          for (let j = 0; j < outFeatures; j++) {
            let sum = withBias ? bias[j] : 0;
            for (let i = 0; i < inFeatures; i++) sum += x[r * inFeatures + i] * weight[i * outFeatures + j];
            y[r * outFeatures + j] = act === 'relu' ? Math.max(0, sum) : sum;
          }
        }
        return y;
      };
      const plain = kernels.linear(weight, { in: inFeatures, out: outFeatures });
      const torch = kernels.linear(transposed, { in: inFeatures, out: outFeatures, transposeB: true, bias, activation: 'relu' });
      assert.equal(plain.in, inFeatures);
      assert.equal(plain.out, outFeatures);
      for (const rows of [1, 2, 5, 70, 3]) {  // the GEMV, the edge tiles, growing and reusing its buffers
        const x = randomArray(rows * inFeatures, next);
        assert.ok(maxDifference(plain.apply(x, rows), reference(x, rows, false, 'none')) < 1e-5, `rows ${rows}`);
        assert.ok(maxDifference(torch.apply(x), reference(x, rows, true, 'relu')) < 1e-5, `rows ${rows}, bias, relu`);
      }
      // Into a caller's array: the same values, written in place, the array returned; one too small is refused.
      const x5 = randomArray(5 * inFeatures, next);
      const into = new Float32Array(5 * outFeatures + 3).fill(7);
      assert.equal(torch.apply(x5, 5, into), into);
      assert.deepEqual(into.subarray(0, 5 * outFeatures), torch.apply(x5, 5));
      assert.deepEqual([...into.subarray(5 * outFeatures)], [7, 7, 7], 'nothing past rows × out is written');
      assert.equal(torch.apply(x5, undefined, into), into, 'rows defaults with out given');
      assert.throws(() => torch.apply(x5, 5, new Float32Array(5 * outFeatures - 1)), /out holds \d+ floats, needs/);
      assert.throws(() => torch.apply(x5, 5, new Float64Array(5 * outFeatures)), /out must be a Float32Array/);
      assert.throws(() => plain.apply(new Float32Array(inFeatures), 2), /x holds 37 floats, needs 74/);
      assert.throws(() => plain.apply(new Float32Array(inFeatures + 1)), BadArgumentError, 'not a whole number of rows');
      assert.throws(() => kernels.linear(weight, { in: inFeatures, out: outFeatures + 1 }), BadArgumentError);
      assert.throws(() => kernels.linear(weight, { in: 0, out: outFeatures }), BadArgumentError);
      assert.throws(() => kernels.linear(weight, { in: inFeatures, out: outFeatures, activation: 'tanh' }), /activation must be one of/);
      assert.throws(() => kernels.linear(weight, { in: inFeatures, out: outFeatures, bias: new Float32Array(3) }), /bias holds 3/);
      plain.dispose();
      plain.dispose();  // a second dispose does nothing
      assert.throws(() => plain.apply(new Float32Array(inFeatures)), (error) => error instanceof BadArgumentError && /disposed/.test(error.message));
      const x = randomArray(inFeatures, next);
      assert.ok(maxDifference(torch.apply(x), reference(x, 1, true, 'relu')) < 1e-5, 'the other layer is unaffected');
      torch.dispose();
    });

    test('FLASH mixed-chunk attention matches its formula', () => {
      const [n, c, s, e] = [45, 16, 8, 12];
      const { inputs, v, options } = flashCase(11, n, c, s, e);
      const out = kernels.flash(...inputs, v, options);
      assert.ok(maxDifference(out, flashReference(...inputs, v, n, c, s, e)) < 1e-5);
    });

    test('the FLASH decoder, token by token, equals the causal full pass in constant memory', () => {
      const [n, c, s, e] = [40, 8, 6, 5];
      const { inputs, v, options } = flashCase(12, n, c, s, e);
      const full = kernels.flash(...inputs, v, options);
      const decoder = kernels.flashDecoder({ chunk: c, qkDim: s, valueDim: e });
      const bytes = decoder.bytes;
      assert.ok(bytes > 0);
      for (let t = 0; t < n; t++) {
        const row = decoder.step(...inputs.map((x) => x.subarray(t * s, (t + 1) * s)), v.subarray(t * e, (t + 1) * e));
        assert.ok(maxDifference(row, full.subarray(t * e, (t + 1) * e)) < 1e-5, `token ${t}`);
      }
      assert.equal(decoder.length, n);
      assert.equal(decoder.bytes, bytes);
      assert.throws(() => decoder.step(inputs[0], inputs[1], inputs[2], inputs[3], new Float32Array(2)), BadArgumentError);
      assert.equal(decoder.length, n);
      decoder.dispose();
      assert.throws(() => decoder.step(...inputs, v), BadArgumentError);
      assert.throws(() => kernels.flashDecoder({ chunk: 0, qkDim: s, valueDim: e }), BadArgumentError);
      assert.throws(() => kernels.flashDecoder({ chunk: 1 << 20, qkDim: 4096, valueDim: 4096 }), TooLargeError);
    });

    test('benchmark times a kernel and reports its rate', () => {
      const result = kernels.benchmark({ kernel: 'gemm', m: 32, n: 32, k: 32, minMs: 5, minRuns: 3 });
      assert.equal(result.work, 2 * 32 ** 3);
      assert.equal(result.unit, 'GFLOP/s');
      assert.ok(result.runs >= 3 && result.medianMs > 0 && result.rate > 0);
      const attention = kernels.benchmark({ kernel: 'attention', n: 64, headDim: 8, minMs: 0, minRuns: 1 });
      assert.equal(attention.work, ((64 * 65) / 2) * 4 * 8, 'causal: visible pairs × 4d');
    });

    test('bad arguments are BadArgumentErrors and the kernels stay usable', () => {
      const q = new Float32Array(8);
      assert.throws(() => kernels.attention(q, q, q, { queries: 2, headDim: 8 }), BadArgumentError);
      assert.throws(() => kernels.attention(q, q, q, { queries: 1, headDim: 8, mask: 'sideways' }), /mask must be one of/);
      assert.throws(() => kernels.gemm([1, 2], q, { m: 1, n: 1, k: 2 }), /a must be a Float32Array/);
      assert.throws(() => kernels.benchmark({ kernel: 'fft' }), BadArgumentError);
      assert.throws(() => kernels.attention(q, q, q, { queries: 1, headDim: 8, mask: 'causal-window', window: 0 }),
        (error) => error.code === 'BAD_ARGUMENT');
      const { out } = kernels.attention(q, q, Float32Array.from({ length: 8 }, (_, i) => i), { queries: 1, headDim: 8 });
      assert.deepEqual(Array.from(out), [0, 1, 2, 3, 4, 5, 6, 7]);
    });
  });
}
