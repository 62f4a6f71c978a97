// Benchmark page: engine.kernels.benchmark() for a suite of kernels and sizes, in the engine's worker
// (relaxed SIMD or SIMD128, whichever the browser runs) and (optionally) in a second worker running
// the scalar build, with a live results table.
import { createEngine } from '../lib/index.js';
import { $, buildName, h, renderShell, runAction, startEngine } from './site.js';

const QUICK = [
  { kernel: 'gemm', m: 128, n: 128, k: 128, size: '128 × 128 × 128' },
  { kernel: 'gemm', m: 256, n: 256, k: 256, size: '256 × 256 × 256' },
  { kernel: 'gemm', m: 512, n: 704, k: 160, size: '512 × 704 × 160 (a GAU-LM projection)' },
  { kernel: 'attention', n: 1024, headDim: 64, mask: 'causal', size: 'causal, n 1024, d 64' },
  { kernel: 'attention', n: 4096, headDim: 64, mask: 'causal-window', window: 128, size: 'window 128, n 4096, d 64' },
  { kernel: 'flash', n: 2048, chunk: 256, qkDim: 64, valueDim: 128, size: 'n 2048, c 256, s 64, e 128' },
  { kernel: 'exp', n: 1 << 20, size: '1M elements' },
  { kernel: 'softmax', rows: 256, cols: 1024, size: '256 rows × 1024' },
];
const FULL = [
  ...QUICK.slice(0, 3),
  { kernel: 'gemm', m: 512, n: 512, k: 512, size: '512 × 512 × 512' },
  { kernel: 'gemm', m: 1, n: 704, k: 160, size: '1 × 704 × 160 (decoding, GEMV)' },
  ...QUICK.slice(3, 4),
  { kernel: 'attention', n: 2048, headDim: 64, mask: 'causal', normaliser: 'softmax_plus', size: 'causal softmax_plus, n 2048, d 64' },
  { kernel: 'attention', n: 4096, headDim: 64, mask: 'causal', size: 'causal, n 4096, d 64' },
  { kernel: 'attention', n: 2048, headDim: 64, mask: 'causal', normaliser: 'relu2', size: 'causal relu², n 2048, d 64' },
  QUICK[4],
  QUICK[5],
  { kernel: 'flash', n: 8192, chunk: 256, qkDim: 64, valueDim: 128, size: 'n 8192, c 256, s 64, e 128' },
  ...QUICK.slice(6),
];

let stopRequested = false;
let scalarEngine = null;

function rateCell(result, best, scalar) {
  const cell = h('td', { class: 'rate' });
  if (!result) { cell.textContent = '—'; return cell; }
  if (result.missing) { cell.textContent = 'not in this build'; cell.title = result.missing; return cell; }
  const bar = h('span', { class: scalar ? 'bar scalar' : 'bar' });
  const width = Math.max(2, Math.round(120 * result.rate / best));
  bar.append(h('span', {}, `${result.rate.toFixed(2)} ${result.unit}`), h('i', { style: `width: ${width}px` }));
  cell.append(bar);
  return cell;
}

// One row per result; bars are scaled to the fastest SIMD rate of the same unit so far.
function renderTable(body, results) {
  const best = (unit) => Math.max(...results.filter((r) => r.simd.unit === unit).map((r) => r.simd.rate));
  body.replaceChildren(...results.map(({ spec, simd, scalar }) => {
    const row = h('tr', { 'data-kernel': spec.kernel },
      h('td', {}, spec.kernel), h('td', {}, spec.size),
      h('td', {}, `${simd.medianMs < 1 ? simd.medianMs.toFixed(3) : simd.medianMs.toFixed(1)} ms`),
      rateCell(simd, best(simd.unit), false), rateCell(scalar, best(simd.unit), true),
      h('td', {}, scalar?.rate ? `${(simd.rate / scalar.rate).toFixed(1)}×` : '—'));
    row.dataset.rate = String(simd.rate);
    return row;
  }));
}

async function run(engine) {
  stopRequested = false;
  $('bench-stop').disabled = false;
  const suite = document.querySelector('input[name="bench-suite"]:checked').value === 'full' ? FULL : QUICK;
  const minMs = Number($('bench-budget').value);
  const withScalar = $('bench-scalar').checked;
  if (withScalar && !scalarEngine) scalarEngine = await createEngine({ worker: true, simd: false });
  const body = $('bench-table').querySelector('tbody');
  body.replaceChildren();
  const progress = $('bench-progress');
  progress.hidden = false;
  const bar = progress.querySelector('progress');
  bar.max = suite.length;
  const results = [];
  try {
    for (const [index, spec] of suite.entries()) {
      if (stopRequested) break;
      const { size, ...params } = spec;
      progress.querySelector('span').textContent = `${index + 1} of ${suite.length}: ${spec.kernel} ${size}`;
      bar.value = index;
      const simd = await engine.kernels.benchmark({ ...params, minMs });
      let scalar = null;
      if (withScalar) {
        // An older scalar build may lack a kernel: show the SIMD figure alone then.
        scalar = await scalarEngine.kernels.benchmark({ ...params, minMs }).catch((error) => {
          if (error.code !== 'UNSUPPORTED') throw error;
          return { missing: error.message };
        });
      }
      results.push({ spec, simd, scalar });
      renderTable(body, results);
    }
    bar.value = results.length;
    progress.querySelector('span').textContent = stopRequested ? `Stopped after ${results.length} kernels.` : `Done: ${results.length} kernels.`;
    const gemm = results.filter((r) => r.spec.kernel === 'gemm').map((r) => r.simd.rate);
    const speedups = results.filter((r) => r.scalar?.rate).map((r) => r.simd.rate / r.scalar.rate);
    $('bench-summary').textContent = results.length === 0 ? '' :
      `Best GEMM: ${Math.max(...gemm).toFixed(1)} GFLOP/s on one thread` +
      (speedups.length ? `; the ${buildName(engine.features.flavour)} build is ` +
        `${Math.min(...speedups).toFixed(1)}–${Math.max(...speedups).toFixed(1)}× the scalar build.` : '.');
  } finally {
    $('bench-stop').disabled = true;
  }
}

renderShell('bench.html');
const showBudget = () => {
  $('bench-budget-value').textContent = $('bench-budget').value;
  $('bench-budget-label').textContent = $('bench-budget').value;
};
$('bench-budget').addEventListener('input', showBudget);
$('bench-stop').addEventListener('click', () => { stopRequested = true; $('bench-stop').disabled = true; });
try {
  const engine = await startEngine();
  $('bench-main-build').textContent = buildName(engine.features.flavour);
  $('bench-run').addEventListener('click', () => runAction($('bench-run'), () => run(engine)));
  const params = new URLSearchParams(location.search);
  if (params.has('budget')) $('bench-budget').value = params.get('budget');
  showBudget();
  if (params.has('autorun')) await runAction($('bench-run'), () => run(engine));
} catch { /* startEngine showed the error */ }
