// Gyre's public JS API. Works in browsers (ES module) and Node 20.
//
//   import { createEngine } from './web/lib/index.js';
//   const engine = await createEngine();            // picks the SIMD128 or the scalar binary
//   engine.features;                                // { simd: true, threads: false, version: '0.1.0', ... }
//
// Every failure is a GyreError subclass (see errors.js) with a `code` and a readable message.
import {
  AbortedError, BadArgumentError, BadModelError, InternalError, NotFoundError,
  NotWasmError, OutOfMemoryError, TooLargeError, UnsupportedError,
} from './errors.js';
import { callBinding } from './binding.js';
import { fetchBytes, firstBytesHex, looksLikeHtml, nodeBuiltin } from './fetch-bytes.js';
import { loadModel } from './model.js';
import { Kernels } from './kernels.js';

export * from './errors.js';
export { clearModelCache, fetchBytesCached } from './cache.js';
export { fetchBytes } from './fetch-bytes.js';
export { DiffusionModel, LanguageModel } from './model.js';

// The smallest module using a SIMD128 instruction: one function returning v128.const 0.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,  // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,  // type section: () -> v128
  0x03, 0x02, 0x01, 0x00,  // function section: one function of type 0
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c,  // code section: v128.const
  0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,  // ... i8x16 0
  0x0b,  // end
]);

// A module whose function f() returns lane 0 of f32x4.relaxed_madd(a, a, c) with a = 1 + 2^-12 and
// c = -(1 + 2^-11): exactly 2^-24 where the multiply-add is fused (a·a = 1 + 2^-11 + 2^-24 kept
// whole), 0 where it rounds the product first.
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7d,  // type section: () -> f32
  0x03, 0x02, 0x01, 0x00,  // function section
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x00,  // export "f"
  0x0a, 0x40, 0x01, 0x3e, 0x00,  // code section, one body without locals
  0xfd, 0x0c, 0, 0x08, 0x80, 0x3f, 0, 0x08, 0x80, 0x3f, 0, 0x08, 0x80, 0x3f, 0, 0x08, 0x80, 0x3f,  // a × 4
  0xfd, 0x0c, 0, 0x08, 0x80, 0x3f, 0, 0x08, 0x80, 0x3f, 0, 0x08, 0x80, 0x3f, 0, 0x08, 0x80, 0x3f,  // a × 4
  0xfd, 0x0c, 0, 0x10, 0x80, 0xbf, 0, 0x10, 0x80, 0xbf, 0, 0x10, 0x80, 0xbf, 0, 0x10, 0x80, 0xbf,  // c × 4
  0xfd, 0x85, 0x02,  // f32x4.relaxed_madd
  0xfd, 0x1f, 0x00,  // f32x4.extract_lane 0
  0x0b,
]);

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

const isNode = typeof process === 'object' && typeof process.versions?.node === 'string';

// threads: 'auto' takes one thread per core up to this: the models Gyre runs split into a few
// dozen row blocks or heads per call, and more threads than that wait on memory more than they
// compute.
const AUTO_THREADS_MAX = 8;
const THREADS_MAX = 64;  // the engine's core::kMaxThreads

/**
 * True when this runtime can run the threaded builds: WebAssembly threads (shared memory), and in
 * a browser a cross-origin isolated page or worker (COOP/COEP headers), which SharedArrayBuffer needs.
 */
export function threadsSupported() {
  if (typeof WebAssembly !== 'object' || typeof SharedArrayBuffer !== 'function') return false;
  if (!isNode && globalThis.crossOriginIsolated !== true) return false;
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof
      SharedArrayBuffer;
  } catch {
    return false;
  }
}

/** The cores this runtime reports (navigator.hardwareConcurrency, Node's availableParallelism()). */
async function coreCount() {
  if (isNode) {
    const os = await nodeBuiltin('os');
    return os.availableParallelism?.() ?? os.cpus().length;
  }
  return globalThis.navigator?.hardwareConcurrency || 1;
}

