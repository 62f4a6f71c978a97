// `npm run bench:kernels`: Gyre's GEMM and vector kernels against tfjs-backend-wasm (XNNPACK) and
// onnxruntime-web (MLAS), in one Node process, one thread each, interleaved rounds, medians.
//   node --no-experimental-fetch bench/kernels.mjs [--rounds N] [--only gemm|linear|vec] [--out FILE]
//        [--flavour simd|relaxed] [--clock wall|cpu]
// Ours: the wasm-simd module (web/lib/wasm/gyre-simd.*), or with --flavour relaxed the relaxed-SIMD
// one (fused multiply-add; Node 20 needs --experimental-wasm-relaxed-simd), weights packed once;
// the A·Bᵀ cases (attention scores) give every engine both operands fresh, nothing pre-packed.
// The linear cases go through the public API, engine.kernels.linear (weights packed once), and give
// every engine x as a JS array and take y back as one: tfjs builds a tensor from x and reads the
// product with dataSync(), onnxruntime-web feeds x, ours copies x into the heap and y out.
// tfjs: tf.matMul on resident tensors (the backend caches XNNPACK's packed B per B tensor).
// onnxruntime-web: InferenceSession.run, B a constant initializer; its time includes the copy of
// the input into and the output out of its heap, which its API cannot avoid.
// Prints GFLOP/s (GEMM) or Melem/s (vector) per engine, median (best), and the speed ratio
// ours/peer as the median over rounds of the paired time ratios; for GEMM also ours as a share of
// the machine's ceiling (bench/peak.mjs, timed in the same rounds: register-resident multiply-adds,
// or for M = 1 a bare load loop over as many bytes as B), since absolute GFLOP/s differ between
// machines. Writes JSON.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { buildModel, onnxNode } from './onnx_builder.mjs';
import { ceilingCase, streamingCase } from './peak.mjs';
import { createEngine } from '../web/lib/index.js';
import { check, flavourOption, heapCopy, option, randomArray } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(option('rounds', 21));
const only = option('only', 'all');
const clock = option('clock', 'wall');
if (!['wall', 'cpu'].includes(clock)) throw new Error(`--clock must be wall or cpu, got ${clock}`);
const flavour = flavourOption('simd');
const outFile = path.resolve(root, option('out', `bench/results/kernels${flavour === 'simd' ? '' : `-${flavour}`}.json`));

// ---------------------------------------------------------------------------------------------
// Engines

async function loadGyre() {
  const dir = path.join(root, 'web/lib/wasm');
  const jsFile = path.join(dir, `gyre-${flavour}.js`);
  if (!fs.existsSync(jsFile)) throw new Error(`${jsFile} is missing: run \`npm run build\` first`);
  const factory = (await import(pathToFileURL(jsFile).href)).default;
  return factory({ wasmBinary: fs.readFileSync(path.join(dir, `gyre-${flavour}.wasm`)) });
}

async function loadTfjs() {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
  wasm.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf;
}

async function loadOrt() {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = path.join(root, 'node_modules/onnxruntime-web/dist/');
  ort.env.logLevel = 'error';
  return ort;
}

// ---------------------------------------------------------------------------------------------
// Timing: each engine's call is repeated until a sample lasts >= ~25 ms; engines alternate
// inside every round (order reversed every other round) so drifts in machine load hit all alike.
// onnxruntime-web's run() is async: it is awaited inside its own loop, the others run plainly.

// --clock cpu times this process's CPU time (user + system) instead of elapsed time: on a machine
// shared with other jobs, elapsed time also counts the time the process waited for a core.
const now = clock === 'cpu'
  ? () => { const { user, system } = process.cpuUsage(); return (user + system) / 1000; }
  : () => performance.now();

async function runBatch(engine, reps) {
  const t0 = now();
  if (engine.async) {
    for (let i = 0; i < reps; ++i) await engine.fn();
  } else {
    for (let i = 0; i < reps; ++i) engine.fn();
  }
  return now() - t0;
}

