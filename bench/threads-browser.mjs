// `npm run bench:threads-browser`: GEMM on 2 threads in Chromium, Gyre against tfjs-backend-wasm,
// which runs threads only in a cross-origin-isolated page (bench/threads.mjs covers Node, where
// tfjs cannot). One page, interleaved rounds, wall-time medians, ratios as medians of per-round
// ratios.
//   node bench/threads-browser.mjs [--rounds 9] [--threads 2] [--page-cores 2T] [--out FILE]
// The page is served with COOP/COEP by a small server here (it maps the npm packages' dist folders);
// Chromium is Debian's, driven by playwright-core. Gyre: the public API, `kernels.linear` (B packed
// once; each call copies A in and C out into the same array, apply(a, rows, out)) on the
// single-thread build and on the threaded build with
// T threads. tfjs-backend-wasm: `tf.matMul` on tensors already in its memory (no read-back), after
// `setThreadsCount(T)`; its thread count is read back with `getThreadsCount()`, not assumed (see
// --page-cores below for why the page is told of more cores than it has).
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { machineInfo, option } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const rounds = Number(option('rounds', 9));
const threads = Number(option('threads', 2));
const pageCores = Number(option('page-cores', 2 * threads));
const outFile = path.resolve(root, option('out', 'bench/results/threads-browser.json'));

const mounts = {
  '/lib/': path.join(root, 'web/lib/'),
  '/tfjs-core/': path.join(root, 'node_modules/@tensorflow/tfjs-core/dist/'),
  '/tfjs-wasm/': path.join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/'),
};
const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };

const page = `<!doctype html><meta charset="utf-8"><title>threads bench</title>
<script src="/tfjs-core/tf-core.min.js"></script>
<script src="/tfjs-wasm/tf-backend-wasm.min.js"></script>
<script type="module">
import { createEngine } from '/lib/index.js';

function randomArray(n, seed) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; ++i) { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; out[i] = s / 2147483648 - 1; }
  return out;
}
const median = (v) => { const s = [...v].sort((a, b) => a - b), m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
// Milliseconds per call: repeated until 150 ms have passed (at least 2 calls).
function time(run) {
  const start = performance.now();
  let calls = 0;
  do { run(); ++calls; } while (calls < 2 || performance.now() - start < 150);
  return (performance.now() - start) / calls;
}

window.runBench = async ({ rounds, threads }) => {
  tf.wasm.setWasmPaths('/tfjs-wasm/');
  tf.wasm.setThreadsCount(threads);
  await tf.setBackend('wasm');
  await tf.ready();
  const single = await createEngine({ threads: false });
  const multi = await createEngine({ threads });
  const result = {
    crossOriginIsolated, hardwareConcurrency: navigator.hardwareConcurrency,
    tfjsThreads: tf.wasm.getThreadsCount(), tfjsMultithreadSupport: await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
    gyreThreads: multi.features.threads,
    gyreFlavours: [single.features.flavour, multi.features.flavour], cases: [],
  };
  for (const size of [512, 1024]) {
    const a = randomArray(size * size, 3), b = randomArray(size * size, 5);
    const layers = [single, multi].map((engine) => engine.kernels.linear(b, { in: size, out: size }));
    const ta = tf.tensor2d(a, [size, size]), tb = tf.tensor2d(b, [size, size]);
    const reference = tf.matMul(ta, tb).dataSync();
    const outputs = layers.map((layer) => layer.apply(a, size));
    let worst = 0, largest = 0;
    for (const out of outputs) for (let i = 0; i < out.length; ++i) {
      worst = Math.max(worst, Math.abs(out[i] - reference[i])); largest = Math.max(largest, Math.abs(reference[i]));
    }
    if (worst > 1e-4 * largest) throw new Error(size + ': Gyre and tfjs differ by ' + worst);
    if (!outputs[0].every((v, i) => v === outputs[1][i])) throw new Error(size + ': threaded Gyre differs from one thread');
    const outs = layers.map(() => new Float32Array(size * size));
    const runners = {
      gyre1: () => layers[0].apply(a, size, outs[0]), gyreT: () => layers[1].apply(a, size, outs[1]),
      tfjs: () => tf.matMul(ta, tb).dispose(),
    };
    const times = { gyre1: [], gyreT: [], tfjs: [] }, speedUp = [], tfjsOverGyre = [];
    for (const run of Object.values(runners)) time(run);  // warm-up
    for (let round = 0; round < rounds; ++round) {
      const order = Object.keys(runners);
      if (round % 2) order.reverse();
      const t = {};
      for (const name of order) t[name] = time(runners[name]);
      for (const name of order) times[name].push(t[name]);
      speedUp.push(t.gyre1 / t.gyreT);
      tfjsOverGyre.push(t.tfjs / t.gyreT);
    }
    result.cases.push({
      case: 'GEMM ' + size + '³', maxAbsDifferenceToTfjs: worst,
      ms: Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)])),
      speedUp: median(speedUp), tfjsOverGyre: median(tfjsOverGyre),
    });
    ta.dispose(); tb.dispose();
    for (const layer of layers) layer.dispose();
  }
  single.dispose();
  multi.dispose();
  return result;
};
window.benchReady = true;
</script>`;

