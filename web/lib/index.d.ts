// Types of Gyre's public JS API (web/lib/index.js).

export type ErrorCode =
  | 'BAD_MODEL' | 'UNSUPPORTED_DTYPE' | 'TOO_LARGE' | 'OUT_OF_MEMORY' | 'NOT_WASM' | 'NOT_FOUND'
  | 'BAD_ARGUMENT' | 'ABORTED' | 'NETWORK' | 'UNSUPPORTED' | 'INTERNAL';

export interface GyreErrorOptions { cause?: unknown; url?: string | URL }

/** Base class of every error Gyre throws; `code` is stable, `url` is set when a URL is at fault. */
export class GyreError extends Error {
  constructor(code: ErrorCode, message: string, options?: GyreErrorOptions);
  readonly code: ErrorCode;
  readonly url?: string;
}
export class BadModelError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'BAD_MODEL' }
export class UnsupportedDtypeError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'UNSUPPORTED_DTYPE' }
export class TooLargeError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'TOO_LARGE' }
export class OutOfMemoryError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'OUT_OF_MEMORY' }
export class NotWasmError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'NOT_WASM' }
export class NotFoundError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'NOT_FOUND' }
export class BadArgumentError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'BAD_ARGUMENT' }
export class AbortedError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'ABORTED' }
export class NetworkError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'NETWORK' }
export class UnsupportedError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'UNSUPPORTED' }
export class InternalError extends GyreError { constructor(message: string, options?: GyreErrorOptions); readonly code: 'INTERNAL' }

export const ERROR_CODES: readonly ErrorCode[];
export function errorFromCode(code: string, message: string, options?: GyreErrorOptions): GyreError;

export type Flavour = 'relaxed' | 'simd' | 'scalar' | 'relaxed-threads' | 'simd-threads';
export interface Progress { loaded: number; total: number }

export interface CreateEngineOptions {
  /** 'auto' (default): SIMD128 when the runtime supports it, else scalar. */
  simd?: 'auto' | boolean;
  /** 'auto' (default): the relaxed-SIMD (fused multiply-add) binary where the runtime runs it. */
  relaxed?: 'auto' | boolean;
  /** Where the .wasm is; default `new URL('./wasm/gyre-<flavour>.wasm', import.meta.url)`. */
  wasmUrl?: string | URL | { [flavour in Flavour]?: string | URL } | ((flavour: Flavour) => string | URL);
  /**
   * 'auto' (default): the threaded build on one thread per core (at most 8) where the runtime
   * shares wasm memory between threads (Node; a cross-origin isolated page), else one thread. A
   * number: exactly that many (UnsupportedError where threads cannot run). false or 1: one thread.
   */
  threads?: 'auto' | number | false;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /**
   * true: run the engine in a module Web Worker (browsers). The page never freezes; every method of
   * the engine, its kernels and its models then returns a Promise, and data properties are snapshots.
   * Resolves to a WorkerEngine. `wasmUrl` must then be a string, a URL or `{ simd, scalar }`.
   */
  worker?: boolean;
  /**
   * With worker: true, where worker.js (or a bundle of it) is served; default: next to this module
   * (bundlers that understand `new Worker(new URL(..., import.meta.url))`, such as Vite, place it).
   */
  workerUrl?: string | URL;
}

export type AttentionMask = 'causal' | 'bidirectional' | 'causal-window' | 'band';
export type AttentionNormaliser = 'softmax' | 'softmax_plus' | 'relu2';

export interface KernelAttentionOptions {
  queries: number;
  /** Default: queries. */
  keys?: number;
  heads?: number;
  headDim: number;
  /** Default: headDim. */
  valueDim?: number;
  mask?: AttentionMask;
  /** Keys per query for 'causal-window'; half-width for 'band'. */
  window?: number;
  /** softmax_plus: softmax with the log-n scale log(max(l, 16)) / log 512. */
  normaliser?: AttentionNormaliser;
  /** Logit scale; 0 (default) means 1/√headDim. */
  scale?: number;
}

export interface KernelBenchmarkResult {
  kernel: 'gemm' | 'attention' | 'flash' | 'exp' | 'softmax';
  params: Record<string, unknown>;
  runs: number;
  medianMs: number;
  fastestMs: number;
  /** FLOPs per run (elements for exp and softmax). */
  work: number;
  unit: 'GFLOP/s' | 'Gelem/s';
  /** work / median time, in `unit`. */
  rate: number;
}

