// Model benchmark: the shipped models in Gyre (public JS API) against onnxruntime-web running the ONNX
// exports of the same weights (bench/export_onnx.py), one Node process, one thread, interleaved rounds,
// medians of CPU and wall time, ratios peer / Gyre. Writes bench/results/models.json.
//
//   npm run bench:models              (builds the SIMD module, exports the ONNX files when missing)
//   node bench/models.mjs [--quick] [--only lm|ddpm] [--out FILE] [--flavour simd|relaxed]
//     --quick: fewer rounds, for a smoke run; --only: the language-model or the diffusion cases;
//     --out: where the JSON goes (default bench/results/models.json, models-relaxed.json);
//     --flavour relaxed: the relaxed-SIMD (FMA) build (Node 20: --experimental-wasm-relaxed-simd)
//
// Cases:
//  1. GAU-LM forward (logits of every position, full causal attention) over 128, 512, 2048 tokens;
//  2. decoding 256 new tokens after a 64-token prompt: Gyre uses its KV cache; onnxruntime-web has no
//     cache, so each new token recomputes the whole prefix (that is what its figure measures);
//  3. the U-Net ε prediction at batch 1 and 16;
//  4. sampling 16 digits in 50 strided steps (ORT: 50 U-Net calls plus the same update in JS).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../web/lib/index.js';
import { flag, flavourOption, machineInfo, maxAbsDiff, median, option } from './common.mjs';

const require = createRequire(import.meta.url);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = flag('quick');
const only = option('only', 'all');
const flavour = flavourOption('simd');
const outFile = path.resolve(repo, option('out', `bench/results/models${flavour === 'simd' ? '' : `-${flavour}`}.json`));
const LM = 'gau-lm-softmax-plus';
const DDPM = 'ddpm-digits';
const onnxPath = (name) => path.join(repo, 'bench', 'onnx', `${name}.onnx`);

function ensureOnnx() {
  // Missing, or older than the shipped weights (a re-trained model): export again.
  const weights = (name) => path.join(repo, 'models', name, 'model.safetensors');
  const missing = [LM, DDPM].filter((name) => !fs.existsSync(onnxPath(name)) ||
    fs.statSync(onnxPath(name)).mtimeMs < fs.statSync(weights(name)).mtimeMs);
  if (missing.length === 0) return;
  console.log(`exporting ${missing.join(', ')} to ONNX (bench/export_onnx.py)...`);
  const result = spawnSync('/usr/bin/python3', [path.join(repo, 'bench', 'export_onnx.py'), ...missing], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('bench/export_onnx.py failed: the ONNX peer needs its exports');
}

async function loadOrt() {
  const ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = path.join(path.dirname(require.resolve('onnxruntime-web')), '/');
  ort.env.logLevel = 'error';
  const options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
  return {
    ort,
    lm: await ort.InferenceSession.create(fs.readFileSync(onnxPath(LM)), options),
    unet: await ort.InferenceSession.create(fs.readFileSync(onnxPath(DDPM)), options),
  };
}

// Wall and this process's CPU time of `repeats` runs, per run, in ms (CPU time is steadier on a
// shared machine; repeating short cases keeps them well above the clock's granularity).
async function timeRuns(run, repeats) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < repeats; ++i) await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall: wall / repeats, cpu: (c.user + c.system) / 1000 / repeats };
}

// Warm-up until V8 has tiered the wasm up, then interleaved rounds (order alternating); medians.
// A round repeats a case that takes under 100 ms until it has run for about 100 ms.
async function compare(runners, rounds) {
  const repeats = {};
  for (const [name, run] of Object.entries(runners)) {
    const t0 = performance.now();
    let runs = 0;
    for (; runs < 2 || performance.now() - t0 < 300; ++runs) await run();
    repeats[name] = Math.max(1, Math.round(100 / ((performance.now() - t0) / runs)));
  }
  const samples = Object.fromEntries(Object.keys(runners).map((name) => [name, []]));
  const names = Object.keys(runners);
  for (let round = 0; round < rounds; ++round) {
    const order = round % 2 ? [...names].reverse() : names;
    for (const name of order) samples[name].push(await timeRuns(runners[name], repeats[name]));
  }
  return Object.fromEntries(names.map((name) => [name, {
    wall: median(samples[name].map((s) => s.wall)), cpu: median(samples[name].map((s) => s.cpu)),
    repeats: repeats[name],
  }]));
}

