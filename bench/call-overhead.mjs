#!/usr/bin/env node
// Per-call cost of crossing from JS into the engine through Embind, for one or more builds of the
// glue (e.g. before and after a change of link flags), in one process, interleaved: every round
// times each case on each build in turn, so machine load hits all of them alike. Prints the median
// nanoseconds per call and each build's ratio to the first.
//   node --no-experimental-fetch bench/call-overhead.mjs [glue.js ...] [--rounds 15] [--calls 200000]
// Default glue: web/lib/wasm/gyre-simd.js. Each glue's .wasm must sit next to it, and the folder must
// say "type": "module" (a package.json) when it is outside the repository.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

import { callBinding } from '../web/lib/binding.js';
import { option } from './common.mjs';

// The cases (every binding returns a { ok, value } object): no argument; two ints; three numbers
// (exp of 16 floats); eleven numbers (a 1x4x4 GEMM); fourteen (attention of one 4-wide query, the
// most arguments a binding takes); and one call the way web/lib makes it, through callBinding,
// which unwraps { ok, value }.
const CASES = {
  'kernelAttentionWorkspaceBytes()': ({ module }) => () => module.kernelAttentionWorkspaceBytes(),
  'kernelGemmPackedSize(64, 64)': ({ module }) => () => module.kernelGemmPackedSize(64, 64),
  'kernelExp(x, y, 16)': ({ module, x, y }) => () => module.kernelExp(x, y, 16),
  'kernelGemm(1, 4, 4, ... 11 args)': ({ module, x, y, z }) => () => module.kernelGemm(1, 4, 4, x, 4, y, 4, z, 4, 0, 0),
  'kernelAttention(1, 1, ... 14 args)': ({ module, x, y, z }) => () =>
    module.kernelAttention(1, 1, 1, 4, 4, 0, 0, 0, 0.5, x, y, y, z, 0),
  'callBinding(kernelGemmPackedSize)': ({ module }) => () => callBinding(module, 'kernelGemmPackedSize', 64, 64),
};

// Each build runs in its own worker thread (its own V8 isolate), so that one glue's JIT feedback
// cannot slow down the other's; the main thread asks them in turn.
async function serveBuild({ path, calls }) {
  const glue = resolve(path);
  const bytes = await readFile(glue.replace(/\.js$/, '.wasm'));
  const factory = (await import(pathToFileURL(glue).href)).default;
  const module = await factory({
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(bytes, imports).then(({ instance, module: compiled }) => receive(instance, compiled));
      return {};
    },
  });
  const x = module._malloc(64);
  const y = module._malloc(64);
  const z = module._malloc(64);
  module.HEAPF32.fill(0.5, x >> 2, (x >> 2) + 16);
  module.HEAPF32.fill(0.25, y >> 2, (y >> 2) + 16);
  const callers = Object.fromEntries(Object.entries(CASES).map(([name, make]) => [name, make({ module, x, y, z })]));
  for (const [name, call] of Object.entries(callers)) {
    const result = call();
    if (result?.ok === false) throw new Error(`${name} failed: ${result.code}: ${result.message}`);
  }
  parentPort.on('message', (name) => {
    const call = callers[name];
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) call();
    parentPort.postMessage(Number(process.hrtime.bigint() - start) / calls);
  });
  parentPort.postMessage('ready');
}

async function main() {
  const rounds = Number(option('rounds', 15));
  const calls = Number(option('calls', 200_000));
  const paths = process.argv.slice(2).filter((arg, i, all) => !arg.startsWith('--') && !all[i - 1]?.startsWith('--'));
  if (paths.length === 0) paths.push('web/lib/wasm/gyre-simd.js');
  const builds = [];
  for (const path of paths) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { path, calls } });
    await new Promise((ready, fail) => { worker.once('message', ready); worker.once('error', fail); });
    builds.push({ path, worker });
  }
  const ask = (build, name) => new Promise((done) => { build.worker.once('message', done); build.worker.postMessage(name); });
  const samples = Object.fromEntries(Object.keys(CASES).map((name) => [name, builds.map(() => [])]));
  for (const name of Object.keys(CASES)) for (const build of builds) await ask(build, name);  // warm up
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(CASES)) {
      const order = round % 2 ? builds.map((_, i) => builds.length - 1 - i) : builds.map((_, i) => i);
      for (const b of order) samples[name][b].push(await ask(builds[b], name));
    }
  }
  for (const build of builds) await build.worker.terminate();
  const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];
  console.log(`call overhead, ns per call, median of ${rounds} rounds of ${calls} calls`);
  builds.forEach((build, b) => console.log(`  [${b}] ${build.path}`));
  for (const name of Object.keys(CASES)) {
    const medians = samples[name].map(median);
    const cells = medians.map((m, b) => `[${b}] ${m.toFixed(1)}${b ? ` (${(m / medians[0]).toFixed(2)}x)` : ''}`);
    console.log(`  ${name.padEnd(34)} ${cells.join('   ')}`);
  }
}

if (isMainThread) await main();
else await serveBuild(workerData);
