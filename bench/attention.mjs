// Attention benchmark: Gyre's fused attention against onnxruntime-web (MatMul / Softmax / MatMul graph
// built in memory) and tfjs-backend-wasm (transpose + matMul + softmax), one process, one thread,
// interleaved rounds, medians, ratios ours/peer, peak wasm memory. Writes bench/results/attention.json.
//
//   npm run bench:attention                 (builds the SIMD module first)
//   node bench/attention.mjs [--quick]      (--quick: fewer sizes and rounds, for a smoke run)
//   GYRE_WASM_DIR=dir node bench/attention.mjs   (load gyre-simd.{js,wasm} from another build dir)
//   node --experimental-wasm-relaxed-simd bench/attention.mjs --flavour relaxed   (the FMA build)
//   node bench/attention.mjs --table        (print the README's markdown tables from the last results)
//
// Sections:
//  1. bidirectional and causal softmax attention, one head, d = 64 and 128, n = 128 … 4096: time,
//     GFLOP/s counted as the peers' work 4·n²·d (for causal, ours does about half of it: the masked
//     half is skipped), ratio peer/ours, and our useful GFLOP/s (4·d per visible query–key pair) as a
//     share of our packed GEMM (512³, timed in the same rounds);
//  2. sliding window (w = 128, causal) out to n = 65536: time per token; the peers can only run the full
//     n² graph with a band mask, so they are run until they fail or take longer than a cap;
//  3. full causal attention at n = 32768 in a fresh module: its peak wasm memory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { flag, flavourOption, machineInfo, maxAbsDiff, median } from './common.mjs';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '..');
const quick = flag('quick');

// ---------------------------------------------------------------------------------------------------
// Gyre
const flavour = flavourOption('simd');
const wasmDir = process.env.GYRE_WASM_DIR ? path.resolve(process.env.GYRE_WASM_DIR) : path.join(repo, 'web/lib/wasm');

async function loadGyre() {
  const jsPath = path.join(wasmDir, `gyre-${flavour}.js`);
  const wasmPath = path.join(wasmDir, `gyre-${flavour}.wasm`);
  if (!fs.existsSync(jsPath) || !fs.existsSync(wasmPath)) {
    throw new Error(`${wasmPath} is missing: run \`npm run build\` (or scripts/build.sh wasm-simd) first`);
  }
  const { default: factory } = await import(pathToFileURL(jsPath).href);
  const compiled = await WebAssembly.compile(fs.readFileSync(wasmPath));
  const module = await factory({
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(compiled, imports).then((instance) => receive(instance, compiled));
      return {};
    },
  });
  if (typeof module.kernelAttention !== 'function') {
    throw new Error(`${jsPath} has no kernelAttention: rebuild it (npm run build)`);
  }
  return module;
}

// q, k, v, out for one head of n × d in a Gyre module; inputs copied in once (resident, like the peers').
function gyreProblem(module, n, d, data) {
  const bytes = n * d * 4;
  const addr = [0, 1, 2, 3].map(() => module._malloc(bytes));
  if (addr.some((a) => a === 0)) throw new Error(`Gyre: _malloc of ${bytes} bytes failed`);
  module.HEAPF32.set(data.q, addr[0] / 4);
  module.HEAPF32.set(data.k, addr[1] / 4);
  module.HEAPF32.set(data.v, addr[2] / 4);
  const mask = data.mask === 'bidirectional' ? 0 : data.window ? 2 : 1;
  return {
    run() {
      const result = module.kernelAttention(n, n, 1, d, d, mask, data.window ?? 0, 0, 0, addr[0], addr[1], addr[2], addr[3], 0);
      if (!result.ok) throw new Error(`Gyre attention: ${result.code}: ${result.message}`);
    },
    output() { return module.HEAPF32.slice(addr[3] / 4, addr[3] / 4 + n * d); },
    free() { addr.forEach((a) => module._free(a)); },
  };
}