async function measure(fns) {
  const names = Object.keys(fns);
  const engines = {};
  for (const name of names) {
    const first = fns[name]();
    const engine = { fn: fns[name], async: first instanceof Promise, reps: 1 };
    if (engine.async) await first;
    // Warm up for >= 150 ms: V8 first runs wasm in its baseline tier (Liftoff) and swaps in the
    // optimized code only on a later call; caches and the peers' packed weights settle too.
    const warmStart = performance.now();
    for (let w = 0; w < 3 || performance.now() - warmStart < 150; ++w) await runBatch(engine, 1);
    for (;;) {
      const elapsed = await runBatch(engine, engine.reps);
      if (elapsed >= 25 || engine.reps >= 1 << 16) break;
      engine.reps = Math.max(engine.reps * 2, Math.ceil((engine.reps * 30) / Math.max(elapsed, 0.05)));
    }
    engines[name] = engine;
  }
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; ++r) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      samples[name].push((await runBatch(engines[name], engines[name].reps)) / engines[name].reps);
    }
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const result = Object.fromEntries(names.map((n) => [n, { medianMs: median(samples[n]), bestMs: Math.min(...samples[n]) }]));
  // Paired ratios: within one round the engines ran back to back under the same machine load, so
  // the median over rounds of peer time / our time is steadier than a ratio of medians.
  for (const n of names.filter((name) => name !== 'gyre')) {
    result[n].pairedRatio = median(samples[n].map((t, r) => t / samples.gyre[r]));
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Cases

const gemmShapes = [
  [1, 512, 512], [64, 512, 512], [128, 128, 128], [256, 256, 256], [512, 512, 512],
  [128, 512, 2048], [1024, 1024, 1024],
];

async function gemmCase(gyre, tf, ort, [M, K, N]) {
  const A = randomArray(M * K, 1 + M + K), B = randomArray(K * N, 7 + N);
  // Ours: B packed once, A and C resident on the heap.
  const a = heapCopy(gyre, A), b = heapCopy(gyre, B);
  const packed = gyre._malloc(check(gyre.kernelGemmPackedSize(K, N)) * 4);
  const c = gyre._malloc(M * N * 4);
  check(gyre.kernelGemmPackB(b, K, N, N, false, packed));
  // Correctness guard: ours against tfjs on this very shape.
  const ta = tf.tensor2d(A, [M, K]), tb = tf.tensor2d(B, [K, N]);
  check(gyre.kernelGemmPacked(M, N, K, a, K, packed, c, N, 0, 0));
  const want = tf.matMul(ta, tb).dataSync();
  const got = gyre.HEAPF32.subarray(c / 4, c / 4 + M * N);
  let maxError = 0;
  for (let i = 0; i < M * N; ++i) maxError = Math.max(maxError, Math.abs(got[i] - want[i]));
  if (!(maxError < 1e-3 * Math.sqrt(K))) throw new Error(`${M}x${K}x${N}: ours differs from tfjs by ${maxError}`);

  const model = buildModel({
    nodes: [onnxNode('MatMul', ['A', 'B'], ['C'])],
    inputs: [['A', [M, K]]], outputs: [['C', [M, N]]], initializers: [['B', [K, N], B]],
  });
  const session = await ort.InferenceSession.create(model, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', A, [M, K]) };
  // M = 1 reads each weight once per call: its ceiling is the rate at which this core streams B's
  // bytes from where they stay between calls (L2 for 1 MiB), not arithmetic.
  const bBytes = check(gyre.kernelGemmPackedSize(K, N)) * 4;
  const limit = M === 1 ? streamingCase(bBytes) : arithmeticCeiling;
  const { ceiling: ceilingRun, ...result } = await measure({
    gyre: () => gyre.kernelGemmPacked(M, N, K, a, K, packed, c, N, 0, 0),
    tfjs: () => tf.matMul(ta, tb).dispose(),
    ort: () => session.run(feeds),
    ceiling: limit.run,
  });
  ta.dispose(); tb.dispose();
  await session.release();
  for (const p of [a, b, packed, c]) gyre._free(p);
  const flops = 2 * M * N * K;
  // Per round, our rate over the ceiling's: (work / our time) / (its work / its time).
  const [work, limitWork] = M === 1 ? [bBytes, limit.bytes] : [flops, limit.flops];
  return {
    name: `${M}x${K}x${N}`, kind: 'gemm', flops, ...withRates(result, (ms) => flops / ms / 1e6),
    ceiling: M === 1 ? { streamingGBps: limit.bytes / ceilingRun.medianMs / 1e6 }
      : { gflops: limit.flops / ceilingRun.medianMs / 1e6 },
    shareOfCeiling: (ceilingRun.pairedRatio * work) / limitWork,
  };
}

// y = x·W through each engine's public API with W resident: x arrives as a Float32Array, y leaves
// as one.
async function linearCase(engine, tf, ort, [M, K, N]) {
  const X = randomArray(M * K, 11 + M), W = randomArray(K * N, 13 + N);
  const layer = engine.kernels.linear(W, { in: K, out: N });
  const tw = tf.tensor2d(W, [K, N]);
  const tfjsApply = () => {
    const tx = tf.tensor2d(X, [M, K]);
    const y = tf.matMul(tx, tw);
    const values = y.dataSync();
    tx.dispose(); y.dispose();
    return values;
  };
  const got = layer.apply(X, M), want = tfjsApply();
  let maxError = 0;
  for (let i = 0; i < M * N; ++i) maxError = Math.max(maxError, Math.abs(got[i] - want[i]));
  if (!(maxError < 1e-3 * Math.sqrt(K))) throw new Error(`linear ${M}x${K}x${N}: ours differs from tfjs by ${maxError}`);
  const session = await ort.InferenceSession.create(buildModel({
    nodes: [onnxNode('MatMul', ['A', 'B'], ['C'])],
    inputs: [['A', [M, K]]], outputs: [['C', [M, N]]], initializers: [['B', [K, N], W]],
  }), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const result = await measure({
    gyre: () => layer.apply(X, M),
    tfjs: tfjsApply,
    ort: async () => (await session.run({ A: new ort.Tensor('float32', X, [M, K]) })).C.data,
  });
  layer.dispose(); tw.dispose();
  await session.release();
  const flops = 2 * M * N * K;
  return { name: `linear ${M}x${K}x${N}`, kind: 'gemm', flops, ...withRates(result, (ms) => flops / ms / 1e6) };
}

function withRates(result, rate) {
  const engines = {};
  for (const [name, r] of Object.entries(result)) {
    engines[name] = { medianMs: r.medianMs, bestMs: r.bestMs, median: rate(r.medianMs), best: rate(r.bestMs) };
  }
  return { engines, ratioTfjs: result.tfjs.pairedRatio, ratioOrt: result.ort.pairedRatio };
}

// C = A·Bᵀ with both operands fresh every call (attention scores Q·Kᵀ, K = head size): ours
// gemm_nt packs Bᵀ block by block inside the call; tfjs matMul(a, b, false, true); ORT Gemm
// with transB = 1 and B a graph input.
async function transposedCase(gyre, tf, ort, [M, K, N]) {
  const A = randomArray(M * K, 3 + M), B = randomArray(N * K, 5 + N);
  const a = heapCopy(gyre, A), b = heapCopy(gyre, B), c = gyre._malloc(M * N * 4);
  const ta = tf.tensor2d(A, [M, K]), tb = tf.tensor2d(B, [N, K]);
  check(gyre.kernelGemmNt(M, N, K, a, K, b, K, c, N, 0, 0));
  const want = tf.matMul(ta, tb, false, true).dataSync();
  const got = gyre.HEAPF32.subarray(c / 4, c / 4 + M * N);
  for (let i = 0; i < M * N; i += 101) {
    if (!(Math.abs(got[i] - want[i]) < 1e-3 * Math.sqrt(K))) throw new Error(`A·Bᵀ ${M}x${K}x${N}: ours ${got[i]} vs tfjs ${want[i]}`);
  }
  const session = await ort.InferenceSession.create(buildModel({
    nodes: [onnxNode('Gemm', ['A', 'B'], ['C'], { transB: 1 })],
    inputs: [['A', [M, K]], ['B', [N, K]]], outputs: [['C', [M, N]]],
  }), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { A: new ort.Tensor('float32', A, [M, K]), B: new ort.Tensor('float32', B, [N, K]) };
  const result = await measure({
    gyre: () => gyre.kernelGemmNt(M, N, K, a, K, b, K, c, N, 0, 0),
    tfjs: () => tf.matMul(ta, tb, false, true).dispose(),
    ort: () => session.run(feeds),
  });
  ta.dispose(); tb.dispose();
  await session.release();
  for (const p of [a, b, c]) gyre._free(p);
  const flops = 2 * M * N * K;
  return { name: `A·Bᵀ ${M}x${K}x${N}`, kind: 'gemm', flops, ...withRates(result, (ms) => flops / ms / 1e6) };
}

async function vectorCase(gyre, tf, ort, op) {
  const rows = 1024, cols = 1024, n = rows * cols;
  const X = randomArray(n, 99).map((v) => v * 8);
  const x = heapCopy(gyre, X), y = gyre._malloc(n * 4);
  const tx = tf.tensor2d(X, [rows, cols]);
  const ours = {
    exp: () => gyre.kernelExp(x, y, n),
    silu: () => gyre.kernelSilu(x, y, n),
    softmax: () => gyre.kernelSoftmaxRows(x, y, rows, cols, cols),
  }[op];
  const tfjs = {
    exp: () => tf.exp(tx).dispose(),
    // tfjs-core has no SiLU/swish op: x · sigmoid(x), two kernels.
    silu: () => tf.tidy(() => tf.mul(tx, tf.sigmoid(tx))).dispose(),
    softmax: () => tf.softmax(tx).dispose(),
  }[op];
  const nodes = {
    exp: [onnxNode('Exp', ['X'], ['Y'])],
    // ONNX (opset 17) has no SiLU either: X · Sigmoid(X).
    silu: [onnxNode('Sigmoid', ['X'], ['S']), onnxNode('Mul', ['X', 'S'], ['Y'])],
    softmax: [onnxNode('Softmax', ['X'], ['Y'], { axis: -1 })],
  }[op];
  check(ours());
  const want = (op === 'softmax' ? tf.softmax(tx) : op === 'exp' ? tf.exp(tx) : tf.mul(tx, tf.sigmoid(tx))).dataSync();
  const got = gyre.HEAPF32.subarray(y / 4, y / 4 + n);
  for (let i = 0; i < n; i += 997) {
    if (!(Math.abs(got[i] - want[i]) <= 1e-5 * Math.abs(want[i]) + 1e-6)) {
      throw new Error(`${op}: ours ${got[i]} vs tfjs ${want[i]} at ${i}`);
    }
  }
  const session = await ort.InferenceSession.create(
    buildModel({ nodes, inputs: [['X', [rows, cols]]], outputs: [['Y', [rows, cols]]] }),
    { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const feeds = { X: new ort.Tensor('float32', X, [rows, cols]) };
  const result = await measure({ gyre: ours, tfjs, ort: () => session.run(feeds) });
  tx.dispose();
  await session.release();
  gyre._free(x); gyre._free(y);
  return { name: `${op} [1024,1024]`, kind: 'vector', elements: n, ...withRates(result, (ms) => n / ms / 1e3) };
}

// ---------------------------------------------------------------------------------------------

function format(results) {
  const lines = [];
  lines.push('| case | ours | tfjs-backend-wasm | onnxruntime-web | ours/tfjs | ours/ort | ours/ceiling |');
  lines.push('|---|---|---|---|---|---|---|');
  for (const r of results) {
    const unit = r.kind === 'gemm' ? 'GFLOP/s' : 'Melem/s';
    const cell = (e) => `${e.median.toFixed(1)} (${e.best.toFixed(1)})`;
    const share = r.shareOfCeiling ? `${(100 * r.shareOfCeiling).toFixed(0)} %` : '';
    lines.push(`| ${r.name} ${unit} | ${cell(r.engines.gyre)} | ${cell(r.engines.tfjs)} | ${cell(r.engines.ort)} | ` +
      `${r.ratioTfjs.toFixed(2)}x | ${r.ratioOrt.toFixed(2)}x | ${share} |`);
  }
  return lines.join('\n');
}

const [gyre, tf, ort] = [await loadGyre(), await loadTfjs(), await loadOrt()];
const engine = await createEngine({ simd: true, relaxed: flavour === 'relaxed', threads: false });
if (engine.features.flavour !== flavour) throw new Error(`createEngine loaded ${engine.features.flavour}, not ${flavour}`);
const arithmeticCeiling = ceilingCase(flavour);
const results = [];
if (only === 'all' || only === 'gemm') {
  for (const shape of gemmShapes) {
    const r = await gemmCase(gyre, tf, ort, shape);
    results.push(r);
    console.log(`${r.name.padEnd(16)} GFLOP/s median: ours ${r.engines.gyre.median.toFixed(1)}, tfjs ${r.engines.tfjs.median.toFixed(1)}, ` +
      `ort ${r.engines.ort.median.toFixed(1)}  ->  ${r.ratioTfjs.toFixed(2)}x tfjs, ${r.ratioOrt.toFixed(2)}x ort, ` +
      `${(100 * r.shareOfCeiling).toFixed(0)} % of the ceiling (` +
      (r.ceiling.gflops ? `${r.ceiling.gflops.toFixed(1)} GFLOP/s)` : `streaming B at ${r.ceiling.streamingGBps.toFixed(1)} GB/s)`));
  }
}
if (only === 'all' || only === 'gemm' || only === 'linear') {
  for (const shape of [[1, 512, 512], [64, 512, 512]]) {
    const r = await linearCase(engine, tf, ort, shape);
    results.push(r);
    console.log(`${r.name.padEnd(16)} GFLOP/s median: ours ${r.engines.gyre.median.toFixed(1)}, tfjs ${r.engines.tfjs.median.toFixed(1)}, ` +
      `ort ${r.engines.ort.median.toFixed(1)}  ->  ${r.ratioTfjs.toFixed(2)}x tfjs, ${r.ratioOrt.toFixed(2)}x ort`);
  }
}
if (only === 'all' || only === 'gemm') {
  for (const shape of [[512, 64, 512], [2048, 64, 2048]]) {
    const r = await transposedCase(gyre, tf, ort, shape);
    results.push(r);
    console.log(`${r.name.padEnd(16)} GFLOP/s median: ours ${r.engines.gyre.median.toFixed(1)}, tfjs ${r.engines.tfjs.median.toFixed(1)}, ` +
      `ort ${r.engines.ort.median.toFixed(1)}  ->  ${r.ratioTfjs.toFixed(2)}x tfjs, ${r.ratioOrt.toFixed(2)}x ort`);
  }
}
if (only === 'all' || only === 'vec') {
  for (const op of ['exp', 'silu', 'softmax']) {
    const r = await vectorCase(gyre, tf, ort, op);
    results.push(r);
    console.log(`${r.name.padEnd(16)} Melem/s median: ours ${r.engines.gyre.median.toFixed(0)}, tfjs ${r.engines.tfjs.median.toFixed(0)}, ` +
      `ort ${r.engines.ort.median.toFixed(0)}  ->  ${r.ratioTfjs.toFixed(2)}x tfjs, ${r.ratioOrt.toFixed(2)}x ort`);
  }
}
console.log(`\nmedian (best) over ${rounds} interleaved rounds, one thread; ratios: median of per-round speed ratios\n`);
console.log(format(results));
console.log(`\nours/ceiling: GFLOP/s over the ${flavour === 'simd' ? 'f32x4.mul + f32x4.add' : 'f32x4.relaxed_madd'} ` +
  'ceiling loop of bench/peak.mjs (register-resident, timed in the same rounds), median of per-round ratios;\n' +
  'for M = 1, the rate of reading B over the rate at which a bare v128 load loop streams as many bytes');
fs.mkdirSync(path.dirname(outFile), { recursive: true });
fs.writeFileSync(outFile, JSON.stringify({
  date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, rounds, flavour, clock,
  loadavg_at_end: os.loadavg(),
  peers: {
    tfjs: JSON.parse(fs.readFileSync(path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/package.json'))).version,
    ort: JSON.parse(fs.readFileSync(path.join(root, 'node_modules/onnxruntime-web/package.json'))).version,
  },
  results,
}, null, 2) + '\n');
console.log(`\nwrote ${path.relative(root, outFile)}`);
