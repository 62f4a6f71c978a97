// flash-lm against gau-lm-softmax-plus in the engine: the time of a forward pass (logits of every
// position) against the length n, to show where FLASH's linear cost overtakes full attention's
// quadratic one. Both models have six layers and about 1M parameters (hidden 160, e 320, s 64);
// gau-lm attends over every earlier key (full causal attention), flash-lm quadratically inside chunks
// of 32 and linearly across them. One Node process, public JS API, one thread, interleaved rounds
// (order alternating), medians of CPU and wall time. Writes bench/results/flash-lm.json.
//
//   npm run bench:flash-lm
//   node --no-experimental-fetch bench/flash-lm.mjs [--quick] [--lengths 256,512,...] [--out FILE]
//     [--flavour simd|relaxed]
//
// A round repeats a case under 100 ms until it has run for about 100 ms; cases over 5 s run 3
// rounds instead of the usual 7 (each is then a single call).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createEngine } from '../web/lib/index.js';
import { flag, flavourOption, machineInfo, median, option } from './common.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = flag('quick');
const flavour = flavourOption('simd');
const outFile = path.resolve(repo, option('out', `bench/results/flash-lm${flavour === 'simd' ? '' : `-${flavour}`}.json`));
const lengths = option('lengths', '128,256,512,1024,2048,4096,8192,16384').split(',').map(Number);
const MODELS = { flash: 'flash-lm', gau: 'gau-lm-softmax-plus' };

async function timeRuns(run, repeats) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < repeats; ++i) run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall: wall / repeats, cpu: (c.user + c.system) / 1000 / repeats };
}

async function compare(runners) {
  const repeats = {};
  let slowest = 0;
  for (const [name, run] of Object.entries(runners)) {
    const t0 = performance.now();
    let runs = 0;
    for (; runs < 1 || performance.now() - t0 < 300; ++runs) run();  // warm-up
    const each = (performance.now() - t0) / runs;
    repeats[name] = Math.max(1, Math.round(100 / each));
    slowest = Math.max(slowest, each);
  }
  const rounds = quick ? 2 : slowest > 5000 ? 3 : 7;
  const names = Object.keys(runners);
  const samples = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; ++round) {
    for (const name of round % 2 ? [...names].reverse() : names) samples[name].push(await timeRuns(runners[name], repeats[name]));
  }
  return Object.fromEntries(names.map((name) => [name, {
    wall: median(samples[name].map((s) => s.wall)), cpu: median(samples[name].map((s) => s.cpu)), repeats: repeats[name], rounds,
  }]));
}

function heldoutIds(lm, n) {
  const source = fs.readFileSync(path.join(repo, 'web', 'demos', 'data', 'heldout-austen.txt'), 'utf8');
  let text = '';
  while (text.length < n) text += source;
  return lm.encode([...text].slice(0, n).join(''));
}

async function main() {
  const engine = await createEngine({ simd: true, relaxed: flavour === 'relaxed', threads: false });
  const flash = await engine.loadModel(path.join(repo, 'models', MODELS.flash));
  const gau = await engine.loadModel(path.join(repo, 'models', MODELS.gau));
  const flashConfig = JSON.parse(fs.readFileSync(path.join(repo, 'models', MODELS.flash, 'config.json'), 'utf8'));
  const results = {
    benchmark: 'flash-lm forward time against length',
    date: new Date().toISOString(),
    machine: machineInfo(),
    engine: { flavour: engine.features.flavour, threads: 1, version: engine.features.version },
    models: {
      [MODELS.flash]: { parameters: flash.info.parameters, chunk: flash.info.chunk, steps: flashConfig.training.steps },
      [MODELS.gau]: { parameters: gau.info.parameters, attention: 'full causal (as trained)' },
    },
    method: 'logits of every position through the public API (lm.logits); one thread; interleaved rounds; medians; ratio = gau / flash CPU time (above 1: FLASH faster)',
    cases: [],
  };
  console.log(`| n | ${MODELS.flash} (ms) | ${MODELS.gau} (ms) | gau / flash |\n|---|---|---|---|`);
  for (const n of lengths) {
    const ids = heldoutIds(flash, n);
    const med = await compare({ flash: () => flash.logits(ids), gau: () => gau.logits(ids) });
    const row = { n, flash: med.flash, gau: med.gau, ratio: med.gau.cpu / med.flash.cpu };
    results.cases.push(row);
    console.log(`| ${n} | ${row.flash.cpu.toFixed(1)} | ${row.gau.cpu.toFixed(1)} | ${row.ratio.toFixed(2)}× |`);
  }
  // The shortest length from which flash-lm is more than 5 % faster at every longer length measured.
  const notFaster = results.cases.filter((c) => c.ratio <= 1.05).map((c) => c.n);
  const from = results.cases.find((c) => c.n > Math.max(0, ...notFaster));
  results.crossover = from ? `flash-lm is faster from n = ${from.n} on (${from.ratio.toFixed(2)}×; within 5 % below)` : 'not reached on the lengths measured';
  console.log(`\n${results.crossover}`);
  flash.dispose();
  gau.dispose();
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 1)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), outFile)}`);
}

await main();