// Our packed GEMM at 512³ (B packed once, as at model load): the rate the attention is read against.
function gyreGemm(module, size = 512) {
  const count = size * size;
  const a = module._malloc(count * 4), b = module._malloc(count * 4), c = module._malloc(count * 4);
  const packed = module._malloc(module.kernelGemmPackedSize(size, size) * 4);
  if (!a || !b || !c || !packed) throw new Error('Gyre: _malloc for the GEMM failed');
  const data = randomData(size, size, 5);
  module.HEAPF32.set(data.q, a / 4);
  module.HEAPF32.set(data.k, b / 4);
  const packResult = module.kernelGemmPackB(b, size, size, size, false, packed);
  if (!packResult.ok) throw new Error(`Gyre pack: ${packResult.code}: ${packResult.message}`);
  return {
    flops: 2 * size ** 3,
    run() {
      const result = module.kernelGemmPacked(size, size, size, a, size, packed, c, size, 0, 0);
      if (!result.ok) throw new Error(`Gyre GEMM: ${result.code}: ${result.message}`);
    },
    output() { return null; },
    free() { [a, b, c, packed].forEach((x) => module._free(x)); },
  };
}

// ---------------------------------------------------------------------------------------------------
// tfjs-backend-wasm (XNNPACK inside)
async function loadTfjs() {
  const tf = require('@tensorflow/tfjs-core');
  const wasm = require('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
  wasm.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  return tf;
}

function tfjsHeapBytes(tf) {
  const backend = tf.backend();
  return backend?.wasm?.HEAPU8?.buffer?.byteLength ?? backend?.wasm?.wasmMemory?.buffer?.byteLength ?? null;
}

function tfjsProblem(tf, n, d, data) {
  // K arrives untransposed; matMul(a, b, false, true) would leave XNNPACK (PEERS.md), so transpose first.
  const q = tf.tensor2d(data.q, [n, d]);
  const k = tf.tensor2d(data.k, [n, d]);
  const v = tf.tensor2d(data.v, [n, d]);
  const w = data.window ?? n;
  const bidirectional = data.mask === 'bidirectional';
  // Additive mask, resident (built once, not timed): 0 where i − w < j <= i, −1e9 elsewhere.
  const mask = bidirectional ? null : tf.tidy(() => {
    const ones = tf.ones([n, n]);
    const visible = tf.linalg.bandPart(ones, Math.min(w - 1, n), 0);
    return tf.mul(tf.sub(1, visible), -1e9);
  });
  const scale = tf.scalar(1 / Math.sqrt(d));
  let last = null;
  return {
    run() {
      const out = tf.tidy(() => {
        const scaled = tf.mul(tf.matMul(q, tf.transpose(k)), scale);
        const scores = bidirectional ? scaled : tf.add(scaled, mask);
        return tf.matMul(tf.softmax(scores), v);
      });
      const values = out.dataSync();
      out.dispose();
      last = values;
    },
    output() { return last; },
    free() { [q, k, v, mask, scale].forEach((t) => t?.dispose()); },
  };
}

// ---------------------------------------------------------------------------------------------------
// onnxruntime-web: an ONNX model written here with a minimal protobuf encoder.
const pb = {
  varint(value) {
    const out = [];
    let v = BigInt.asUintN(64, BigInt(value));  // negative int64: two's complement, 10 bytes
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v) byte |= 0x80;
      out.push(byte);
    } while (v);
    return out;
  },
  key(field, wire) { return pb.varint((field << 3) | wire); },
  int(field, value) { return [...pb.key(field, 0), ...pb.varint(value)]; },
  bytes(field, payload) { return [...pb.key(field, 2), ...pb.varint(payload.length), ...payload]; },
  str(field, text) { return pb.bytes(field, [...Buffer.from(text, 'utf8')]); },
  float(field, value) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(value);
    return [...pb.key(field, 5), ...b];
  },
};