/** True when this runtime supports WebAssembly SIMD128. */
export function simdSupported() {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/**
 * True when this runtime validates WebAssembly relaxed SIMD and runs its multiply-add fused, as the
 * 'relaxed' flavour needs: Chrome and Edge 114+ on CPUs with FMA, Node with
 * --experimental-wasm-relaxed-simd.
 */
export function relaxedSimdSupported() {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(RELAXED_PROBE)) return false;
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(RELAXED_PROBE)).exports.f() === 2 ** -24;
  } catch {
    return false;
  }
}

// Whether wasmUrl can name the relaxed flavour's module (a fixed URL names one module only).
function wasmUrlHasFlavour(wasmUrl, flavour) {
  if (wasmUrl === undefined || wasmUrl === null || typeof wasmUrl === 'function') return true;
  if (typeof wasmUrl === 'string') return wasmUrl.includes('{flavour}');
  if (wasmUrl instanceof URL) return false;
  return typeof wasmUrl === 'object' && wasmUrl[flavour] !== undefined;
}

/** The default location of a flavour's .wasm: next to this module, in wasm/. */
export function defaultWasmUrl(flavour) {
  return new URL(`./wasm/gyre-${flavour}.wasm`, import.meta.url);
}

function wasmUrlFor(wasmUrl, flavour) {
  if (wasmUrl === undefined || wasmUrl === null) return defaultWasmUrl(flavour);
  if (typeof wasmUrl === 'function') return wasmUrl(flavour);
  if (wasmUrl instanceof URL) return wasmUrl;
  if (typeof wasmUrl === 'string') return wasmUrl.replaceAll('{flavour}', flavour);
  if (typeof wasmUrl === 'object' && wasmUrl[flavour] !== undefined) return wasmUrl[flavour];
  throw new BadArgumentError('wasmUrl must be a string (may contain {flavour}), a URL, ' +
    `a function (flavour) => url, or { simd, scalar }; got ${String(wasmUrl)}`);
}

function checkWasmBytes(bytes, url, contentType) {
  if (WASM_MAGIC.every((byte, i) => bytes[i] === byte)) return;
  if (looksLikeHtml(bytes, contentType)) {
    throw new NotWasmError(`${url} returned an HTML page (first bytes ${firstBytesHex(bytes)}, ` +
      `"${new TextDecoder().decode(bytes.subarray(0, 15)).trim()}...") instead of WebAssembly. ` +
      'The server has no file there and answers with a page: fix the path or pass wasmUrl.', { url });
  }
  throw new NotWasmError(`${url} is not WebAssembly: ${bytes.byteLength} bytes starting with ` +
    `${firstBytesHex(bytes) || '(nothing)'} instead of the magic 00 61 73 6d`, { url });
}

async function importFactory(flavour) {
  try {
    // Literal specifiers, so that bundlers see every module.
    const glue = flavour === 'relaxed' ? await import('./wasm/gyre-relaxed.js')
      : flavour === 'simd' ? await import('./wasm/gyre-simd.js')
        : flavour === 'relaxed-threads' ? await import('./wasm/gyre-relaxed-threads.js')
          : flavour === 'simd-threads' ? await import('./wasm/gyre-simd-threads.js')
            : await import('./wasm/gyre-scalar.js');
    return glue.default;
  } catch (error) {
    throw new NotFoundError(`the Gyre ${flavour} JS glue (web/lib/wasm/gyre-${flavour}.js) could not ` +
      `be loaded: ${error?.message}. Run \`npm run build\` first.`, { cause: error });
  }
}

