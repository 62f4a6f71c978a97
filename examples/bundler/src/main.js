// A small browser app that imports Gyre from npm and is built by a bundler (esbuild or Vite): it
// starts the engine in a Web Worker, runs a kernel, and generates text from a model by URL.
//
// Vite finds the library's .wasm files and its worker by itself (they are referenced with
// new URL(..., import.meta.url)). esbuild does not follow those references, so build-esbuild.mjs
// copies the .wasm files, bundles the worker as a second entry point, and passes their URLs in
// through `define` as GYRE_ASSETS ({} under Vite).
import { GyreError, createEngine } from 'gyre';

/* global GYRE_ASSETS */
const params = new URLSearchParams(location.search);
const modelUrl = new URL(params.get('model') ?? 'models/gau-lm-softmax-plus/', location.href);
const show = (id, text) => { document.getElementById(id).textContent = text; };

try {
  const engine = await createEngine({ worker: true, ...GYRE_ASSETS });
  show('engine', `${engine.features.flavour} build, version ${engine.features.version}`);

  const c = await engine.kernels.gemm(new Float32Array([1, 2, 3, 4, 5, 6]),
    new Float32Array([1, 0, 0, 1, 1, 1]), { m: 2, n: 2, k: 3 });
  show('gemm', `[${Array.from(c).join(', ')}]`);

  const lm = await engine.loadModel(modelUrl.href);
  let text = 'It is a truth';
  // From a worker engine, generate() resolves to the async iterator (every method returns a promise).
  for await (const piece of await lm.generate(text, { maxTokens: 40, temperature: 0.8, seed: 1 })) text += piece;
  show('text', text);
  await lm.dispose();
  document.body.dataset.state = 'done';
} catch (error) {
  show('text', error instanceof GyreError ? `${error.code}: ${error.message}` : String(error));
  document.body.dataset.state = 'error';
}
