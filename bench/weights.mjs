// What int8 weights cost at run time. The engine dequantises I8 weights when it loads them
// (engine/io/safetensors.h), so a model decodes from the same f32 weights as from an F32 file: this
// checks that (the logits of the shipped int8 model and of an F32 file of its dequantised values are
// identical) and times load and decoding of both, interleaved, on one thread.
//   npm run bench:weights [-- --tokens 200 --rounds 7 --flavour simd --out bench/results/weights.json]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEngine } from '../web/lib/index.js';
import { flavourOption, machineInfo, median, option } from './common.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const tokens = Number(option('tokens', '200'));
const rounds = Number(option('rounds', '7'));
const flavour = flavourOption('simd');
const out = option('out', 'bench/results/weights.json');

/** safetensors bytes of {name: {shape, data: Float32Array}} in F32. */
function f32File(tensors) {
  const header = {};
  let offset = 0;
  for (const [name, { shape, data }] of tensors) {
    header[name] = { dtype: 'F32', shape, data_offsets: [offset, offset + 4 * data.length] };
    offset += 4 * data.length;
  }
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(text);
  const file = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  file.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const [, { data }] of tensors) {
    file.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
    at += data.byteLength;
  }
  return file;
}

async function decode(lm) {
  const started = performance.now();
  let count = 0;
  for await (const piece of lm.generate('It is a truth universally acknowledged', { maxTokens: tokens, seed: 1 })) count += [...piece].length;
  return { text: count, tokensPerSecond: tokens / ((performance.now() - started) / 1000) };
}

const engine = await createEngine({ simd: true, relaxed: flavour === 'relaxed', threads: false });
const rows = [];
for (const name of fs.readdirSync(path.join(root, 'models')).sort()) {
  const dir = path.join(root, 'models', name);
  if (!fs.existsSync(path.join(dir, 'config.json'))) continue;
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  if (config.family === 'ddpm-unet' || config.weights.dtype !== 'I8') continue;
  const int8Bytes = fs.readFileSync(path.join(dir, 'model.safetensors'));
  const { tensors } = await engine.loadSafetensors(int8Bytes);
  const f32Bytes = f32File([...tensors].filter(([key]) => !key.endsWith('.quant_scale')));
  const variants = {
    int8: { config, weights: int8Bytes },
    // The SHA-256 in config.json is the int8 file's: the F32 file built here has none.
    F32: { config: { ...config, weights: { ...config.weights, dtype: 'F32', sha256: undefined } }, weights: f32Bytes },
  };
  const times = { int8: { load: [], decode: [] }, F32: { load: [], decode: [] } };
  let identical = null;
  for (let round = 0; round < rounds; ++round) {
    const order = round % 2 ? ['F32', 'int8'] : ['int8', 'F32'];
    const logits = {};
    for (const key of order) {
      const started = performance.now();
      const lm = await engine.loadModel(variants[key]);
      times[key].load.push(performance.now() - started);
      if (round === 0) logits[key] = lm.logits('It is a truth universally acknowledged');
      times[key].decode.push((await decode(lm)).tokensPerSecond);
      lm.dispose();
    }
    if (round === 0) identical = logits.int8.length === logits.F32.length && logits.int8.every((v, i) => Object.is(v, logits.F32[i]));
  }
  const row = {
    model: name, bytes: { int8: int8Bytes.length, F32: f32Bytes.length }, identicalLogits: identical,
    loadMs: { int8: median(times.int8.load), F32: median(times.F32.load) },
    tokensPerSecond: { int8: median(times.int8.decode), F32: median(times.F32.decode) },
  };
  row.decodeRatio = row.tokensPerSecond.int8 / row.tokensPerSecond.F32;
  rows.push(row);
  console.log(`${name.padEnd(20)} ${(row.bytes.int8 / 1e6).toFixed(2)} MB int8 vs ${(row.bytes.F32 / 1e6).toFixed(2)} MB F32; ` +
    `logits identical: ${identical}; load ${row.loadMs.int8.toFixed(0)} vs ${row.loadMs.F32.toFixed(0)} ms; ` +
    `decode ${row.tokensPerSecond.int8.toFixed(0)} vs ${row.tokensPerSecond.F32.toFixed(0)} tokens/s (int8/F32 ${row.decodeRatio.toFixed(3)}), medians of ${rounds}`);
}
engine.dispose();
fs.writeFileSync(path.resolve(root, out), JSON.stringify({ benchmark: 'weights', date: new Date().toISOString(),
  machine: machineInfo(), flavour, tokens, rounds, rows }, null, 1));
console.log(`wrote ${out}`);