/** Formats a byte count for messages. */
function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} bytes`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return `${value.toFixed(2)} ${units[unit]}`;
}

function toBytes(source, what) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  throw new BadArgumentError(`${what} must be an ArrayBuffer, a typed array, a URL or a path; ` +
    `got ${Object.prototype.toString.call(source)}`);
}

/** A loaded engine: one wasm instance. Create with createEngine(). */
export class Engine {
  #module;
  #heapMaxBytes;
  #kernels;
  #unusable = null;  // why calls now fail: disposed, or a worker thread crashed

  /** @internal */
  constructor(module, flavour, wasmUrl, threads = 1) {
    this.#module = module;
    if (threads > 1) this.#call('setThreads', threads);
    const info = this.#call('buildInfo');
    this.#heapMaxBytes = info.heapMaxBytes;
    /** What this engine runs with. */
    this.features = Object.freeze({
      simd: info.simd,
      threads: info.threads,
      version: info.version,
      flavour,
      heapMaxBytes: info.heapMaxBytes,
    });
    this.wasmUrl = String(wasmUrl);
  }

  /** The raw kernels (GEMM, attention, FLASH, vector math) on Float32Arrays (kernels.js; timing: benchmark.js). */
  get kernels() {
    this.#kernels ??= new Kernels(this.#module, {
      call: (name, ...args) => this.#call(name, ...args),
      assertUsable: () => this.#assertUsable('a kernel'),
    });
    return this.#kernels;
  }

  /** Current size of the engine's wasm heap in bytes (it grows on demand, up to heapMaxBytes). */
  get heapBytes() {
    return this.#module.HEAPU8.byteLength;
  }

  /**
   * Frees the engine: stops its worker threads (the threaded builds) and lets the wasm memory go.
   * Models loaded from it must not be used afterwards; calls then throw. Idempotent.
   */
  dispose() {
    if (this.#unusable) return;
    this.#unusable = 'it was disposed';
    this.#stopThreads();
  }

  #stopThreads() {
    if (this.features?.threads > 1 || this.#module.PThread) {
      try { this.#module.stopThreads?.(); } catch { /* a crashed pool cannot stop: terminated below */ }
      this.#module.PThread?.terminateAllThreads();
    }
  }

  /** For the tests only: runs a threaded job whose chunks trap on every worker thread. */
  [Symbol.for('gyre.trapInWorkerForTest')]() {
    return this.#call('trapInWorkerForTest');
  }

  /** @internal A worker thread of this engine crashed: its job can never finish. */
  workerThreadFailed(error) {
    if (this.#unusable) return;
    this.#unusable = `a worker thread failed (${error?.message ?? error})`;
    this.#module.PThread?.terminateAllThreads();
  }

  #assertUsable(what) {
    if (this.#unusable) {
      throw new InternalError(`the engine cannot run ${what}: ${this.#unusable}; create a new engine`);
    }
  }

  /** Calls a binding (binding.js): its value, or the GyreError of its failure. */
  #call(name, ...args) {
    this.#assertUsable(name);
    try {
      return callBinding(this.#module, name, ...args);
    } catch (error) {
      // The threaded runtime unwinds the caller when a worker thread crashed mid-job (see
      // engine/core/thread_pool.cpp): the pool is short of a thread for good.
      if (error instanceof InternalError && error.cause === 'unwind') {
        this.workerThreadFailed(new Error('it crashed during a threaded call'));
        throw new InternalError(`the engine failed in ${name}: ${this.#unusable}; create a new engine`,
          { cause: error.cause });
      }
      throw error;
    }
  }

  /** Copies bytes into the wasm heap, runs fn(address), and frees them whatever happens. */
  #withHeapCopy(bytes, what, fn) {
    if (bytes.byteLength > this.#heapMaxBytes) {
      throw new TooLargeError(`${what} is ${formatBytes(bytes.byteLength)} ` +
        `(${bytes.byteLength} bytes), more than the ${formatBytes(this.#heapMaxBytes)} the engine ` +
        'can address');
    }
    const address = this.#module._malloc(Math.max(1, bytes.byteLength));
    if (!address) {
      throw new OutOfMemoryError(`could not allocate ${formatBytes(bytes.byteLength)} in the wasm ` +
        `heap for ${what}; free other models or engines and retry`);
    }
    try {
      // HEAPU8 is re-created when the heap grows: read it after _malloc.
      this.#module.HEAPU8.set(bytes, address);
      return fn(address);
    } finally {
      this.#module._free(address);
    }
  }

  /**
   * Reads a safetensors file (F32, F16 and BF16 tensors, and I8 tensors with per-row scales, converted to f32).
   * `source`: ArrayBuffer, typed array, URL or path (fetched, with `onProgress` and `signal`).
   * Resolves to `{ tensors: Map<name, { name, dtype, shape, data: Float32Array }>, metadata }`.
   * Files that lie (bad header length, offsets, shapes, truncation) reject with BadModelError.
   */
  async loadSafetensors(source, { signal, onProgress } = {}) {
    let bytes;
    let where = 'the safetensors data';
    if (typeof source === 'string' || source instanceof URL) {
      const fetched = await fetchBytes(source, { what: 'the safetensors file', signal, onProgress });
      where = fetched.url;
      if (looksLikeHtml(fetched.bytes, fetched.contentType)) {
        throw new BadModelError(`${fetched.url} returned an HTML page (first bytes ` +
          `${firstBytesHex(fetched.bytes)}) instead of a safetensors file: fix the path`, { url: fetched.url });
      }
      bytes = fetched.bytes;
    } else {
      bytes = toBytes(source, 'source');
    }
    if (signal?.aborted) throw new AbortedError(`loading ${where} was cancelled`);
    const parsed = this.#withHeapCopy(bytes, where,
      (address) => this.#call('parseSafetensors', address, bytes.byteLength));
    const tensors = new Map();
    for (const tensor of parsed.tensors) tensors.set(tensor.name, tensor);
    return { tensors, metadata: parsed.metadata };
  }

  /**
   * Loads a model: a directory (URL or path) holding config.json and model.safetensors, or
   * `{ config, weights }`. Resolves to a LanguageModel (gau-lm, flash-lm, roformer-v2) or a DiffusionModel
   * (ddpm-unet); see model.js. `onProgress({ loaded, total })` reports the weights download.
   * `cache`: true (or a cache name) keeps downloads in the browser's Cache API, revalidated against
   * the server on every load (cache.js); `onProgress` then says `cached: true` for a cached copy.
   * `integrity` (default true): check model.safetensors against the SHA-256 in config.json
   * (`weights.sha256`); a mismatch is a BadModelError naming the file.
   */
  loadModel(source, { onProgress, signal, cache = false, integrity = true } = {}) {
    const engine = {
      call: (name, ...args) => this.#call(name, ...args),
      withHeapCopy: (bytes, what, fn) => this.#withHeapCopy(bytes, what, fn),
    };
    return loadModel(engine, source, { onProgress, signal, cache, integrity });
  }

  /**
   * Rotary position embedding, computed in wasm: rotates each row of `headDim` floats of `x`, row r
   * at position `position + r`, and returns a new Float32Array. `layout`: 'interleaved' (pairs
   * (2i, 2i+1), RoFormer) or 'half-split' (pairs (i, i + headDim/2), GPT-NeoX).
   */
  rope(x, { headDim = x?.length, position = 0, base = 10000, layout = 'interleaved' } = {}) {
    if (!(x instanceof Float32Array)) throw new BadArgumentError('rope: x must be a Float32Array');
    if (!Number.isInteger(headDim) || !Number.isInteger(position)) {
      throw new BadArgumentError(`rope: headDim and position must be integers, got ${headDim} and ${position}`);
    }
    if (layout !== 'interleaved' && layout !== 'half-split') {
      throw new BadArgumentError(`rope: layout must be 'interleaved' or 'half-split', got ${layout}`);
    }
    if (typeof base !== 'number' || !Number.isFinite(base) || base <= 1) {
      throw new BadArgumentError(`rope: base must be a finite number > 1, got ${base}`);
    }
    if (position > 0x7fffffff || headDim > 0x7fffffff) {
      throw new BadArgumentError(`rope: position ${position} or headDim ${headDim} is out of range`);
    }
    return this.#call('ropeRotate', x, headDim, position, base, layout === 'half-split');
  }
}