/** Either makes a long kernel run in blocks of queries (the event loop runs between them) and
 * return a Promise; an aborted signal rejects it with AbortedError after the block running. */
export type KernelStepOptions =
  | { signal: AbortSignal; onProgress?: (progress: { done: number; total: number }) => void }
  | { signal?: AbortSignal; onProgress: (progress: { done: number; total: number }) => void };

/** Incremental causal FLASH attention (engine.kernels.flashDecoder): one token per step. */
export interface FlashDecoder {
  readonly chunk: number;
  readonly qkDim: number;
  readonly valueDim: number;
  /** Tokens seen so far. */
  readonly length: number;
  /** Bytes of state, constant in the number of tokens. */
  readonly bytes: number;
  step(qQuad: Float32Array, kQuad: Float32Array, qLin: Float32Array, kLin: Float32Array, v: Float32Array): Float32Array;
  dispose(): void;
}

/** A dense layer packed once (engine.kernels.linear). */
export interface LinearLayer {
  readonly in: number;
  readonly out: number;
  /**
   * activation(x · W + bias) for `rows` rows of x ([rows × in]; default x.length / in): [rows × out].
   * With `out` (at least rows × out floats) the result is written there and `out` returned.
   */
  apply(x: Float32Array, rows?: number, out?: Float32Array): Float32Array;
  /** Frees the packed weight; apply() afterwards throws BadArgumentError. */
  dispose(): void;
}

/** engine.kernels: the raw kernels on row-major Float32Arrays (kernels.js). */
export interface Kernels {
  /** With `signal` or `onProgress` (query rows done): blocks of queries, a Promise of the same result. */
  attention(q: Float32Array, k: Float32Array, v: Float32Array,
    options: KernelAttentionOptions & { entropy?: boolean } & KernelStepOptions):
    Promise<{ out: Float32Array; entropy?: Float32Array }>;
  attention(q: Float32Array, k: Float32Array, v: Float32Array, options: KernelAttentionOptions & { entropy?: boolean }):
    { out: Float32Array; entropy?: Float32Array };
  attentionWeights(q: Float32Array, k: Float32Array,
    options: KernelAttentionOptions & { head?: number; queryBegin?: number; queryEnd?: number } & KernelStepOptions):
    Promise<Float32Array>;
  attentionWeights(q: Float32Array, k: Float32Array,
    options: KernelAttentionOptions & { head?: number; queryBegin?: number; queryEnd?: number }): Float32Array;
  gemm(a: Float32Array, b: Float32Array, options: { m: number; n: number; k: number; transposeB?: boolean;
    bias?: Float32Array | null; activation?: 'none' | 'relu' | 'silu' | 'gelu' }): Float32Array;
  /** weight [in × out], or [out × in] (PyTorch nn.Linear) with transposeB: packed once for apply(). */
  linear(weight: Float32Array, options: { in: number; out: number; transposeB?: boolean;
    bias?: Float32Array | null; activation?: 'none' | 'relu' | 'silu' | 'gelu' }): LinearLayer;
  flash(qQuad: Float32Array, kQuad: Float32Array, qLin: Float32Array, kLin: Float32Array, v: Float32Array,
    options: { length: number; chunk?: number; qkDim: number; valueDim: number; causal?: boolean }): Float32Array;
  flashDecoder(options: { chunk?: number; qkDim: number; valueDim: number }): FlashDecoder;
  benchmark(options: { kernel: KernelBenchmarkResult['kernel']; minMs?: number; minRuns?: number; [size: string]: unknown }):
    KernelBenchmarkResult;
}

export interface Features {
  readonly simd: boolean;
  /** Threads a call can run on (1 for the single-thread builds). */
  readonly threads: number;
  readonly version: string;
  readonly flavour: Flavour;
  /** The most memory the engine's wasm heap can grow to. */
  readonly heapMaxBytes: number;
}

export interface SafetensorsTensor {
  name: string;
  /** As stored in the file: 'F32', 'F16', 'BF16' or 'I8' (int8 with a '<name>.quant_scale' F32 row-scale tensor, dequantised in data). */
  dtype: string;
  shape: number[];
  /** Converted to f32. */
  data: Float32Array;
}

