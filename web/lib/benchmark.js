// The timing harness behind engine.kernels.benchmark (the <gyre-benchmark> element and the demo's
// benchmark and GAU pages use it): one kernel on inputs resident in the wasm heap, called through
// its binding directly, so that the copies in and out of a kernels.js call are not timed.
import { MASKS, NORMALISERS, check, lookup, positiveInt } from './kernel-args.js';

const BENCHMARKS = ['gemm', 'attention', 'flash', 'exp', 'softmax'];

/**
 * Times one kernel on resident random inputs in this thread: warm-up, then runs until `minMs` has
 * passed (at least `minRuns` runs). Returns { kernel, params, runs, medianMs, fastestMs, work, unit,
 * rate }: `rate` is work per second in `unit` (GFLOP/s; Gelem/s for the element-wise kernels).
 * kernel: 'gemm' { m, n, k }, 'attention' { n, headDim, valueDim, mask, window, normaliser },
 * 'flash' { n, chunk, qkDim, valueDim }, 'exp' { n }, 'softmax' { rows, cols }.
 * FLOPs are the useful work: attention counts 2·(headDim + valueDim) per visible query–key pair.
 * call(name, ...args) runs a kernel binding; withBuffers(specs, fn) runs fn on heap copies of specs.
 */
export function benchmarkKernel({ kernel, minMs = 300, minRuns = 5, ...params }, { call, withBuffers }) {
  check(BENCHMARKS.includes(kernel), `kernel must be one of ${BENCHMARKS.join(', ')}; got ${kernel}`);
  check(Number.isFinite(minMs) && minMs >= 0 && minMs <= 60_000, 'minMs must be in [0, 60000]');
  const { specs, work, unit, run } = benchmarkSetup(kernel, params, call);
  const random = new Float32Array(Math.max(...specs));
  let state = 12345;
  for (let i = 0; i < random.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    random[i] = (state / 2 ** 32 - 0.5) * 2;
  }
  return withBuffers(specs.map((count) => random.subarray(0, count)), (addresses) => {
    run(addresses);  // warm-up (also grows any workspace)
    const times = [];
    const started = performance.now();
    while (times.length < minRuns || performance.now() - started < minMs) {
      const t0 = performance.now();
      run(addresses);
      times.push(performance.now() - t0);
      if (times.length >= 10_000) break;
    }
    times.sort((x, y) => x - y);
    const medianMs = times[times.length >> 1];
    return { kernel, params, runs: times.length, medianMs, fastestMs: times[0], work, unit, rate: work / medianMs / 1e6 };
  });
}

function benchmarkSetup(kernel, params, call) {
  switch (kernel) {
    case 'gemm': {
      const m = positiveInt(params.m ?? 256, 'm');
      const n = positiveInt(params.n ?? m, 'n');
      const k = positiveInt(params.k ?? m, 'k');
      return {
        specs: [m * k, k * n, m * n],
        work: 2 * m * n * k,
        unit: 'GFLOP/s',
        run: ([a, b, c]) => call('kernelGemm', m, n, k, a, k, b, n, c, n, 0, 0),
      };
    }
    case 'attention': {
      const n = positiveInt(params.n ?? 1024, 'n');
      const d = positiveInt(params.headDim ?? 64, 'headDim');
      const dv = positiveInt(params.valueDim ?? d, 'valueDim');
      const mask = lookup(MASKS, params.mask ?? 'causal', 'mask');
      const normaliser = lookup(NORMALISERS, params.normaliser ?? 'softmax', 'normaliser');
      const window = params.window ?? 0;
      let pairs = n * n;
      if (mask === MASKS.causal) pairs = (n * (n + 1)) / 2;
      if (mask === MASKS['causal-window']) {
        const w = Math.min(window, n);
        pairs = (w * (w + 1)) / 2 + (n - w) * w;
      }
      return {
        specs: [n * d, n * d, n * dv, n * dv],
        work: pairs * 2 * (d + dv),
        unit: 'GFLOP/s',
        run: ([q, k, v, o]) => call('kernelAttention', n, n, 1, d, dv, mask, window, normaliser, 0, q, k, v, o, 0),
      };
    }
    case 'flash': {
      const n = positiveInt(params.n ?? 1024, 'n');
      const c = positiveInt(params.chunk ?? 256, 'chunk');
      const s = positiveInt(params.qkDim ?? 128, 'qkDim');
      const e = positiveInt(params.valueDim ?? 256, 'valueDim');
      const chunks = Math.ceil(n / c);
      // causal: quadratic within chunks, plus per chunk Klᵀ V (s·e·c) and Ql · state (s·e per row).
      const quad = chunks * ((c * (c + 1)) / 2) * 2 * (s + e);
      const linear = n * 2 * s * e * 2;
      return {
        specs: [n * s, n * s, n * s, n * s, n * e, n * e],
        work: quad + linear,
        unit: 'GFLOP/s',
        run: ([a, b, qc, d, v, o]) => call('kernelFlashMixedChunk', n, c, s, e, true, a, b, qc, d, v, o),
      };
    }
    case 'exp': {
      const n = positiveInt(params.n ?? 1 << 20, 'n');
      return { specs: [n, n], work: n, unit: 'Gelem/s', run: ([x, y]) => call('kernelExp', x, y, n) };
    }
    default: {  // softmax
      const rows = positiveInt(params.rows ?? 1024, 'rows');
      const cols = positiveInt(params.cols ?? 1024, 'cols');
      return {
        specs: [rows * cols, rows * cols],
        work: rows * cols,
        unit: 'Gelem/s',
        run: ([x, y]) => call('kernelSoftmaxRows', x, y, rows, cols, cols),
      };
    }
  }
}