/**
 * Loads the engine.
 * - `simd`: 'auto' (default) probes WebAssembly SIMD128 and falls back to the scalar binary;
 *   true requires SIMD (UnsupportedError without it); false forces the scalar binary.
 * - `relaxed`: 'auto' (default) takes the relaxed-SIMD binary (fused multiply-add) when the runtime
 *   runs relaxed_madd fused and wasmUrl can name it, else the SIMD128 one; true requires it; false
 *   never.
 * - `wasmUrl`: where the .wasm is: a string (may contain `{flavour}`), a URL, `{ simd, scalar }` or
 *   `(flavour) => url`. Default: `new URL('./wasm/gyre-<flavour>.wasm', import.meta.url)`.
 * - `signal` cancels; `onProgress({ loaded, total })` reports the download.
 * - `threads`: 'auto' (default) runs the threaded build on one thread per core (at most 8) where
 *   the runtime allows it (Node; a cross-origin isolated page), else the single-thread build; a
 *   number asks for exactly that many (UnsupportedError where threads cannot run); false or 1 the
 *   single-thread build. `engine.features.threads` says how many run.
 * - `worker`: true runs the engine in a module Web Worker (browsers): the page never freezes, and
 *   every method of the engine and its models returns a promise; `engine.terminate()` stops it.
 *   `workerUrl`: where worker.js (or a bundle of it) is, when a bundler did not place it.
 * Rejects with NotFoundError (404, missing file) or NotWasmError (e.g. an HTML page), naming the URL.
 */