const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://localhost');
  const headers = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };
  if (url.pathname === '/') {
    response.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
    response.end(page);
    return;
  }
  const mount = Object.keys(mounts).find((prefix) => url.pathname.startsWith(prefix));
  const file = mount && path.resolve(mounts[mount], '.' + decodeURIComponent(url.pathname.slice(mount.length - 1)));
  if (!file || !file.startsWith(mounts[mount]) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
    response.writeHead(404, headers);
    response.end();
    return;
  }
  response.writeHead(200, { ...headers, 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' });
  fs.createReadStream(file).pipe(response);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'gyre-bench-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.GYRE_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const tab = await browser.newPage();
  // tfjs-backend-wasm preallocates hardwareConcurrency / 2 pthread workers and runs no more threads
  // than that, whatever setThreadsCount asks: on a 2-core machine, 1. The page is told it has
  // 2 × T cores so that tfjs can run the T threads asked for (Gyre takes its count from createEngine).
  await tab.addInitScript((n) => Object.defineProperty(navigator, 'hardwareConcurrency', { get: () => n }), pageCores);
  tab.on('pageerror', (error) => console.error('page error:', error.message));
  await tab.goto(`http://127.0.0.1:${server.address().port}/`);
  await tab.waitForFunction(() => window.benchReady === true);
  const result = await tab.evaluate((options) => window.runBench(options), { rounds, threads });
  if (!result.crossOriginIsolated) throw new Error('the page is not cross-origin isolated: no threads');
  if (result.tfjsThreads !== threads || result.gyreThreads !== threads) {
    throw new Error(`asked for ${threads} threads: tfjs runs ${result.tfjsThreads}, Gyre ${result.gyreThreads}`);
  }
  console.log(`Chromium ${browser.browser()?.version() ?? ''}; tfjs threads ${result.tfjsThreads} (multithread support ${result.tfjsMultithreadSupport}), Gyre threads ${result.gyreThreads} (${result.gyreFlavours.join(' / ')})`);
  console.log('| case | Gyre 1 thread ms | Gyre ' + threads + ' threads ms | speed-up | tfjs ' + threads + ' threads ms | tfjs / Gyre |');
  console.log('|---|---|---|---|---|---|');
  for (const c of result.cases) {
    console.log(`| ${c.case} | ${c.ms.gyre1.toFixed(1)} | ${c.ms.gyreT.toFixed(1)} | ${c.speedUp.toFixed(2)}× | ${c.ms.tfjs.toFixed(1)} | ${c.tfjsOverGyre.toFixed(2)}× |`);
  }
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, JSON.stringify({
    benchmark: 'threads-browser', date: new Date().toISOString(), threads, rounds, pageCores, machine: machineInfo(), ...result,
  }, null, 1));
  console.log(`wrote ${path.relative(root, outFile)}`);
} finally {
  await browser.close();
  fs.rmSync(profile, { recursive: true, force: true });
  server.close();
}