function textIds(lm, n) {
  const file = path.join(repo, 'models', 'data', 'austen_valid.txt');
  const source = fs.existsSync(file) ? fs.readFileSync(file, 'utf8')
    : 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ';
  let text = '';
  while ([...text].length < n) text += source.slice(0, 100000);
  return lm.encode([...text].slice(0, n).join(''));
}

async function main() {
  ensureOnnx();
  const engine = await createEngine({ simd: true, relaxed: flavour === 'relaxed', threads: false });
  const lm = await engine.loadModel(path.join(repo, 'models', LM));
  const ddpm = await engine.loadModel(path.join(repo, 'models', DDPM));
  const peer = await loadOrt();
  const { ort } = peer;
  // V8 compiles ORT's large wasm module in background threads for a while after the sessions are
  // created; that CPU time lands in whatever is measured next. Run both engines, then let it settle.
  const warmIds = textIds(lm, 128);
  for (let i = 0; i < 5; ++i) {
    lm.logits(warmIds);
    await peer.lm.run({ ids: new ort.Tensor('int64', BigInt64Array.from(warmIds, BigInt), [1, 128]) });
    await peer.unet.run({ x: new ort.Tensor('float32', new Float32Array(784), [1, 1, 28, 28]), k: new ort.Tensor('int64', new BigInt64Array(1), [1]) });
  }
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const rounds = quick ? 3 : 9;
  const results = {
    benchmark: 'models',
    date: new Date().toISOString(),
    machine: machineInfo(),
    versions: { onnxruntime: JSON.parse(fs.readFileSync(path.join(repo, 'node_modules/onnxruntime-web/package.json'), 'utf8')).version, gyre: engine.features.version },
    models: { lm: LM, ddpm: DDPM, lm_parameters: lm.info.parameters, ddpm_parameters: ddpm.info.parameters },
    notes: [
      'one thread everywhere; interleaved rounds; medians; ratio = ORT / Gyre from CPU-time medians (above 1: Gyre faster)',
      'ORT runs the ONNX export of the same weights (bench/export_onnx.py, opset 17, graph optimisation all)',
      'decoding: Gyre decodes with its KV cache; ORT has no cache and recomputes the whole prefix for every new token',
    ],
    cases: [],
  };
  const add = (entry) => {
    results.cases.push(entry);
    const ratio = entry.ratio == null ? '' : `  ratio ${entry.ratio.toFixed(2)}x`;
    console.log(`${entry.case.padEnd(34)} gyre ${entry.gyre.cpu.toFixed(1).padStart(8)} ms  ort ${entry.ort ? entry.ort.cpu.toFixed(1).padStart(8) : '       —'} ms${ratio}${entry.extra ? `  ${entry.extra}` : ''}`);
  };

  // 1. Forward.
  for (const n of only === 'ddpm' ? [] : [128, 512, 2048]) {
    const ids = textIds(lm, n);
    const feeds = { ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, n]) };
    const ours = lm.logits(ids);
    const theirs = (await peer.lm.run(feeds)).logits.data;
    // float32 rounding through six layers and n-long attention sums grows with the logits' scale
    // (up to ~17 here); a stale export differs by whole units.
    const scale = theirs.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    if (!(maxAbsDiff(ours, theirs) < 1e-4 * scale)) {
      throw new Error(`Gyre and ORT logits differ by ${maxAbsDiff(ours, theirs)} (largest logit ${scale}): stale ONNX export?`);
    }
    const med = await compare({ gyre: () => lm.logits(ids), ort: () => peer.lm.run(feeds) }, rounds);
    add({ case: `GAU-LM forward n=${n}`, n, ...med, ratio: med.ort.cpu / med.gyre.cpu,
      max_abs_diff: maxAbsDiff(ours, theirs), tokens_per_s: { gyre: n / med.gyre.wall * 1000, ort: n / med.ort.wall * 1000 } });
  }

  // 2. Decoding 256 tokens after a 64-token prompt (greedy, so both produce the same text).
  if (only !== 'ddpm') {
  const prompt = textIds(lm, 64);
  const newTokens = 256;
  const gyreDecode = async () => {
    let count = 0;
    for await (const piece of lm.generate(lm.decode(prompt), { maxTokens: newTokens, temperature: 0, attention: 'as-trained' })) count += piece.length > 0;
    return count;
  };
  const ortDecode = async () => {
    const ids = [...prompt];
    for (let t = 0; t < newTokens; ++t) {
      const out = await peer.lm.run({ ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) });
      const vocab = out.logits.dims[2];
      const row = out.logits.data.subarray((ids.length - 1) * vocab);
      let best = 0;
      for (let v = 1; v < vocab; ++v) if (row[v] > row[best]) best = v;
      ids.push(best);
    }
  };
  const decode = await compare({ gyre: gyreDecode, ort: ortDecode }, quick ? 1 : 3);
  add({ case: `decode ${newTokens} tokens (prompt 64)`, ...decode, ratio: decode.ort.cpu / decode.gyre.cpu,
    tokens_per_s: { gyre: newTokens / decode.gyre.wall * 1000, ort: newTokens / decode.ort.wall * 1000 },
    note: 'ORT recomputes the prefix for every token (no KV cache)',
    extra: `gyre ${(newTokens / decode.gyre.wall * 1000).toFixed(0)} tok/s, ort ${(newTokens / decode.ort.wall * 1000).toFixed(0)} tok/s (no cache: recomputes the prefix)` });
  }

  // 3. U-Net ε prediction.
  const imageFloats = 28 * 28;
  for (const batch of only === 'lm' ? [] : [1, 16]) {
    const x = Float32Array.from({ length: batch * imageFloats }, (_, i) => Math.sin(i * 12.9898) * 0.9);
    const k = Int32Array.from({ length: batch }, (_, i) => (i * 97) % 1000);
    const feeds = { x: new ort.Tensor('float32', x, [batch, 1, 28, 28]), k: new ort.Tensor('int64', BigInt64Array.from(k, BigInt), [batch]) };
    const diff = maxAbsDiff(ddpm.predictNoise(x, k), (await peer.unet.run(feeds)).eps.data);
    if (!(diff < 1e-3)) throw new Error(`Gyre and ORT noise predictions differ by ${diff}: stale ONNX export?`);
    const med = await compare({ gyre: () => ddpm.predictNoise(x, k), ort: () => peer.unet.run(feeds) }, rounds);
    add({ case: `U-Net eps batch ${batch}`, batch, ...med, ratio: med.ort.cpu / med.gyre.cpu, max_abs_diff: diff });
  }

  // 4. Sampling 16 digits in 50 strided steps (stride 20, eta 0).
  const start = Float32Array.from({ length: 16 * imageFloats }, (_, i) => Math.sin(i * 78.233) * 1.2);
  const T = 1000, stride = 20;
  const barAlpha = [];
  let product = 1;
  for (let t = 1; t <= T; ++t) { product *= Math.sqrt(1 - 0.02 * t / T); barAlpha.push(product); }
  const ortSample = async () => {
    const x = Float32Array.from(start);
    for (let i = T / stride - 1; i >= 0; --i) {
      const ba = barAlpha[i * stride], prev = i > 0 ? barAlpha[(i - 1) * stride] : 1;
      const alpha = ba / prev, bb = Math.sqrt(1 - ba * ba), bbPrev = Math.sqrt(1 - prev * prev);
      const coef = bb - alpha * bbPrev;
      const k = new ort.Tensor('int64', new BigInt64Array(16).fill(BigInt(i * stride)), [16]);
      const eps = (await peer.unet.run({ x: new ort.Tensor('float32', x, [16, 1, 28, 28]), k })).eps.data;
      for (let j = 0; j < x.length; ++j) x[j] = (x[j] - coef * eps[j]) / alpha;
    }
    return x;
  };
  if (only !== 'lm') {
    const sampling = await compare({ gyre: () => ddpm.sample({ count: 16, steps: 50, start }), ort: ortSample }, quick ? 1 : 3);
    add({ case: 'sample 16 digits, 50 steps', ...sampling, ratio: sampling.ort.cpu / sampling.gyre.cpu,
      extra: `gyre ${(sampling.gyre.wall / 1000).toFixed(2)} s wall` });
  }

  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 1)}\n`);
  console.log('\n| case | Gyre (ms) | onnxruntime-web (ms) | ORT / Gyre |\n|---|---|---|---|');
  for (const c of results.cases) {
    console.log(`| ${c.case}${c.note ? ` (${c.note})` : ''} | ${c.gyre.cpu.toFixed(1)} | ${c.ort ? c.ort.cpu.toFixed(1) : '—'} | ${c.ratio.toFixed(2)}× |`);
  }
  console.log(`\nwrote ${path.relative(process.cwd(), outFile)}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