export async function createEngine({
  wasmUrl, simd = 'auto', relaxed = 'auto', threads = 'auto', signal, onProgress, worker = false, workerUrl,
} = {}) {
  if (worker) {
    // The same API from a Web Worker (every method then returns a promise): see worker-client.js.
    const { createWorkerEngine } = await import('./worker-client.js');
    return createWorkerEngine({ wasmUrl, workerUrl, simd, relaxed, threads, signal, onProgress });
  }
  if (typeof WebAssembly !== 'object') {
    throw new UnsupportedError('this JavaScript runtime has no WebAssembly support');
  }
  if (simd !== 'auto' && simd !== true && simd !== false) {
    throw new BadArgumentError(`simd must be 'auto', true or false; got ${String(simd)}`);
  }
  const hasSimd = simdSupported();
  if (simd === true && !hasSimd) {
    throw new UnsupportedError('simd: true was requested, but this runtime does not support ' +
      "WebAssembly SIMD128; use simd: 'auto' to fall back to the scalar build");
  }
  if (relaxed !== 'auto' && relaxed !== true && relaxed !== false) {
    throw new BadArgumentError(`relaxed must be 'auto', true or false; got ${String(relaxed)}`);
  }
  const useRelaxed = simd !== false && hasSimd && relaxed !== false && relaxedSimdSupported() &&
    (relaxed === true || wasmUrlHasFlavour(wasmUrl, 'relaxed'));
  if (relaxed === true && !useRelaxed) {
    throw new UnsupportedError('relaxed: true was requested, but this runtime does not run ' +
      'WebAssembly relaxed SIMD with a fused multiply-add (or simd is false); ' +
      "use relaxed: 'auto' to fall back to SIMD128");
  }
  const base = useRelaxed ? 'relaxed' : simd === false || !hasSimd ? 'scalar' : 'simd';
  const threadCount = await chooseThreads(threads, base, wasmUrl);
  if (threadCount > 1) {
    try {
      return await loadEngine(`${base}-threads`, wasmUrl, signal, onProgress, threadCount);
    } catch (error) {
      // 'auto' never requires threads: a threaded build that does not start (its worker script
      // missing on a static host, workers refused) falls back to the single-thread one.
      if (threads !== 'auto' || error instanceof AbortedError && signal?.aborted) throw error;
      console.warn(`[gyre] the threaded build did not start (${error?.message ?? error}); ` +
        'running on one thread');
    }
  }
  return loadEngine(base, wasmUrl, signal, onProgress, 1);
}

/** How many threads to run: 1 means the single-thread build. */
async function chooseThreads(threads, base, wasmUrl) {
  if (threads === false) return 1;
  if (threads !== 'auto' && !(Number.isInteger(threads) && threads >= 1 && threads <= THREADS_MAX)) {
    throw new BadArgumentError(`threads must be 'auto', false or an integer from 1 to ${THREADS_MAX}; ` +
      `got ${String(threads)}`);
  }
  if (threads === 1) return 1;
  const possible = base !== 'scalar' && threadsSupported() && wasmUrlHasFlavour(wasmUrl, `${base}-threads`);
  if (threads === 'auto') return possible ? Math.min(await coreCount(), AUTO_THREADS_MAX) : 1;
  if (!possible) {
    throw new UnsupportedError(`threads: ${threads} was requested, but ` + (base === 'scalar'
      ? 'the scalar build has no threaded variant'
      : !threadsSupported()
        ? 'this runtime cannot share WebAssembly memory between threads (in a browser the page must ' +
          'be cross-origin isolated: Cross-Origin-Opener-Policy: same-origin and ' +
          'Cross-Origin-Embedder-Policy: require-corp)'
        : `wasmUrl cannot name the ${base}-threads module`) + "; use threads: 'auto' to fall back");
  }
  return threads;
}

