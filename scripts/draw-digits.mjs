// Draws digits through the public API, for models/train/evaluate_ddpm.py --from-engine to judge:
//   node scripts/draw-digits.mjs [--model models/ddpm-digits] [--count 256] [--seed 7] [--out DIR]
//        [--samplers ddim-50,ddim-10,strided-50-eta1,strided-10-eta1,ancestral-1000]
//        [--label each|any|none] [--guidance W]
// Five samplers from the same seed: strided DDIM with 50 and 10 steps (eta 0), the same strides with
// fresh noise at every step (eta 1: strided DDPM) and ancestral sampling over all 1000 steps (sigma =
// beta). A class-conditional model is asked for digit i mod 10 for image i (--label each, the
// default), for a digit drawn at random from the seed (--label any, the API's default; names end in
// ", any digit") or for its any-class row (--label none: label null; names end in ", any-class
// row"). --guidance W guides towards the asked digit (classifier-free guidance, a second network call
// per step; names end in ", guidance W"). Each writes count × 28 × 28 little-endian float32 values in
// [-1, 1]; manifest.json names the files and the digits asked for.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../web/lib/index.js';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/ddpm-digits' },
    count: { type: 'string', default: '256' },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'test-output/digits' },
    samplers: { type: 'string', default: 'ddim-50,ddim-10,strided-50-eta1,strided-10-eta1,ancestral-1000' },
    label: { type: 'string', default: 'each' },
    guidance: { type: 'string', default: '1' },
  },
});
const guidance = Number(values.guidance);
if (!['each', 'any', 'none'].includes(values.label)) throw new Error('--label: each, any or none');
const count = Number(values.count), seed = Number(values.seed);
const allSamplers = [
  { sampler: 'strided DDIM, 50 steps, eta 0', file: 'ddim-50.f32', options: { method: 'ddim', steps: 50 } },
  { sampler: 'strided DDIM, 10 steps, eta 0', file: 'ddim-10.f32', options: { method: 'ddim', steps: 10 } },
  { sampler: 'strided DDPM, 50 steps, eta 1', file: 'strided-50-eta1.f32', options: { method: 'ddim', steps: 50, eta: 1 } },
  { sampler: 'strided DDPM, 10 steps, eta 1', file: 'strided-10-eta1.f32', options: { method: 'ddim', steps: 10, eta: 1 } },
  { sampler: 'ancestral, 1000 steps, sigma = beta', file: 'ancestral-1000.f32', options: { method: 'ancestral' } },
];
const chosen = values.samplers.split(',');
const samplers = allSamplers.filter(({ file }) => chosen.includes(file.replace('.f32', '')));
if (samplers.length !== chosen.length) throw new Error(`--samplers: choose from ${allSamplers.map(({ file }) => file.replace('.f32', '')).join(', ')}`);

const engine = await createEngine();
const model = await engine.loadModel(path.resolve(values.model));
fs.mkdirSync(values.out, { recursive: true });
const classes = model.info.classes;
const label = { each: Array.from({ length: count }, (_, i) => i % Math.max(1, classes)), any: 'random', none: null }[values.label];
const suffix = (classes > 0 ? { each: '', any: ', any digit', none: ', any-class row' }[values.label] : '')
  + (guidance !== 1 ? `, guidance ${guidance}` : '');
const manifest = {
  engine: `gyre ${engine.features.flavour}, ${engine.features.threads} thread(s)`, model: values.model, count, seed,
  label: values.label, samples: [],
};
for (const { sampler, file, options } of samplers) {
  const started = performance.now();
  const { images, labels } = await model.sample({ count, seed, label: classes > 0 ? label : 'random', guidance, ...options });
  fs.writeFileSync(path.join(values.out, file), Buffer.from(images.buffer, images.byteOffset, images.byteLength));
  const asked = labels && labels.every((digit) => digit >= 0) ? Array.from(labels) : null;
  manifest.samples.push({ sampler: sampler + suffix, file, asked, seconds: (performance.now() - started) / 1000 });
  console.log(`${sampler}: ${count} digits in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
fs.writeFileSync(path.join(values.out, 'manifest.json'), JSON.stringify(manifest, null, 1));
model.dispose();
engine.dispose();
