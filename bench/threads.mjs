// `npm run bench:threads`: Gyre on 1 and 2 threads against onnxruntime-web on 2 threads (and
// tfjs-backend-wasm, which runs threads only in browsers: see below), one Node process,
// interleaved rounds, medians of wall time, speed ratios as medians of per-round ratios.
//   node --no-experimental-fetch bench/threads.mjs [--rounds N] [--flavour simd|relaxed]
//        [--threads T] [--only gemm|attention|lm|ddpm] [--out FILE]
// Cases (the issue's): GEMM 512³ and 1024³ (B packed once), causal attention d = 64, n = 4096 (one
// head), the GAU-LM forward over 2,048 tokens, and sampling 16 digits in 50 steps.
// Gyre 1 thread: the single-thread build (what threads: false loads); Gyre T threads: the threaded
// build. onnxruntime-web: numThreads = T. Each engine's threads are checked, not assumed: the
// process's CPU time over wall time during its runs (about T when T threads compute, on an
// otherwise idle machine) and the OS threads it started. tfjs-backend-wasm reports
// WASM_HAS_MULTITHREAD_SUPPORT false in Node, so it runs on 1 thread here and is marked so.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createEngine } from '../web/lib/index.js';
import { nodeWorkerClass } from '../web/lib/node-worker.js';
import { buildModel, onnxNode } from './onnx_builder.mjs';
import { check, flavourOption, heapCopy, machineInfo, median, option, randomArray } from './common.mjs';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(option('rounds', 7));
const flavour = flavourOption('relaxed');
const threads = Number(option('threads', 2));
const only = option('only', 'all');
const outFile = path.resolve(root, option('out', `bench/results/threads${flavour === 'relaxed' ? '' : `-${flavour}`}.json`));
const osThreads = () => fs.readdirSync('/proc/self/task').length;

// ---------------------------------------------------------------------------------------------
// Engines

/** The raw module (kernel bindings on heap addresses), single-thread or threaded. */
async function loadRawGyre(count) {
  const name = count > 1 ? `gyre-${flavour}-threads` : `gyre-${flavour}`;
  const dir = path.join(root, 'web/lib/wasm');
  const factory = (await import(pathToFileURL(path.join(dir, `${name}.js`)).href)).default;
  const workers = [];
  const module = await factory({
    wasmBinary: fs.readFileSync(path.join(dir, `${name}.wasm`)),
    ...(count > 1 ? { gyreWorkers: count - 1, gyreWorker: nodeWorkerClass((error) => { throw error; }, workers) } : {}),
  });
  if (count > 1) {
    check(module.setThreads(count));
  }
  return module;
}

async function loadPeers() {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'));
  wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  await tf.ready();
  const tfjsThreads = wasm.getThreadsCount();
  const ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = threads;
  ort.env.wasm.simd = true;
  ort.env.wasm.wasmPaths = path.join(path.dirname(require.resolve('onnxruntime-web')), '/');
  ort.env.logLevel = 'error';
  return { tf, tfjsThreads, ort };
}

const ortOptions = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };

// ---------------------------------------------------------------------------------------------
// Timing: warm-up, then rounds in which every engine runs its case (order alternating); a round
// repeats a case under 100 ms until about 100 ms have passed. Wall time, and CPU time / wall time.

async function timeRuns(run, repeats) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < repeats; ++i) await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms: wall / repeats, cpuPerWall: (c.user + c.system) / 1000 / wall };
}

async function compare(runners) {
  const names = Object.keys(runners);
  const repeats = {};
  for (const name of names) {
    const t0 = performance.now();
    let runs = 0;
    for (; runs < 2 || performance.now() - t0 < 300; ++runs) await runners[name]();
    repeats[name] = Math.max(1, Math.round(100 / ((performance.now() - t0) / runs)));
  }
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; ++round) {
    const order = round % 2 ? [...names].reverse() : names;
    for (const name of order) samples[name].push(await timeRuns(runners[name], repeats[name]));
  }
  const result = {};
  for (const name of names) {
    result[name] = {
      medianMs: median(samples[name].map((s) => s.ms)),
      cpuPerWall: median(samples[name].map((s) => s.cpuPerWall)),
      // Per round: this engine's time over Gyre's on `threads` threads (above 1: Gyre faster).
      overGyre: median(samples[name].map((s, i) => s.ms / samples.gyreT[i].ms)),
    };
  }
  result.speedup = median(samples.gyre1.map((s, i) => s.ms / samples.gyreT[i].ms));
  return result;
}