/**
 * The Worker class the threaded glue starts its pthreads with: errors reach `onError`, and every
 * worker is added to `started` (so a module that fails to start can stop them).
 */
async function pthreadWorkerClass(onError, started) {
  if (isNode) {
    // Node only, and by a computed URL, so that browser bundlers do not pull in worker_threads.
    const nodeWorker = new URL('./node-worker.js', import.meta.url).href;
    const { nodeWorkerClass } = await import(/* @vite-ignore */ /* webpackIgnore: true */ nodeWorker);
    return nodeWorkerClass(onError, started);
  }
  return class WatchedWorker extends Worker {
    constructor(url, options) {
      super(url, options);
      started.push(this);
      this.addEventListener('error', (event) => onError(new Error(event.message || 'the worker failed')));
    }

    // The glue's handler logs the error and rethrows it: keep that out of the page's error events.
    set onerror(handler) {
      super.onerror = (event) => { try { handler(event); } catch { /* reported through onError */ } };
    }

    get onerror() { return super.onerror; }
  };
}

async function loadEngine(flavour, wasmUrl, signal, onProgress, threads) {
  const location = wasmUrlFor(wasmUrl, flavour);
  const [{ bytes, contentType, url }, factory] = await Promise.all([
    fetchBytes(location, { what: `the Gyre ${flavour} WebAssembly module`, signal, onProgress }),
    importFactory(flavour),
  ]);
  checkWasmBytes(bytes, url, contentType);
  if (signal?.aborted) throw new AbortedError(`loading ${url} was cancelled`);

  // Compiling here (not in the glue) turns a corrupt module into a clean NotWasmError.
  let compiled;
  try {
    compiled = await WebAssembly.compile(bytes);
  } catch (error) {
    throw new NotWasmError(`${url} is not a valid WebAssembly module for this runtime: ` +
      `${error?.message ?? error}`, { cause: error, url });
  }
  let module;
  let engine;
  const startedWorkers = [];
  try {
    let failInstantiation;
    const instantiationFailed = new Promise((_, reject) => { failInstantiation = reject; });
    const threaded = threads > 1 ? {
      // The pthread workers load before the module resolves (see engine/core/thread_pool.h).
      gyreWorkers: threads - 1,
      gyreWorker: await pthreadWorkerClass((error) => {
        if (engine) engine.workerThreadFailed(error);
        else failInstantiation(new Error(`a worker thread failed to start: ${error?.message ?? error}`));
      }, startedWorkers),
    } : {};
    module = await Promise.race([
      factory({
        ...threaded,
        instantiateWasm(imports, receiveInstance) {
          WebAssembly.instantiate(compiled, imports)
            .then((instance) => receiveInstance(instance, compiled), failInstantiation);
          return {};
        },
        // The engine prints nothing in normal operation; keep anything it does say visible.
        print: (text) => console.log(`[gyre] ${text}`),
        printErr: (text) => console.warn(`[gyre] ${text}`),
      }),
      instantiationFailed,
    ]);
  } catch (error) {
    for (const worker of startedWorkers) worker.terminate();
    if (error instanceof WebAssembly.LinkError) {
      throw new InternalError(`${url} does not match the JS glue web/lib/wasm/gyre-${flavour}.js ` +
        `(${error.message}); rebuild with \`npm run build\``, { cause: error, url });
    }
    throw new AbortedError(`the Gyre module from ${url} failed to start: ${error?.message ?? error}`,
      { cause: error, url });
  }
  try {
    engine = new Engine(module, flavour, url, threads);
  } catch (error) {
    for (const worker of startedWorkers) worker.terminate();
    throw error;
  }
  return engine;
}
