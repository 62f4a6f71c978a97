// engine.kernels: the engine's raw kernels on JS arrays (GEMM, fused attention with its entropy and
// weights, FLASH mixed-chunk attention, vector math). The demo site's entropy, GAU and benchmark
// pages use these; models use them through the engine, not from JS. engine.kernels.linear keeps a
// weight packed in the wasm heap for repeated products; engine.kernels.benchmark times a kernel
// (the harness is in benchmark.js).
//
//   const { out, entropy } = engine.kernels.attention(q, k, v, { queries: n, keys: n, headDim: 64,
//     mask: 'causal', normaliser: 'softmax_plus', entropy: true });
//
// Inputs are Float32Arrays of row-major matrices; every call copies them into the wasm heap, runs the
// kernel and copies the result out. Bad arguments reject with BadArgumentError before any work.
// attention and attentionWeights, which can run long (every query against every key), take `signal`
// and `onProgress` too: they then run a block of queries at a time and return a promise.
import { benchmarkKernel } from './benchmark.js';
import { callBinding } from './binding.js';
import { OutOfMemoryError } from './errors.js';
import { ACTIVATIONS, MASKS, NORMALISERS, check, floats, lookup, positiveInt } from './kernel-args.js';
import { OUTPUT_ARGUMENTS } from './worker-protocol.js';
import { STEP_MILLISECONDS, checkAborted, checkStepOptions, yieldToEventLoop } from './steps.js';

/**
 * A weight packed once in the wasm heap (engine.kernels.linear). A class, so that through the worker
 * client it stays in the worker and its methods are called there.
 */
class LinearLayer {
  static [OUTPUT_ARGUMENTS] = { apply: 2 };  // apply(x, rows, out) writes into out

  #module;
  #handle;
  #buffer = 0;  // x then y, kept between calls and grown when more rows come
  #bufferRows = 0;
  #live = true;

  /** @internal engine.kernels.linear creates this. */
  constructor(module, handle, inFeatures, outFeatures) {
    this.#module = module;
    this.#handle = handle;
    this.in = inFeatures;
    this.out = outFeatures;
  }

  /**
   * activation(x · W + bias) for `rows` rows of x ([rows × in], rows defaulting to x.length / in).
   * With `out` (a Float32Array of at least rows × out floats) the result is written there and `out`
   * returned: a loop that calls apply() often then allocates nothing (a fresh 1 MB result costs
   * about as much as a third of a 512³ product, in allocation and garbage collection).
   */
  apply(x, rows = x instanceof Float32Array ? x.length / this.in : NaN, out = undefined) {
    check(this.#live, 'this linear layer is disposed');
    positiveInt(rows, 'rows');
    floats(x, rows * this.in, 'x');
    if (out !== undefined) floats(out, rows * this.out, 'out');
    const module = this.#module;
    if (rows > this.#bufferRows) {
      this.#release();
      const bytes = rows * (this.in + this.out) * 4;
      this.#buffer = module._malloc(bytes);
      if (!this.#buffer) throw new OutOfMemoryError(`could not allocate ${bytes} bytes in the wasm heap for linear.apply`);
      this.#bufferRows = rows;
    }
    const y = this.#buffer + rows * this.in * 4;
    module.HEAPF32.set(x.length === rows * this.in ? x : x.subarray(0, rows * this.in), this.#buffer / 4);
    callBinding(module, 'kernelLinearApply', this.#handle, rows, this.#buffer, y);
    const result = module.HEAPF32.subarray(y / 4, y / 4 + rows * this.out);
    if (out === undefined) return result.slice();
    out.set(result);
    return out;
  }

  /** Frees the packed weight; apply() afterwards throws BadArgumentError. */
  dispose() {
    if (!this.#live) return;
    this.#live = false;
    this.#release();
    callBinding(this.#module, 'kernelLinearFree', this.#handle);
  }

  #release() {
    if (this.#buffer) this.#module._free(this.#buffer);
    this.#buffer = 0;
    this.#bufferRows = 0;
  }
}

export class Kernels {
  #module;

  #call;
  #assertUsable;

  /**
   * @internal engine.kernels creates this. call(name, ...args) runs a binding the engine's way
   * (binding.js); both it and assertUsable() throw once the engine is disposed.
   */
  constructor(module, { call = (name, ...args) => callBinding(module, name, ...args), assertUsable = () => {} } = {}) {
    this.#module = module;
    this.#call = call;
    this.#assertUsable = assertUsable;
  }

  /** Heap buffers of the given float counts (inputs copied in); release them with #free. */
  #allocate(specs) {
    this.#assertUsable();
    const module = this.#module;
    const addresses = [];
    try {
      for (const spec of specs) {
        const count = typeof spec === 'number' ? spec : spec.length;
        const address = module._malloc(Math.max(4, count * 4));
        if (!address) {
          throw new OutOfMemoryError(`could not allocate ${count * 4} bytes in the wasm heap for a kernel call`);
        }
        addresses.push(address);
      }
    } catch (error) {
      this.#free(addresses);
      throw error;
    }
    specs.forEach((spec, i) => {
      if (typeof spec !== 'number') module.HEAPF32.set(spec, addresses[i] / 4);
    });
    return addresses;
  }

  #free(addresses) {
    for (const address of addresses) this.#module._free(address);
  }

  /** Runs fn with heap buffers of the given float counts (inputs copied in), freeing them after. */
  #withBuffers(specs, fn) {
    const addresses = this.#allocate(specs);
    try {
      return fn(addresses);
    } finally {
      this.#free(addresses);
    }
  }

  /**
   * Runs `runRows(begin, end)` over query rows [begin, end) of [first, last) a block at a time: a
   * promise, with the event loop running between blocks (progress reported, an abort honoured).
   * Blocks are multiples of 64 rows from `first` (the kernel's results do not depend on the
   * blocking) sized to take about STEP_MILLISECONDS each. Frees `addresses` at the end.
   */
  async #rowsInSteps(what, first, last, { signal, onProgress }, addresses, runRows, finish) {
    try {
      let rows = 64;
      for (let begin = first; begin < last;) {
        checkAborted(signal, what);
        this.#assertUsable();
        const end = Math.min(last, begin + rows);
        const started = performance.now();
        runRows(begin, end);
        const elapsed = performance.now() - started;
        begin = end;
        onProgress?.({ done: begin - first, total: last - first });
        if (begin < last) {
          const scaled = rows * STEP_MILLISECONDS / Math.max(elapsed, 0.1);
          rows = Math.max(64, Math.min(64 * Math.round(scaled / 64), 2 * rows));
          await yieldToEventLoop();
        }
      }
      checkAborted(signal, what);
      return finish();
    } finally {
      this.#free(addresses);
    }
  }

  #read(address, count) {
    return this.#module.HEAPF32.slice(address / 4, address / 4 + count);
  }

  #run(name, ...args) {
    return this.#call(name, ...args);
  }