// ---------------------------------------------------------------------------------------------
// Cases

async function gemmCase(g1, gT, peers, size) {
  const [M, K, N] = [size, size, size];
  const A = randomArray(M * K, 3), B = randomArray(K * N, 5);
  const raw = [g1, gT].map((gyre) => {
    const a = heapCopy(gyre, A), b = heapCopy(gyre, B);
    const packed = gyre._malloc(check(gyre.kernelGemmPackedSize(K, N)) * 4);
    const c = gyre._malloc(M * N * 4);
    check(gyre.kernelGemmPackB(b, K, N, N, false, packed));
    return { gyre, a, packed, c };
  });
  const gemm = ({ gyre, a, packed, c }) => check(gyre.kernelGemmPacked(M, N, K, a, K, packed, c, N, 0, 0));
  raw.forEach(gemm);
  const one = raw[0].gyre.HEAPF32.slice(raw[0].c / 4, raw[0].c / 4 + M * N);
  const many = raw[1].gyre.HEAPF32.slice(raw[1].c / 4, raw[1].c / 4 + M * N);
  if (!one.every((v, i) => v === many[i])) throw new Error(`${size}³: the threaded GEMM differs from one thread`);
  const { tf, ort } = peers;
  const ta = tf.tensor2d(A, [M, K]), tb = tf.tensor2d(B, [K, N]);
  const session = await ort.InferenceSession.create(buildModel({
    nodes: [onnxNode('MatMul', ['A', 'B'], ['C'])],
    inputs: [['A', [M, K]]], outputs: [['C', [M, N]]], initializers: [['B', [K, N], B]],
  }), ortOptions);
  const feeds = { A: new ort.Tensor('float32', A, [M, K]) };
  const result = await compare({
    gyre1: () => gemm(raw[0]), gyreT: () => gemm(raw[1]),
    tfjs: () => tf.matMul(ta, tb).dispose(), ort: () => session.run(feeds),
  });
  ta.dispose(); tb.dispose();
  await session.release();
  for (const { gyre, a, packed, c } of raw) for (const p of [a, packed, c]) gyre._free(p);
  return { case: `GEMM ${size}³`, gflops: (ms) => 2 * M * N * K / ms / 1e6, ...result };
}