export interface Safetensors {
  /** In file (data offset) order. */
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

export interface RopeOptions {
  /** Floats per head; defaults to x.length. */
  headDim?: number;
  /** Position of the first row; row r is at position + r. Default 0. */
  position?: number;
  /** Default 10000. */
  base?: number;
  /** 'interleaved' (default; pairs (2i, 2i+1)) or 'half-split' (pairs (i, i + headDim/2)). */
  layout?: 'interleaved' | 'half-split';
}

export class Engine {
  private constructor();
  readonly features: Features;
  /** The URL or path the wasm was loaded from. */
  readonly wasmUrl: string;
  /** Current size of the wasm heap in bytes. */
  readonly heapBytes: number;
  loadSafetensors(
    source: ArrayBuffer | ArrayBufferView | string | URL,
    options?: { signal?: AbortSignal; onProgress?: (progress: Progress) => void },
  ): Promise<Safetensors>;
  rope(x: Float32Array, options?: RopeOptions): Float32Array;
  /** The raw kernels and their timing harness. */
  readonly kernels: Kernels;
  /** Stops the worker threads and releases the engine; later calls throw InternalError. */
  dispose(): void;
  /** A model directory (config.json + model.safetensors) or its bytes: see model.js. */
  loadModel(
    source: string | URL | { config: string | object; weights: ArrayBuffer | ArrayBufferView },
    options?: {
      signal?: AbortSignal;
      onProgress?: (progress: Progress & { cached?: boolean }) => void;
      /** true or a cache name: keep the downloads in the Cache API, revalidated on every load. */
      cache?: boolean | string;
      /** Check model.safetensors against config.json's weights.sha256 (default true); a mismatch is a
       * BadModelError naming the file. */
      integrity?: boolean;
    },
  ): Promise<LanguageModel | DiffusionModel>;
}

/** 'as-trained': causal, trained normaliser; 'full': the same, optionally with the post-hoc log-n
 * scale; 'local': a sliding window of `window` keys (default the training length). */
export interface AttentionOptions {
  attention?: 'as-trained' | 'full' | 'local';
  window?: number;
  logn?: boolean;
}

/** Long calls: with either, the call works in steps (the event loop runs between them) and returns a
 * Promise; an aborted signal rejects it with AbortedError within one step. */
export interface LongCallOptions {
  signal?: AbortSignal;
  /** Tokens run through the model so far, of `total`. */
  onProgress?: (progress: { done: number; total: number }) => void;
}

export interface GenerateOptions extends AttentionOptions {
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  repetitionWindow?: number;
  seed?: number;
  signal?: AbortSignal;
}

export interface Evaluation { nll: Float32Array; meanNll: number; bitsPerChar: number }

export class LanguageModel {
  private constructor();
  readonly name: string;
  readonly config: object;
  readonly info: {
    family: 'gau-lm' | 'roformer-v2' | 'flash-lm'; normaliser: 'softmax' | 'softmax_plus' | 'relu2'; vocabSize: number;
    hidden: number; layers: number; heads: number; headSize: number; ropeDim: number; trainLength: number;
    parameters: number;
    /** flash-lm only: the mixed-chunk attention's chunk length. */
    chunk?: number;
  };
  readonly vocab: readonly string[];
  encode(text: string): Int32Array;
  decode(ids: Iterable<number>): string;
  /** Logits [n × vocabSize] of a causal pass. */
  logits(input: string | number[] | Int32Array, options?: AttentionOptions): Float32Array;
  /** nll[i]: −log p(token i+1 | tokens 0..i), in nats. */
  evaluate(text: string | number[] | Int32Array, options?: AttentionOptions): Evaluation;
  evaluate(text: string | number[] | Int32Array, options: AttentionOptions & LongCallOptions): Promise<Evaluation>;
  attentionEntropy(text: string | number[] | Int32Array, options?: AttentionOptions & { layer?: number }): { entropy: Float32Array; heads: number };
  attentionEntropy(text: string | number[] | Int32Array, options: AttentionOptions & LongCallOptions & { layer?: number }):
    Promise<{ entropy: Float32Array; heads: number }>;
  attentionWeights(
    text: string | number[] | Int32Array,
    options?: AttentionOptions & { layer?: number; head?: number; queryBegin?: number; queryEnd?: number },
  ): { weights: Float32Array; rows: number; keys: number };
  attentionWeights(
    text: string | number[] | Int32Array,
    options: AttentionOptions & LongCallOptions & { layer?: number; head?: number; queryBegin?: number; queryEnd?: number },
  ): Promise<{ weights: Float32Array; rows: number; keys: number }>;
  /** One character per piece; an aborted signal throws AbortedError. */
  generate(prompt: string, options?: GenerateOptions): AsyncGenerator<string, void, undefined>;
  widen(k: number, options?: { exactRope?: boolean }): LanguageModel;
  /** On a widened model: max |Δ logits| against its original. */
  verify(input?: string | number[] | Int32Array): number;
  verify(input: string | number[] | Int32Array | undefined, options: LongCallOptions): Promise<number>;
  dispose(): void;
}

/** A class for every image, one per image (null or, in an Int32Array, −1: any class), or null. */
export type DiffusionLabel = number | (number | null)[] | Int32Array | null;

export interface SampleStep { step: number; totalSteps: number; k: number; x: Float32Array; x0: Float32Array }

export class DiffusionModel {
  private constructor();
  readonly name: string;
  readonly config: object;
  /** classes > 0: class-conditional (ddpm-digits: the digit), labels 0 … classes − 1. */
  readonly info: { family: 'ddpm-unet'; imageSize: number; channels: number; steps: number; classes: number; parameters: number };
  /** label: one class for every image, one per image (null: any class), or null for any class. */
  predictNoise(x: Float32Array, k: number | number[] | Int32Array, label?: DiffusionLabel): Float32Array;
  sample(options?: {
    count?: number; steps?: number; stride?: number; eta?: number; sigma?: 'beta' | 'alt';
    method?: 'ancestral' | 'ddim'; seed?: number; start?: Float32Array;
    /** 'random' (default): each image's class drawn uniformly from the seed; null: the any-class row. */
    label?: DiffusionLabel | 'random';
    /** Classifier-free guidance weight w in [0, 10] (1: none): ε̂_any + w (ε̂_label − ε̂_any). */
    guidance?: number; signal?: AbortSignal;
    onStep?: (step: SampleStep) => void;
  }): Promise<{ images: Float32Array; count: number; imageSize: number; channels: number;
    /** The class of each image (−1: the any-class row); null for an unconditional model. */
    labels: Int32Array | null }>;
  dispose(): void;
}

/** Every method of T returning a Promise: the engine and its objects as seen through a Web Worker. */
export type Remote<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R
    ? (...args: A) => Promise<Awaited<R>>
    : T[K] extends Kernels ? Remote<Kernels> : T[K];
};

