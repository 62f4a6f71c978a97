// The shipped language models side by side (issue: the seed's GAU / FLASH claim measured here): for each
// model, what it cost to train (parameters, steps, characters seen, one training step's time from
// models/lm-step-times.json) and what it gives (held-out bits/char at the training length, from its
// config.json), with its forward and decoding speed in Gyre, measured here: one Node process, one
// thread, interleaved rounds (the model order rotates every round), medians of CPU time.
// Writes bench/results/lm-compare.json and prints the README's table.
//
//   npm run bench:lm-compare
//   node bench/lm-compare.mjs [--quick] [--flavour simd|relaxed] [--out FILE]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../web/lib/index.js';
import { flag, flavourOption, machineInfo, median, option } from './common.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quick = flag('quick');
const flavour = flavourOption('relaxed');
const out = option('out', path.join(repo, 'bench/results/lm-compare.json'));
const LENGTHS = [128, 512, 2048];
const DECODE_TOKENS = 128;
const LM_FAMILIES = new Set(['gau-lm', 'roformer-v2', 'flash-lm']);

const readJson = (file) => JSON.parse(fs.readFileSync(file, 'utf8'));
const names = fs.readdirSync(path.join(repo, 'models')).filter((name) => {
  const file = path.join(repo, 'models', name, 'config.json');
  return fs.existsSync(file) && LM_FAMILIES.has(readJson(file).family);
}).sort();
const stepTimesFile = path.join(repo, 'models/lm-step-times.json');
const stepTimes = fs.existsSync(stepTimesFile) ? readJson(stepTimesFile).models : {};

function cpuMilliseconds(run) {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

const engine = await createEngine({ flavour, threads: false });
const models = [];
for (const name of names) {
  const config = readJson(path.join(repo, 'models', name, 'config.json'));
  models.push({ name, config, model: await engine.loadModel(path.join(repo, 'models', name)) });
}
const text = fs.readFileSync(path.join(repo, 'models/data/austen_valid.txt'), 'utf8');

const results = {
  machine: machineInfo(), flavour, threads: 1, date: new Date().toISOString(),
  method: 'CPU-time medians over interleaved rounds (model order rotates every round); forward = logits of ' +
    'every position of n held-out characters; decode = greedy generation of ' + DECODE_TOKENS + ' tokens after a 64-character prompt',
  models: {},
};
for (const { name, config } of models) {
  const training = config.training;
  const earlier = training.initialised_from?.shipped ? null : training.initialised_from;
  results.models[name] = {
    family: config.family, normaliser: config.architecture.normaliser ?? null, parameters: config.parameters,
    steps: training.steps + (earlier?.step ?? 0), chars_seen: (training.steps + (earlier?.step ?? 0)) * training.batch * training.train_length,
    bits_per_char: training.final_valid_bits_per_char, weights_dtype: config.weights.dtype,
    train_step_ms: stepTimes[name]?.median_ms ?? null, forward_ms: {}, decode_tokens_per_s: null,
  };
}

const rounds = quick ? 3 : 9;
for (const n of LENGTHS) {
  const ids = models[0].model.encode(text.slice(0, n));
  const samples = new Map(models.map(({ name }) => [name, []]));
  const repeats = Math.max(1, Math.round(256 / n));
  for (let round = 0; round < rounds; ++round) {
    for (let i = 0; i < models.length; ++i) {
      const { name, model } = models[(i + round) % models.length];
      samples.get(name).push(cpuMilliseconds(() => { for (let r = 0; r < repeats; ++r) model.logits(ids); }) / repeats);
    }
  }
  for (const [name, times] of samples) results.models[name].forward_ms[n] = median(times);
  console.log(`forward n=${n}: ` + [...samples].map(([name, times]) => `${name} ${median(times).toFixed(1)} ms`).join(', '));
}

const prompt = text.slice(1000, 1064);
const decodeSamples = new Map(models.map(({ name }) => [name, []]));
for (let round = 0; round < (quick ? 1 : 3); ++round) {
  for (let i = 0; i < models.length; ++i) {
    const { name, model } = models[(i + round) % models.length];
    const start = process.cpuUsage();
    let tokens = 0;
    for await (const piece of model.generate(prompt, { maxTokens: DECODE_TOKENS, temperature: 0 })) tokens += piece.length > 0;
    const used = process.cpuUsage(start);
    decodeSamples.get(name).push(tokens / ((used.user + used.system) / 1e6));
  }
}
for (const [name, rates] of decodeSamples) results.models[name].decode_tokens_per_s = median(rates);

fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 1));
for (const { model } of models) model.dispose();
engine.dispose();

const fmt = (v, digits = 1) => (v == null ? '—' : v.toFixed(digits));
console.log(`\n| model | attention | parameters | steps | chars seen | train step (ms) | bits/char @128 | forward ${LENGTHS.join(' / ')} (ms) | decode (tok/s) |`);
console.log('|---|---|---|---|---|---|---|---|---|');
for (const [name, r] of Object.entries(results.models)) {
  const attention = r.family === 'flash-lm' ? 'FLASH mixed-chunk' : r.family === 'roformer-v2' ? `multi-head ${r.normaliser}` : `GAU ${r.normaliser}`;
  console.log(`| ${name} | ${attention} | ${r.parameters.toLocaleString('en')} | ${r.steps.toLocaleString('en')} | ` +
    `${(r.chars_seen / 1e6).toFixed(1)} M | ${fmt(r.train_step_ms, 0)} | ${fmt(r.bits_per_char, 3)} | ` +
    `${LENGTHS.map((n) => fmt(r.forward_ms[n])).join(' / ')} | ${fmt(r.decode_tokens_per_s, 0)} |`);
}
console.log(`\n${out}`);