async function attentionCase(g1, gT, peers) {
  const n = 4096, d = 64;
  const [Q, K, V] = [randomArray(n * d, 7), randomArray(n * d, 8), randomArray(n * d, 9)];
  const raw = [g1, gT].map((gyre) => ({ gyre, q: heapCopy(gyre, Q), k: heapCopy(gyre, K), v: heapCopy(gyre, V), o: gyre._malloc(n * d * 4) }));
  const attend = ({ gyre, q, k, v, o }) => check(gyre.kernelAttention(n, n, 1, d, d, 1, 0, 0, 0, q, k, v, o, 0));
  raw.forEach(attend);
  const one = raw[0].gyre.HEAPF32.slice(raw[0].o / 4, raw[0].o / 4 + n * d);
  const many = raw[1].gyre.HEAPF32.slice(raw[1].o / 4, raw[1].o / 4 + n * d);
  if (!one.every((x, i) => x === many[i])) throw new Error('attention: the threaded kernel differs from one thread');
  const { ort } = peers;
  // tfjs is left out here: on one thread (all it has in Node) it takes 10-25× Gyre's time at this
  // size (bench/attention.mjs measures it), which would stretch every round.
  const maskData = new Float32Array(n * n);
  for (let i = 0; i < n; ++i) for (let j = i + 1; j < n; ++j) maskData[i * n + j] = -1e9;
  // onnxruntime-web: the same graph, the mask an initializer (Transpose reverses the two axes and
  // Softmax takes the last one by default).
  const session = await ort.InferenceSession.create(buildModel({
    nodes: [
      onnxNode('MatMul', ['Q', 'KT'], ['S']), onnxNode('Transpose', ['K'], ['KT']),
      onnxNode('Mul', ['S', 'scale'], ['Ss']), onnxNode('Add', ['Ss', 'mask'], ['Sm']),
      onnxNode('Softmax', ['Sm'], ['P']), onnxNode('MatMul', ['P', 'V'], ['O']),
    ],
    inputs: [['Q', [n, d]], ['K', [n, d]], ['V', [n, d]]], outputs: [['O', [n, d]]],
    initializers: [['scale', [], new Float32Array([1 / Math.sqrt(d)])], ['mask', [n, n], maskData]],
  }), ortOptions);
  const feeds = { Q: new ort.Tensor('float32', Q, [n, d]), K: new ort.Tensor('float32', K, [n, d]), V: new ort.Tensor('float32', V, [n, d]) };
  const result = await compare({
    gyre1: () => attend(raw[0]), gyreT: () => attend(raw[1]), ort: () => session.run(feeds),
  });
  await session.release();
  for (const { gyre, q, k, v, o } of raw) for (const p of [q, k, v, o]) gyre._free(p);
  return { case: 'attention d=64 n=4096 causal', ...result };
}

function textIds(lm, n) {
  const file = path.join(root, 'models', 'data', 'austen_valid.txt');
  const source = fs.existsSync(file) ? fs.readFileSync(file, 'utf8')
    : 'It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife. ';
  let text = '';
  while ([...text].length < n) text += source.slice(0, 100000);
  return lm.encode([...text].slice(0, n).join(''));
}