/** createEngine({ worker: true }): the Engine in a Web Worker. */
export type WorkerEngine = Remote<Engine> & {
  readonly inWorker: true;
  /** Stops the worker at once, even mid-computation; later calls reject with AbortedError. */
  terminate(): void;
};

/** Downloads kept in the Cache API, revalidated with a HEAD request (cache.js). */
export function fetchBytesCached(
  location: string | URL,
  options?: { cache?: boolean | string; what?: string; signal?: AbortSignal;
    onProgress?: (progress: Progress & { cached?: boolean }) => void },
): Promise<{ bytes: Uint8Array; contentType: string; url: string; cached: boolean }>;
export function clearModelCache(cache?: boolean | string): Promise<boolean>;

export function createEngine(options?: CreateEngineOptions & { worker?: false }): Promise<Engine>;
export function createEngine(options: CreateEngineOptions & { worker: true }): Promise<WorkerEngine>;
export function simdSupported(): boolean;
export function relaxedSimdSupported(): boolean;
/** True when the threaded builds can run here (Node; a cross-origin isolated page or worker). */
export function threadsSupported(): boolean;
export function defaultWasmUrl(flavour: Flavour): URL;
export function fetchBytes(
  location: string | URL,
  options?: { what?: string; signal?: AbortSignal; onProgress?: (progress: Progress) => void },
): Promise<{ bytes: Uint8Array; contentType: string; url: string }>;