  #attentionArgs(options, withValues) {
    const queries = positiveInt(options.queries, 'queries');
    const keys = positiveInt(options.keys ?? queries, 'keys');
    const heads = positiveInt(options.heads ?? 1, 'heads');
    const headDim = positiveInt(options.headDim, 'headDim');
    const valueDim = withValues ? positiveInt(options.valueDim ?? headDim, 'valueDim') : 0;
    const mask = lookup(MASKS, options.mask ?? 'causal', 'mask');
    const normaliser = lookup(NORMALISERS, options.normaliser ?? 'softmax', 'normaliser');
    const window = options.window ?? 0;
    check(Number.isInteger(window) && window >= 0, `window must be a non-negative integer, got ${window}`);
    const scale = options.scale ?? 0;
    check(Number.isFinite(scale), `scale must be a finite number (0: 1/sqrt(headDim)), got ${scale}`);
    return { queries, keys, heads, headDim, valueDim, mask, normaliser, window, scale };
  }

  /**
   * Fused attention of `heads` heads: out = normalise(scale · q kᵀ) v. Options: queries, keys,
   * heads, headDim, valueDim, mask ('causal' | 'bidirectional' | 'causal-window' | 'band'), window,
   * normaliser ('softmax' | 'softmax_plus' (log-n scale, log base 512) | 'relu2'), scale (0 for
   * 1/√headDim), entropy (true: also the entropy in nats of every query's weights, [queries × heads]).
   * With `signal` (an AbortSignal) or `onProgress({ done, total })` (query rows) it runs blocks of
   * queries of about 20 ms and returns a promise of the same result; an abort rejects it with
   * AbortedError after the block running.
   */
  attention(q, k, v, options = {}) {
    const a = this.#attentionArgs(options, true);
    floats(q, a.queries * a.heads * a.headDim, 'q');
    floats(k, a.keys * a.heads * a.headDim, 'k');
    floats(v, a.keys * a.heads * a.valueDim, 'v');
    const { signal, onProgress } = options;
    checkStepOptions(signal, onProgress);
    const outCount = a.queries * a.heads * a.valueDim;
    const entropyCount = options.entropy ? a.queries * a.heads : 0;
    const buffers = [q, k, v, outCount, Math.max(1, entropyCount)];
    const results = ([, , , po, pe]) => ({
      out: this.#read(po, outCount),
      ...(entropyCount ? { entropy: this.#read(pe, entropyCount) } : {}),
    });
    if (!signal && !onProgress) {
      return this.#withBuffers(buffers, (addresses) => {
        const [pq, pk, pv, po, pe] = addresses;
        this.#run('kernelAttention', a.queries, a.keys, a.heads, a.headDim, a.valueDim, a.mask, a.window,
          a.normaliser, a.scale, pq, pk, pv, po, entropyCount ? pe : 0);
        return results(addresses);
      });
    }
    return (async () => {
      checkAborted(signal, 'attention');
      const addresses = this.#allocate(buffers);
      const [pq, pk, pv, po, pe] = addresses;
      return this.#rowsInSteps('attention', 0, a.queries, { signal, onProgress }, addresses, (begin, end) =>
        this.#run('kernelAttentionRows', a.queries, a.keys, a.heads, a.headDim, a.valueDim, a.mask, a.window,
          a.normaliser, a.scale, begin, end, pq, pk, pv, po, entropyCount ? pe : 0),
      () => results(addresses));
    })();
  }

  /**
   * The attention weights of one head for queries [queryBegin, queryEnd): rows × keys floats.
   * `signal` and `onProgress` as in attention() (progress counts rows).
   */
  attentionWeights(q, k, options = {}) {
    const a = this.#attentionArgs(options, false);
    const head = options.head ?? 0;
    const queryBegin = options.queryBegin ?? 0;
    const queryEnd = options.queryEnd ?? a.queries;
    check(Number.isInteger(head) && head >= 0 && head < a.heads, `head must be in [0, ${a.heads})`);
    check(Number.isInteger(queryBegin) && Number.isInteger(queryEnd) && queryBegin >= 0 &&
      queryBegin < queryEnd && queryEnd <= a.queries, `need 0 <= queryBegin < queryEnd <= ${a.queries}`);
    floats(q, a.queries * a.heads * a.headDim, 'q');
    floats(k, a.keys * a.heads * a.headDim, 'k');
    const { signal, onProgress } = options;
    checkStepOptions(signal, onProgress);
    const count = (queryEnd - queryBegin) * a.keys;
    // Rows [begin, end) of the result, at their place in the output buffer pw.
    const runRows = (pq, pk, pw, begin, end) => this.#run('kernelAttentionWeights', a.queries, a.keys, a.heads,
      a.headDim, a.mask, a.window, a.normaliser, a.scale, pq, pk, head, begin, end,
      pw + (begin - queryBegin) * a.keys * 4);
    if (!signal && !onProgress) {
      return this.#withBuffers([q, k, count], ([pq, pk, pw]) => {
        runRows(pq, pk, pw, queryBegin, queryEnd);
        return this.#read(pw, count);
      });
    }
    return (async () => {
      checkAborted(signal, 'attentionWeights');
      const addresses = this.#allocate([q, k, count]);
      const [pq, pk, pw] = addresses;
      return this.#rowsInSteps('attentionWeights', queryBegin, queryEnd, { signal, onProgress }, addresses,
        (begin, end) => runRows(pq, pk, pw, begin, end), () => this.#read(pw, count));
    })();
  }

  /**
   * C = activation(A·B + bias), A [m × k]; B [k × n], or [n × k] with transposeB (a PyTorch
   * Linear weight); bias [n] or none; activation 'none' | 'relu' | 'silu' | 'gelu'.
   */
  gemm(a, b, { m, n, k, transposeB = false, bias = null, activation = 'none' } = {}) {
    positiveInt(m, 'm'); positiveInt(n, 'n'); positiveInt(k, 'k');
    floats(a, m * k, 'a');
    floats(b, n * k, 'b');
    if (bias !== null) floats(bias, n, 'bias');
    const act = lookup(ACTIVATIONS, activation, 'activation');
    const inputs = bias === null ? [a, b, m * n] : [a, b, m * n, bias];
    return this.#withBuffers(inputs, ([pa, pb, pc, pbias = 0]) => {
      if (transposeB) this.#run('kernelGemmNt', m, n, k, pa, k, pb, k, pc, n, pbias, act);
      else this.#run('kernelGemm', m, n, k, pa, k, pb, n, pc, n, pbias, act);
      return this.#read(pc, m * n);
    });
  }

  /**
   * A dense layer packed once: `weight` is [in × out] row-major, or [out × in] (a PyTorch nn.Linear
   * weight) with transposeB; bias [out] or none; activation 'none' | 'relu' | 'silu' | 'gelu'. The
   * returned layer's `apply(x, rows)` computes activation(x · W + bias) for `rows` rows of x
   * ([rows × in]; rows defaults to x.length / in) with no packing per call, through the GEMV for one
   * row. Call dispose() to free its wasm memory; a disposed layer throws BadArgumentError.
   */
  linear(weight, { in: inFeatures, out: outFeatures, transposeB = false, bias = null, activation = 'none' } = {}) {
    positiveInt(inFeatures, 'in'); positiveInt(outFeatures, 'out');
    floats(weight, inFeatures * outFeatures, 'weight');
    if (bias !== null) floats(bias, outFeatures, 'bias');
    const act = lookup(ACTIVATIONS, activation, 'activation');
    const inputs = bias === null ? [weight] : [weight, bias];
    const handle = this.#withBuffers(inputs, ([pw, pbias = 0]) =>
      this.#run('kernelLinearCreate', inFeatures, outFeatures, pw, transposeB, pbias, act));
    return new LinearLayer(this.#module, handle, inFeatures, outFeatures);
  }

  /**
   * FLASH mixed-chunk attention (quadratic relu² inside chunks, linear across): qQuad, kQuad, qLin,
   * kLin [length × qkDim], v [length × valueDim]; options length, chunk, qkDim, valueDim, causal.
   */
  flash(qQuad, kQuad, qLin, kLin, v, { length, chunk = 256, qkDim, valueDim, causal = true } = {}) {
    positiveInt(length, 'length'); positiveInt(chunk, 'chunk'); positiveInt(qkDim, 'qkDim');
    positiveInt(valueDim, 'valueDim');
    for (const [array, name] of [[qQuad, 'qQuad'], [kQuad, 'kQuad'], [qLin, 'qLin'], [kLin, 'kLin']]) {
      floats(array, length * qkDim, name);
    }
    floats(v, length * valueDim, 'v');
    return this.#withBuffers([qQuad, kQuad, qLin, kLin, v, length * valueDim], ([a, b, c, d, e, o]) => {
      this.#run('kernelFlashMixedChunk', length, chunk, qkDim, valueDim, causal, a, b, c, d, e, o);
      return this.#read(o, length * valueDim);
    });
  }

  /**
   * Incremental causal FLASH attention: `step(qQuad, kQuad, qLin, kLin, v)` appends one token (rows of
   * qkDim, qkDim, qkDim, qkDim and valueDim floats) and returns its output row, equal to that row of
   * flash(..., { causal: true }) over all tokens so far. Its state stays O(chunk·(qkDim + valueDim))
   * however many tokens it has seen (`bytes`). Call dispose() when done.
   */
  flashDecoder({ chunk = 256, qkDim, valueDim } = {}) {
    positiveInt(chunk, 'chunk'); positiveInt(qkDim, 'qkDim'); positiveInt(valueDim, 'valueDim');
    const handle = this.#run('kernelFlashDecoderCreate', chunk, qkDim, valueDim);
    const kernels = this;
    let live = true;
    const info = () => this.#run('kernelFlashDecoderInfo', handle);
    return {
      chunk, qkDim, valueDim,
      get length() { return live ? info().length : 0; },
      get bytes() { return live ? info().bytes : 0; },
      step(qQuad, kQuad, qLin, kLin, v) {
        check(live, 'this FLASH decoder is disposed');
        for (const [array, name] of [[qQuad, 'qQuad'], [kQuad, 'kQuad'], [qLin, 'qLin'], [kLin, 'kLin']]) {
          floats(array, qkDim, name);
        }
        floats(v, valueDim, 'v');
        return kernels.#withBuffers([qQuad, kQuad, qLin, kLin, v, valueDim], ([a, b, c, d, e, o]) => {
          kernels.#run('kernelFlashDecoderStep', handle, a, b, c, d, e, o);
          return kernels.#read(o, valueDim);
        });
      },
      dispose() {
        if (live) kernels.#run('kernelFlashDecoderFree', handle);
        live = false;
      },
    };
  }

  /**
   * Times one kernel on resident random inputs in this thread (the harness is in benchmark.js):
   * { kernel, params, runs, medianMs, fastestMs, work, unit, rate }.
   */
  benchmark(options = {}) {
    return benchmarkKernel(options, {
      call: (name, ...args) => this.#run(name, ...args),
      withBuffers: (specs, fn) => this.#withBuffers(specs, fn),
    });
  }
}