async function modelCases(peers) {
  const onnx = (name) => path.join(root, 'bench', 'onnx', `${name}.onnx`);
  const cases = [];
  const e1 = await createEngine({ relaxed: flavour === 'relaxed', threads: false });
  const eT = await createEngine({ relaxed: flavour === 'relaxed', threads });
  const { ort } = peers;
  if (only === 'all' || only === 'lm') {
    const [lm1, lmT] = await Promise.all([e1, eT].map((e) => e.loadModel(path.join(root, 'models/gau-lm-softmax-plus'))));
    const ids = textIds(lm1, 2048);
    const [one, many] = [lm1.logits(ids), lmT.logits(ids)];
    if (one.some((v, i) => v !== many[i])) throw new Error('LM: threaded logits differ');
    const runners = { gyre1: () => lm1.logits(ids), gyreT: () => lmT.logits(ids) };
    if (fs.existsSync(onnx('gau-lm-softmax-plus'))) {
      const session = await ort.InferenceSession.create(fs.readFileSync(onnx('gau-lm-softmax-plus')), ortOptions);
      const feeds = { ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [1, ids.length]) };
      runners.ort = () => session.run(feeds);
    }
    cases.push({ case: 'GAU-LM forward, 2048 tokens', ...await compare(runners) });
  }
  if (only === 'all' || only === 'ddpm') {
    const [d1, dT] = await Promise.all([e1, eT].map((e) => e.loadModel(path.join(root, 'models/ddpm-digits'))));
    const start = Float32Array.from({ length: 16 * 784 }, (_, i) => Math.sin(i * 78.233) * 1.2);
    const runners = {
      gyre1: () => d1.sample({ count: 16, steps: 50, start }),
      gyreT: () => dT.sample({ count: 16, steps: 50, start }),
    };
    if (fs.existsSync(onnx('ddpm-digits'))) {
      const session = await ort.InferenceSession.create(fs.readFileSync(onnx('ddpm-digits')), ortOptions);
      const T = 1000, stride = 20;
      const barAlpha = [];
      let product = 1;
      for (let t = 1; t <= T; ++t) { product *= Math.sqrt(1 - 0.02 * t / T); barAlpha.push(product); }
      runners.ort = async () => {
        const x = Float32Array.from(start);
        for (let i = T / stride - 1; i >= 0; --i) {
          const ba = barAlpha[i * stride], prev = i > 0 ? barAlpha[(i - 1) * stride] : 1;
          const alpha = ba / prev, bb = Math.sqrt(1 - ba * ba), bbPrev = Math.sqrt(1 - prev * prev);
          const coef = bb - alpha * bbPrev;
          const k = new ort.Tensor('int64', new BigInt64Array(16).fill(BigInt(i * stride)), [16]);
          const eps = (await session.run({ x: new ort.Tensor('float32', x, [16, 1, 28, 28]), k })).eps.data;
          for (let j = 0; j < x.length; ++j) x[j] = (x[j] - coef * eps[j]) / alpha;
        }
      };
    }
    cases.push({ case: 'sample 16 digits, 50 steps', ...await compare(runners) });
  }
  eT.dispose();
  return cases;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const before = osThreads();
  const g1 = await loadRawGyre(1);
  const gT = await loadRawGyre(threads);
  const gyreThreads = osThreads() - before;
  const peers = await loadPeers();
  const results = {
    benchmark: 'threads', date: new Date().toISOString(), flavour, threads, rounds,
    machine: machineInfo(),
    threadChecks: { gyreWorkerThreadsStarted: gyreThreads, tfjsThreadsCount: peers.tfjsThreads },
    notes: [
      'wall-time medians over interleaved rounds; speed-up = median per-round time ratio Gyre 1 thread / Gyre T threads',
      'overGyre = median per-round time ratio engine / Gyre on T threads (above 1: Gyre faster)',
      'cpuPerWall: process CPU time / wall time during the engine\'s runs (about T when T threads compute on an idle machine)',
      'tfjs-backend-wasm has no threads in Node (WASM_HAS_MULTITHREAD_SUPPORT false): it runs on 1 thread here',
    ],
    cases: [],
  };
  const add = (entry) => {
    results.cases.push(entry);
    const peer = (name) => entry[name]
      ? `${name} ${entry[name].medianMs.toFixed(1)} ms (cpu/wall ${entry[name].cpuPerWall.toFixed(2)}, ${entry[name].overGyre.toFixed(2)}x)` : '';
    console.log(`${entry.case.padEnd(30)} gyre×1 ${entry.gyre1.medianMs.toFixed(1)} ms  gyre×${threads} ${entry.gyreT.medianMs.toFixed(1)} ms ` +
      `(cpu/wall ${entry.gyreT.cpuPerWall.toFixed(2)})  speed-up ${entry.speedup.toFixed(2)}x  ${peer('ort')}  ${peer('tfjs')}`);
  };
  const ortBefore = osThreads();
  if (only === 'all' || only === 'gemm') {
    for (const size of [512, 1024]) add(await gemmCase(g1, gT, peers, size));
  }
  if (only === 'all' || only === 'attention') add(await attentionCase(g1, gT, peers));
  results.threadChecks.ortWorkerThreadsStarted = osThreads() - ortBefore;
  for (const entry of await modelCases(peers)) add(entry);

  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(results, (key, value) => typeof value === 'function' ? undefined : value, 1)}\n`);
  console.log(`\n| case | Gyre 1 thread ms | Gyre ${threads} threads ms | speed-up | ORT ${threads} threads ms | ORT / Gyre | tfjs (1 thread) ms | tfjs / Gyre |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const c of results.cases) {
    const cell = (name) => c[name] ? [c[name].medianMs.toFixed(1), `${c[name].overGyre.toFixed(2)}×`] : ['—', '—'];
    console.log(`| ${c.case} | ${c.gyre1.medianMs.toFixed(1)} | ${c.gyreT.medianMs.toFixed(1)} | ${c.speedup.toFixed(2)}× | ${cell('ort').join(' | ')} | ${cell('tfjs').join(' | ')} |`);
  }
  console.log(`\nthreads started: Gyre ${gyreThreads} worker(s), ORT ${results.threadChecks.ortWorkerThreadsStarted}; tfjs threads ${peers.tfjsThreads}`);
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`);
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
