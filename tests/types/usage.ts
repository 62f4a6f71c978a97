// How a TypeScript user calls Gyre, checked against the hand-written declarations (web/lib/index.d.ts,
// web/lib/elements/index.d.ts) by `tsc --noEmit --strict` (tests/js/types.test.mjs). Imports go
// through the package's own name, so the `exports` map's "types" conditions are checked too. The
// `@ts-expect-error` lines are misuses the declarations must reject. Never run, only type-checked.
import {
  AbortedError, BadArgumentError, type DiffusionModel, ERROR_CODES, type Engine, type ErrorCode, GyreError,
  type LanguageModel, type WorkerEngine, clearModelCache, createEngine, errorFromCode, fetchBytes,
  fetchBytesCached, relaxedSimdSupported, simdSupported, threadsSupported,
} from 'gyre';
import {
  type GyreDiffusion, type GyreGenerate, configure, hubStatus, restartEngine,
} from 'gyre/elements';

const controller = new AbortController();
const engine: Engine = await createEngine({
  simd: 'auto', relaxed: false, threads: 'auto', signal: controller.signal,
  wasmUrl: (flavour) => new URL(`./wasm/gyre-${flavour}.wasm`, import.meta.url),
  onProgress: ({ loaded, total }) => console.log(loaded / total),
});
const flags: boolean[] = [simdSupported(), relaxedSimdSupported(), threadsSupported()];
const threads: number = engine.features.threads;
console.log(flags, threads, engine.features.flavour, engine.heapBytes, engine.wasmUrl);

// Kernels on Float32Arrays.
const a = new Float32Array(64 * 32);
const b = new Float32Array(32 * 16);
const c: Float32Array = engine.kernels.gemm(a, b, { m: 64, n: 16, k: 32, activation: 'gelu', bias: null });
const { out, entropy } = engine.kernels.attention(a, a, a,
  { queries: 32, headDim: 64, mask: 'causal-window', window: 8, normaliser: 'softmax_plus', entropy: true });
const entropyOrNothing: Float32Array | undefined = entropy;
const stepped: Promise<{ out: Float32Array; entropy?: Float32Array }> = engine.kernels.attention(a, a, a,
  { queries: 32, headDim: 64, signal: new AbortController().signal, onProgress: ({ done, total }) => done / total });
const steppedWeights: Promise<Float32Array> = engine.kernels.attentionWeights(a, a, { queries: 32, headDim: 64, onProgress: () => {} });
const layer = engine.kernels.linear(b, { in: 32, out: 16, transposeB: false, activation: 'relu' });
const y: Float32Array = layer.apply(a);
layer.dispose();
const decoder = engine.kernels.flashDecoder({ qkDim: 8, valueDim: 8 });
const step: Float32Array = decoder.step(a, a, a, a, a);
const tokensSeen: number = decoder.length;
decoder.dispose();
const rotated: Float32Array = engine.rope(a, { headDim: 64, position: 3, layout: 'half-split' });
console.log(c, out, entropyOrNothing, y, step, tokensSeen, rotated);
// @ts-expect-error: gemm needs its sizes
engine.kernels.gemm(a, b);
// @ts-expect-error: no such normaliser
engine.kernels.attention(a, a, a, { queries: 1, headDim: 64, normaliser: 'sparsemax' });

// Files and models.
const file = await engine.loadSafetensors(new Uint8Array(8), { signal: controller.signal });
for (const [name, tensor] of file.tensors) console.log(name, tensor.dtype, tensor.shape, tensor.data.length);
const model = await engine.loadModel('models/gau-lm-softmax', { cache: true, onProgress: (p) => console.log(p.cached) });
if (model instanceof Object && 'generate' in model) {
  const lm: LanguageModel = model;
  const ids: Int32Array = lm.encode('hello');
  const text: string = lm.decode(ids);
  const { bitsPerChar } = lm.evaluate(text, { attention: 'local', window: 64 });
  const { weights, rows, keys } = lm.attentionWeights(ids, { layer: 0, head: 1, logn: true });
  for await (const piece of lm.generate('Once', { maxTokens: 20, temperature: 0.8, topK: 40, seed: 1 })) {
    const chunk: string = piece;
    console.log(chunk);
  }
  const wide: LanguageModel = lm.widen(2, { exactRope: true });
  const difference: number = wide.verify('abc');
  console.log(bitsPerChar, weights, rows, keys, difference, lm.info.normaliser);
  // @ts-expect-error: generate yields strings, not token ids
  const notIds: number[] = await lm.generate('x').next();
  console.log(notIds);
} else {
  const diffusion: DiffusionModel = model;
  const { images, count } = await diffusion.sample({
    count: 4, method: 'ddim', stride: 20, eta: 0, seed: 7, onStep: ({ step: s, totalSteps }) => console.log(s / totalSteps),
  });
  const eps: Float32Array = diffusion.predictNoise(images, [10, 20, 30, 40]);
  console.log(count, eps, diffusion.info.imageSize);
}
engine.dispose();

// The same engine in a Web Worker: every method returns a Promise.
const remote: WorkerEngine = await createEngine({ worker: true, wasmUrl: { simd: '/simd.wasm', scalar: '/scalar.wasm' } });
const product: Float32Array = await remote.kernels.gemm(a, b, { m: 64, n: 16, k: 32 });
const inWorker: true = remote.inWorker;
console.log(product, inWorker);
remote.terminate();

// Errors: one class per code.
try {
  await fetchBytes('https://example.com/model.safetensors', { what: 'weights', signal: controller.signal });
  const cached = await fetchBytesCached(new URL('https://example.com/config.json'), { cache: 'gyre-models' });
  console.log(cached.cached, await clearModelCache('gyre-models'));
} catch (error) {
  if (error instanceof BadArgumentError) {
    const code: 'BAD_ARGUMENT' = error.code;
    console.log(code);
  } else if (error instanceof AbortedError || error instanceof GyreError) {
    const code: ErrorCode = error.code;
    console.log(code, error.url);
  }
}
const codes: readonly ErrorCode[] = ERROR_CODES;
const made: GyreError = errorFromCode('TOO_LARGE', 'too large');
// @ts-expect-error: not an error code
const wrong: ErrorCode = 'TOO_BIG';
console.log(codes, made, wrong);

// The custom elements.
configure({ worker: true, workerUrl: '/worker.js', wasmUrl: { simd: '/gyre-simd.wasm' } });
const generator: GyreGenerate = document.createElement('gyre-generate');
generator.addEventListener('gyre-token', (event) => console.log(event.detail.piece, event.detail.count));
const result = await generator.run();
if (result) console.log(result.text, result.tokensPerSecond);
const lab = document.querySelector('gyre-diffusion');
const diffusionElement: GyreDiffusion | null = lab;
console.log(diffusionElement?.settings.method, hubStatus().users);
await restartEngine();
