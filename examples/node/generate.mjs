#!/usr/bin/env node
// Gyre headless in Node: load the engine from the installed package, run a kernel, and generate
// text from a model directory given by path.
//   npm install gyre        (or the tarball of `npm pack`)
//   node generate.mjs <model directory> ["prompt"] [max tokens]
// e.g. node generate.mjs node_modules/../models/gau-lm-softmax-plus "It is a truth" 80
// Node 20 needs --no-experimental-fetch only for Emscripten's own loader, which Gyre does not use.
import { GyreError, createEngine } from 'gyre';

const [modelDir, prompt = 'It is a truth universally acknowledged', maxTokens = '80'] = process.argv.slice(2);
if (!modelDir) {
  console.error('usage: node generate.mjs <model directory> ["prompt"] [max tokens]');
  process.exit(2);
}

try {
  const engine = await createEngine();
  console.log(`engine: ${engine.features.flavour} build, version ${engine.features.version}`);

  // A raw kernel: C = A·B for A [2 × 3] and B [3 × 2].
  const c = engine.kernels.gemm(new Float32Array([1, 2, 3, 4, 5, 6]), new Float32Array([1, 0, 0, 1, 1, 1]),
    { m: 2, n: 2, k: 3 });
  console.log(`gemm: [${Array.from(c).join(', ')}]`);

  const lm = await engine.loadModel(modelDir);
  let text = '';
  for await (const piece of lm.generate(prompt, { maxTokens: Number(maxTokens), temperature: 0.8, topK: 40, seed: 1 })) {
    text += piece;
  }
  console.log(`generated: ${JSON.stringify(prompt + text)}`);
  lm.dispose();
} catch (error) {
  // Every failure is a GyreError with a stable code (NOT_FOUND, BAD_MODEL, ...).
  console.error(error instanceof GyreError ? `${error.code}: ${error.message}` : error);
  process.exit(1);
}