// mask: 'causal' (window > 0: the causal sliding window) or 'bidirectional' (no mask).
export function onnxAttentionModel(d, window, mask = 'causal') {
  const tensorType = (dims, elemType = 1) => pb.bytes(1, [...pb.int(1, elemType), ...pb.bytes(2, dims.flatMap((x) =>
    pb.bytes(1, typeof x === 'string' ? pb.str(2, x) : pb.int(1, x))))]);
  const valueInfo = (name, dims) => [...pb.str(1, name), ...pb.bytes(2, tensorType(dims))];
  const attrInt = (name, value) => [...pb.str(1, name), ...pb.int(3, value), ...pb.int(20, 2)];
  const attrInts = (name, values) => [...pb.str(1, name), ...values.flatMap((v) => pb.int(8, v)), ...pb.int(20, 7)];
  const node = (op, inputs, outputs, attrs = []) => pb.bytes(1, [
    ...inputs.flatMap((x) => pb.str(1, x)), ...outputs.flatMap((x) => pb.str(2, x)), ...pb.str(3, outputs[0]),
    ...pb.str(4, op), ...attrs.flatMap((a) => pb.bytes(5, a))]);
  const floatScalar = (name, value) => pb.bytes(5, [...pb.int(2, 1), ...pb.float(4, value), ...pb.str(8, name)]);
  const int64Tensor = (name, values, dims) => pb.bytes(5, [...dims.flatMap((x) => pb.int(1, x)), ...pb.int(2, 7),
    ...values.flatMap((v) => pb.int(7, v)), ...pb.str(8, name)]);
  const scores = [
    // scores = (Q Kᵀ) / √d
    node('Transpose', ['K'], ['Kt'], [attrInts('perm', [1, 0])]),
    node('MatMul', ['Q', 'Kt'], ['S']),
    node('Mul', ['S', 'scale'], ['Ss']),
  ];
  const masking = [
    // the mask from positions, in the graph: visible = (i − j >= 0) and (i − j < w)
    node('Shape', ['Q'], ['shape']),
    node('Gather', ['shape', 'zero'], ['n'], [attrInt('axis', 0)]),
    node('Range', ['zero', 'n', 'one'], ['pos']),
    node('Unsqueeze', ['pos', 'axis1'], ['rows']),
    node('Unsqueeze', ['pos', 'axis0'], ['cols']),
    node('Sub', ['rows', 'cols'], ['offset']),
    node('Less', ['offset', 'zero'], ['future']),
    ...(window
      ? [node('Less', ['offset', 'window'], ['near']), node('Not', ['future'], ['past']),
          node('And', ['past', 'near'], ['visible'])]
      : [node('Not', ['future'], ['visible'])]),
    node('Where', ['visible', 'Ss', 'minus_inf'], ['Sm']),
  ];
  const bidirectional = mask === 'bidirectional';
  const nodes = [
    ...scores,
    ...(bidirectional ? [] : masking),
    node('Softmax', [bidirectional ? 'Ss' : 'Sm'], ['P'], [attrInt('axis', -1)]),
    node('MatMul', ['P', 'V'], ['O']),
  ];
  const initializers = bidirectional ? [floatScalar('scale', 1 / Math.sqrt(d))] : [
    floatScalar('scale', 1 / Math.sqrt(d)),
    floatScalar('minus_inf', -1e9),
    int64Tensor('zero', [0], []),
    int64Tensor('one', [1], []),
    int64Tensor('axis0', [0], [1]),
    int64Tensor('axis1', [1], [1]),
    ...(window ? [int64Tensor('window', [window], [])] : []),
  ];
  const graph = [
    ...nodes.flat(), ...pb.str(2, 'attention'), ...initializers.flat(),
    ...['Q', 'K', 'V'].flatMap((x) => pb.bytes(11, valueInfo(x, ['n', d]))),
    ...pb.bytes(12, valueInfo('O', ['n', d])),
  ];
  const model = [
    ...pb.int(1, 8), ...pb.str(2, 'gyre-bench'), ...pb.bytes(7, graph),
    ...pb.bytes(8, [...pb.str(1, ''), ...pb.int(2, 17)]),
  ];
  return Uint8Array.from(model);
}

async function loadOrt() {
  const ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = path.join(path.dirname(require.resolve('onnxruntime-web')), '/');
  ort.env.logLevel = 'error';
  return ort;
}

async function ortSession(ort, d, window, mask = 'causal') {
  return ort.InferenceSession.create(onnxAttentionModel(d, window, mask), {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
}

function ortProblem(ort, session, n, d, data) {
  const feeds = {
    Q: new ort.Tensor('float32', data.q, [n, d]),
    K: new ort.Tensor('float32', data.k, [n, d]),
    V: new ort.Tensor('float32', data.v, [n, d]),
  };
  let last = null;
  return {
    async run() {
      const result = await session.run(feeds);
      last = result.O.data;
      result.O.dispose?.();
    },
    output() { return last; },
    free() {},
  };
}

// ---------------------------------------------------------------------------------------------------
function packageVersion(name) {
  const file = path.join(repo, 'node_modules', name, 'package.json');
  return JSON.parse(fs.readFileSync(file, 'utf8')).version;
}

function randomData(n, d, seed) {
  let s = seed >>> 0;
  const next = () => {  // xorshift32 → roughly N(0, 1) by the sum of 4 uniforms
    let sum = 0;
    for (let i = 0; i < 4; ++i) {
      s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
      sum += s / 4294967296;
    }
    return (sum - 2) * Math.sqrt(3);
  };
  const make = () => Float32Array.from({ length: n * d }, next);
  return { q: make(), k: make(), v: make() };
}

// Wall time and this process's CPU time (user + system) of one run, in ms. The machine may be shared:
// CPU time leaves out the time the process waited for a core, so its ratios are the steadier ones.
async function timeOnce(problem) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await problem.run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

// V8 first runs wasm through its baseline compiler and tiers up in the background: run until the
// optimised code is in (at least 3 runs and 150 ms), so no engine is timed on baseline code.
async function warmUp(problem) {
  const t0 = performance.now();
  for (let i = 0; i < 3 || performance.now() - t0 < 150; ++i) await problem.run();
}

function best(samples) {
  return Math.min(...samples.map((x) => x.cpu));
}

function medians(samples) {
  return { wall: median(samples.map((x) => x.wall)), cpu: median(samples.map((x) => x.cpu)) };
}

const fmt = (x, digits = 2) => (x == null ? '—' : x.toFixed(digits));
const mib = (bytes) => (bytes == null ? null : bytes / 2 ** 20);

// ---------------------------------------------------------------------------------------------------
async function main() {
  const started = new Date();
  const gyre = await loadGyre();
  const tf = await loadTfjs();
  const ort = await loadOrt();
  const results = {
    benchmark: 'attention',
    date: started.toISOString(),
    machine: machineInfo(),
    versions: { tfjs: packageVersion('@tensorflow/tfjs-backend-wasm'), onnxruntime: packageVersion('onnxruntime-web') },
    notes: [
      'one thread everywhere; interleaved rounds (the order rotates every round); medians in ms',
      'wall = elapsed time; cpu = this process\'s CPU time for the run (steadier when the machine is shared)',
      'ratio = peer / Gyre (above 1: Gyre is faster), from the CPU-time medians; ratio_wall from wall medians, ' +
        'ratio_best from each engine\'s fastest run',
      'GFLOP/s counts 4*n^2*d for every engine (the peers compute all of it; in causal cases Gyre skips the masked half)',
      'share_of_gemm: Gyre useful GFLOP/s (4*d per visible query-key pair) / Gyre gemm_packed 512^3 GFLOP/s, timed in the same rounds',
      'tfjs: resident inputs and a resident additive mask (built once, not timed); ort: Q,K,V fed per run, mask built in the graph',
      'memory: wasm memory size in MiB after the run (wasm memory never shrinks, so this is the peak so far); ' +
        'onnxruntime-web does not expose its wasm memory',
    ],
    bidirectional: [],
    causal: [],
    window: [],
    memory32k: null,
  };

  // 1. bidirectional and causal softmax attention, one head; our packed GEMM in the same rounds
  const lengths = quick ? [128, 512, 2048] : [128, 256, 512, 1024, 2048, 4096];
  const dims = [64, 128];
  const gemm = gyreGemm(gyre);
  await warmUp(gemm);
  for (const mask of ['bidirectional', 'causal']) {
    console.log(`\n${mask} softmax attention, one head: medians in ms (CPU time; wall in brackets), ratio = peer / gyre; ` +
      'share = gyre useful GFLOP/s / gyre GEMM 512³ GFLOP/s in the same rounds');
    console.log('   d      n            gyre            tfjs             ort  gyre GF/s  tfjs/gyre  ort/gyre  share  MiB gyre tfjs');
    for (const d of dims) {
      const session = await ortSession(ort, d, 0, mask);
      for (const n of lengths) {
        const data = randomData(n, d, 1000 + n + d);
        data.mask = mask;
        const engines = {
          gyre: gyreProblem(gyre, n, d, data),
          tfjs: tfjsProblem(tf, n, d, data),
          ort: ortProblem(ort, session, n, d, data),
          gemm,
        };
        const names = Object.keys(engines);
        for (const name of names) await warmUp(engines[name]);
        const agreement = {
          tfjs: maxAbsDiff(engines.gyre.output(), engines.tfjs.output()),
          ort: maxAbsDiff(engines.gyre.output(), engines.ort.output()),
        };
        const rounds = quick ? 3 : n <= 512 ? 21 : n <= 1024 ? 15 : n <= 2048 ? 9 : 7;
        const samples = Object.fromEntries(names.map((x) => [x, []]));
        for (let r = 0; r < rounds; ++r) {
          for (let i = 0; i < names.length; ++i) {
            const name = names[(r + i) % names.length];
            samples[name].push(await timeOnce(engines[name]));
          }
        }
        const med = Object.fromEntries(names.map((x) => [x, medians(samples[x])]));
        const flops = 4 * n * n * d;
        const usefulFlops = 4 * d * (mask === 'causal' ? (n * (n + 1)) / 2 : n * n);
        const gemmGflops = gemm.flops / med.gemm.cpu / 1e6;
        const row = {
          d, n, rounds,
          ms_cpu: Object.fromEntries(names.map((x) => [x, med[x].cpu])),
          ms_wall: Object.fromEntries(names.map((x) => [x, med[x].wall])),
          gflops_cpu: Object.fromEntries(['gyre', 'tfjs', 'ort'].map((x) => [x, flops / med[x].cpu / 1e6])),
          gyre_useful_gflops_cpu: usefulFlops / med.gyre.cpu / 1e6,
          gemm_512_gflops_cpu: gemmGflops,
          share_of_gemm: usefulFlops / med.gyre.cpu / 1e6 / gemmGflops,
          ratio: { tfjs: med.tfjs.cpu / med.gyre.cpu, ort: med.ort.cpu / med.gyre.cpu },
          ratio_wall: { tfjs: med.tfjs.wall / med.gyre.wall, ort: med.ort.wall / med.gyre.wall },
          // best (fastest) run of each engine: the least disturbed by other processes on a shared machine
          ratio_best: { tfjs: best(samples.tfjs) / best(samples.gyre), ort: best(samples.ort) / best(samples.gyre) },
          memory_mib: { gyre: mib(gyre.HEAPU8.buffer.byteLength), tfjs: mib(tfjsHeapBytes(tf)), ort: null },
          max_abs_diff_vs_gyre: agreement,
        };
        row.ratio_vs_faster_peer = Math.min(row.ratio.tfjs, row.ratio.ort);
        results[mask].push(row);
        const cell = (x) => `${fmt(med[x].cpu)} (${fmt(med[x].wall)})`.padStart(16);
        console.log(`${String(d).padStart(4)} ${String(n).padStart(6)} ${cell('gyre')} ${cell('tfjs')} ${cell('ort')} ` +
          `${fmt(row.gflops_cpu.gyre, 1).padStart(10)} ${fmt(row.ratio.tfjs).padStart(10)} ${fmt(row.ratio.ort).padStart(9)}` +
          ` ${`${fmt(100 * row.share_of_gemm, 0)} %`.padStart(6)}` +
          `  ${fmt(row.memory_mib.gyre, 0).padStart(8)} ${fmt(row.memory_mib.tfjs, 0).padStart(4)}` +
          `   max|diff| ${Math.max(agreement.tfjs, agreement.ort).toExponential(1)}`);
        for (const name of ['gyre', 'tfjs', 'ort']) engines[name].free();
      }
      await session.release();
    }
  }
  gemm.free();

  // 2. sliding window, w = 128, d = 64
  const w = 128, dw = 64;
  const windowLengths = quick ? [1024, 8192] : [1024, 2048, 4096, 8192, 16384, 32768, 65536];
  const peerCapMs = quick ? 5000 : 20000;  // a peer that needs longer than this for one run is not run further
  console.log(`\nsliding window w = ${w}, d = ${dw}: medians in ms (CPU time; wall in brackets)`);
  console.log('       n            gyre  gyre µs/token            tfjs             ort');
  const windowModules = new Map();  // one fresh module per n: its wasm memory is that n's alone
  const windowSession = await ortSession(ort, dw, w);
  const peerAlive = { tfjs: true, ort: true };
  const peerFailure = { tfjs: null, ort: null };
  for (const n of windowLengths) {
    const data = randomData(n, dw, 7 + n);
    data.window = w;
    const windowModule = await loadGyre();
    windowModules.set(n, { module: windowModule, data });
    const ours = gyreProblem(windowModule, n, dw, data);
    await warmUp(ours);
    const rounds = quick ? 3 : 15;  // Gyre's runs are short: many rounds steady the medians
    const samples = { gyre: [], tfjs: [], ort: [] };
    const peers = {};
    for (const name of ['tfjs', 'ort']) {
      if (!peerAlive[name]) continue;
      try {
        peers[name] = name === 'tfjs' ? tfjsProblem(tf, n, dw, data) : ortProblem(ort, windowSession, n, dw, data);
        const first = await timeOnce(peers[name]);
        if (first.wall > peerCapMs) {
          peerAlive[name] = false;
          peerFailure[name] = `n = ${n}: one run took ${fmt(first.wall / 1000, 1)} s (cap ${peerCapMs / 1000} s); larger n not run`;
        }
      } catch (error) {
        peerAlive[name] = false;
        peerFailure[name] = `n = ${n}: ${String(error?.message ?? error).split('\n')[0].slice(0, 200)}`;
        try { peers[name]?.free(); } catch { /* already gone */ }
        delete peers[name];
      }
    }
    const names = ['gyre', ...Object.keys(peers)];
    const engines = { gyre: ours, ...peers };
    const peerRounds = quick ? 3 : n <= 4096 ? 9 : 3;
    for (let r = 0; r < rounds; ++r) {
      for (let i = 0; i < names.length; ++i) {
        const name = names[(r + i) % names.length];
        if (name !== 'gyre' && r >= peerRounds) continue;
        samples[name].push(await timeOnce(engines[name]));
      }
    }
    const med = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.length ? medians(v) : null]));
    const row = {
      n, w, d: dw, rounds,
      ms_cpu: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, v?.cpu ?? null])),
      ms_wall: Object.fromEntries(Object.entries(med).map(([k, v]) => [k, v?.wall ?? null])),
      us_per_token_cpu: (med.gyre.cpu * 1000) / n,
      us_per_token_wall: (med.gyre.wall * 1000) / n,
      us_per_token_best: (best(samples.gyre) * 1000) / n,
      ratio: { tfjs: med.tfjs ? med.tfjs.cpu / med.gyre.cpu : null, ort: med.ort ? med.ort.cpu / med.gyre.cpu : null },
      memory_mib: { gyre: mib(windowModule.HEAPU8.buffer.byteLength), tfjs: mib(tfjsHeapBytes(tf)) },
      peer_failure: { ...peerFailure },
    };
    results.window.push(row);
    const cell = (x) => (med[x] ? `${fmt(med[x].cpu)} (${fmt(med[x].wall)})` : '—').padStart(16);
    console.log(`${String(n).padStart(8)} ${cell('gyre')} ${fmt(row.us_per_token_cpu, 3).padStart(14)} ${cell('tfjs')} ${cell('ort')}`);
    Object.values(engines).forEach((e) => e.free());
  }
  for (const name of ['tfjs', 'ort']) if (peerFailure[name]) console.log(`  ${name}: ${peerFailure[name]}`);
  await windowSession.release();
  // Flatness: Gyre alone, every n in every round (rotating order), so all lengths share the same
  // machine conditions; a sequential sweep on a shared machine mixes load changes into the slope.
  const flat = new Map();
  for (const [n, { module, data }] of windowModules) {
    const problem = gyreProblem(module, n, dw, data);
    await warmUp(problem);
    flat.set(n, { problem, samples: [] });
  }
  const flatRounds = quick ? 5 : 25;
  const ns = [...flat.keys()];
  for (let r = 0; r < flatRounds; ++r) {
    for (let i = 0; i < ns.length; ++i) {
      const entry = flat.get(ns[(r + i) % ns.length]);
      entry.samples.push(await timeOnce(entry.problem));
    }
  }
  const perToken = ns.map((n) => {
    const { samples } = flat.get(n);
    flat.get(n).problem.free();
    return { n, us_cpu: (medians(samples).cpu * 1000) / n, us_best: (best(samples) * 1000) / n,
      us_wall: (medians(samples).wall * 1000) / n };
  });
  const spread = (values) => Math.max(...values) / Math.min(...values) - 1;
  results.window_flatness = {
    from_n: windowLengths[0], to_n: windowLengths.at(-1), rounds: flatRounds,
    us_per_token: perToken,
    spread_cpu_median: spread(perToken.map((x) => x.us_cpu)),
    spread_cpu_best: spread(perToken.map((x) => x.us_best)),
    spread_wall_median: spread(perToken.map((x) => x.us_wall)),
  };
  console.log(`  gyre µs per token (all n interleaved, ${flatRounds} rounds, CPU medians): ` +
    perToken.map((x) => `${x.n}: ${fmt(x.us_cpu, 3)}`).join(', '));
  console.log(`  spread from n = ${windowLengths[0]} to ${windowLengths.at(-1)}: ` +
    `${fmt(100 * results.window_flatness.spread_cpu_median, 1)} % (CPU medians), ` +
    `${fmt(100 * results.window_flatness.spread_cpu_best, 1)} % (best runs), ` +
    `${fmt(100 * results.window_flatness.spread_wall_median, 1)} % (wall medians)`);

  // 3. full causal attention at n = 32768 in a fresh module: peak wasm memory
  const nBig = quick ? 8192 : 32768;
  const bigModule = await loadGyre();
  const before = bigModule.HEAPU8.buffer.byteLength;
  const big = gyreProblem(bigModule, nBig, 64, randomData(nBig, 64, 99));
  const bigTime = await timeOnce(big);
  big.free();
  results.memory32k = {
    n: nBig, d: 64, ms_cpu: bigTime.cpu, ms_wall: bigTime.wall,
    wasm_memory_mib_at_start: mib(before), wasm_memory_mib_peak: mib(bigModule.HEAPU8.buffer.byteLength),
    inputs_and_output_mib: (4 * nBig * 64 * 4) / 2 ** 20,
    workspace_mib: mib(bigModule.kernelAttentionWorkspaceBytes().value),
    score_matrix_alone_would_need_mib: (nBig * nBig * 4) / 2 ** 20,
  };
  console.log(`\nfull causal attention n = ${nBig}, d = 64 in a fresh module: ${fmt(bigTime.cpu / 1000, 2)} s CPU, ` +
    `wasm memory ${fmt(results.memory32k.wasm_memory_mib_peak, 1)} MiB (Q, K, V, O ${results.memory32k.inputs_and_output_mib} MiB, ` +
    `workspace ${fmt(results.memory32k.workspace_mib, 1)} MiB; an n×n f32 score matrix alone: ${results.memory32k.score_matrix_alone_would_need_mib} MiB)`);

  const mid = results.causal.filter((r) => r.n >= 512);
  const bidirectional = results.bidirectional.filter((r) => r.n >= 256);
  results.summary = {
    min_ratio_vs_faster_peer_512_4096: Math.min(...mid.map((r) => r.ratio_vs_faster_peer)),
    median_ratio_vs_faster_peer_512_4096: median(mid.map((r) => r.ratio_vs_faster_peer)),
    bidirectional_min_ratio_vs_faster_peer_256_4096: Math.min(...bidirectional.map((r) => r.ratio_vs_faster_peer)),
    bidirectional_min_share_of_gemm_256_4096: Math.min(...bidirectional.map((r) => r.share_of_gemm)),
    causal_min_share_of_gemm_256_4096: Math.min(...results.causal.filter((r) => r.n >= 256).map((r) => r.share_of_gemm)),
    window_spread_cpu_median: results.window_flatness.spread_cpu_median,
    window_spread_cpu_best: results.window_flatness.spread_cpu_best,
    memory_32k_mib: results.memory32k.wasm_memory_mib_peak,
    loadavg_at_end: os.loadavg(),
  };
  console.log(`summary: causal, gyre vs the faster peer at n = 512…4096 (CPU time): min ${fmt(results.summary.min_ratio_vs_faster_peer_512_4096)}x, ` +
    `median ${fmt(results.summary.median_ratio_vs_faster_peer_512_4096)}x; bidirectional n = 256…4096: min ` +
    `${fmt(results.summary.bidirectional_min_ratio_vs_faster_peer_256_4096)}x; share of the GEMM (n >= 256) at least ` +
    `${fmt(100 * results.summary.bidirectional_min_share_of_gemm_256_4096, 0)} % bidirectional, ` +
    `${fmt(100 * results.summary.causal_min_share_of_gemm_256_4096, 0)} % causal; ` +
    `load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  const outDir = path.join(repo, 'bench/results');
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `attention${flavour === 'simd' ? '' : `-${flavour}`}${quick ? '-quick' : ''}.json`);
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`wrote ${path.relative(repo, file)}`);
}

// The README tables, from bench/results/attention.json.
function markdownTables(results) {
  const lines = [];
  const f = (x, digits = 2) => (x == null ? '—' : x.toFixed(digits));
  for (const mask of ['bidirectional', 'causal']) {
    lines.push(`${mask}:`, '');
    lines.push('| d | n | Gyre ms | tfjs-wasm ms | ort-web ms | Gyre GFLOP/s (useful) | share of Gyre GEMM | faster peer / Gyre | wasm MiB Gyre / tfjs |');
    lines.push('|---|---|---|---|---|---|---|---|---|');
    for (const r of results[mask] ?? []) {
      lines.push(`| ${r.d} | ${r.n} | ${f(r.ms_cpu.gyre)} | ${f(r.ms_cpu.tfjs)} | ${f(r.ms_cpu.ort)} | ` +
        `${f(r.gyre_useful_gflops_cpu, 1)} | ${f(100 * r.share_of_gemm, 0)} % | ${f(r.ratio_vs_faster_peer)}× | ` +
        `${f(r.memory_mib.gyre, 0)} / ${f(r.memory_mib.tfjs, 0)} |`);
    }
    lines.push('');
  }
  lines.push('');
  lines.push('| n (w = 128, d = 64) | Gyre ms | Gyre µs / token | tfjs-wasm ms | ort-web ms | faster peer / Gyre |');
  lines.push('|---|---|---|---|---|---|');
  // Gyre's columns come from the sweep with every n interleaved; the peers and the ratio from the
  // per-n rounds interleaved with Gyre at that n.
  const perToken = new Map((results.window_flatness?.us_per_token ?? []).map((x) => [x.n, x.us_cpu]));
  for (const r of results.window) {
    const us = perToken.get(r.n) ?? r.us_per_token_cpu;
    const peer = (name) => (r.ms_cpu[name] != null ? f(r.ms_cpu[name]) : r.peer_failure[name] ? 'fails' : '—');
    const ratios = [r.ratio.tfjs, r.ratio.ort].filter((x) => x != null);
    lines.push(`| ${r.n} | ${f((us * r.n) / 1000)} | ${f(us, 3)} | ${peer('tfjs')} | ${peer('ort')} | ` +
      `${ratios.length ? `${f(Math.min(...ratios), 0)}×` : '—'} |`);
  }
  return lines.join('\n');
}

if (flag('table')) {
  console.log(markdownTables(JSON.parse(fs.readFileSync(path.join(repo, 'bench/results/attention.json'), 'utf8'))));
} else if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((error) => {
    console.error(error?.stack ?? error);
    process.exit(1);
  });
}
