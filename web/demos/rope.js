// RoPE page: the Toeplitz score heat map, the long-range decay bound and the two pair layouts, with
// every rotation computed by the engine (engine.rope) in its Web Worker.
import { heatmap, legend, lineChart } from '../lib/elements/plot.js';
import {
  $, COLORS, dot, formatNumber, onResize, randomGenerator, renderShell, repeatRows, runAction, startEngine,
} from './site.js';

const POSITIONS = 128;
const DECAY_MAX = 4096;
const LAYOUT_OFFSETS = 256;
// The bound (2/d′) Σ_j |S_j| for d′ = 128, base 10000, as tabulated in docs/ALGORITHMS.md §1.2.
const REFERENCE_128 = { 0: 32.5, 1: 31.54, 2: 28.96, 4: 22.6, 8: 19.82, 16: 15.77, 32: 13.38, 64: 10.09, 128: 9.27, 256: 6.54 };

// (2/d′) Σ_{j=1}^{d′/2} |S_j|, S_j = Σ_{i<j} e^{i r θ_i}, in float64.
function decayBound(r, dim, base) {
  let re = 0;
  let im = 0;
  let total = 0;
  for (let i = 0; i < dim / 2; i++) {
    const angle = r * base ** (-2 * i / dim);
    re += Math.cos(angle);
    im += Math.sin(angle);
    total += Math.hypot(re, im);
  }
  return total / (dim / 2);
}

// Interleaved pair i = features (2i, 2i+1) → half-split pair i = features (i, i + d′/2).
function toHalfSplit(vector) {
  const half = vector.length / 2;
  const out = new Float32Array(vector.length);
  for (let i = 0; i < half; i++) { out[i] = vector[2 * i]; out[i + half] = vector[2 * i + 1]; }
  return out;
}

let drawAll = () => {};

async function compute(engine) {
  const dim = Number($('rope-dim').value);
  const base = Number($('rope-base').value);
  const seed = Number($('rope-seed').value) >>> 0;
  const random = randomGenerator(seed);
  const q = Float32Array.from({ length: dim }, random.normal);
  const k = Float32Array.from({ length: dim }, random.normal);

  // Heat map: every query and key position in one engine call each.
  const [rotatedQ, rotatedK] = await Promise.all([
    engine.rope(repeatRows(q, POSITIONS), { headDim: dim, position: 0, base }),
    engine.rope(repeatRows(k, POSITIONS), { headDim: dim, position: 0, base }),
  ]);
  const scores = new Float32Array(POSITIONS * POSITIONS);
  for (let m = 0; m < POSITIONS; m++) {
    for (let n = 0; n < POSITIONS; n++) scores[m * POSITIONS + n] = dot(rotatedQ, m * dim, rotatedK, n * dim, dim);
  }
  let toeplitz = 0;
  for (let m = 0; m + 1 < POSITIONS; m++) {
    for (let n = 0; n + 1 < POSITIONS; n++) {
      toeplitz = Math.max(toeplitz, Math.abs(scores[m * POSITIONS + n] - scores[(m + 1) * POSITIONS + n + 1]));
    }
  }
  const qNorm = Math.sqrt(dot(q, 0, q, 0, dim));
  let normError = 0;
  for (let m = 0; m < POSITIONS; m++) {
    normError = Math.max(normError, Math.abs(Math.sqrt(dot(rotatedQ, m * dim, rotatedQ, m * dim, dim)) - qNorm));
  }

  // Decay: the bound in float64, and the engine's score of q = k = (1, …, 1) at offset r.
  const ones = new Float32Array(dim).fill(1);
  const rotatedOnes = await engine.rope(repeatRows(ones, DECAY_MAX + 1), { headDim: dim, position: 0, base });
  const offsets = [];
  for (let r = 1; r <= DECAY_MAX; r = r < 64 ? r + 1 : Math.ceil(r * 1.03)) offsets.push(r);
  const bound0 = decayBound(0, dim, base);
  const boundCurve = offsets.map((r) => [r, decayBound(r, dim, base) / bound0]);
  const scoreCurve = offsets.map((r) => [r, Math.abs(dot(ones, 0, rotatedOnes, r * dim, dim)) / dim]);

  // Layouts: scores at offsets 0 … 255 for the same q, k, and for the permuted q, k.
  const keys = repeatRows(k, LAYOUT_OFFSETS);
  const [interleavedK, halfSplitK, permutedK] = await Promise.all([
    engine.rope(keys, { headDim: dim, position: 0, base, layout: 'interleaved' }),
    engine.rope(keys, { headDim: dim, position: 0, base, layout: 'half-split' }),
    engine.rope(repeatRows(toHalfSplit(k), LAYOUT_OFFSETS), { headDim: dim, position: 0, base, layout: 'half-split' }),
  ]);
  const permutedQ = toHalfSplit(q);
  const layoutCurves = { interleaved: [], halfSplit: [], permuted: [] };
  let rawDiff = 0;
  let permutedDiff = 0;
  for (let r = 0; r < LAYOUT_OFFSETS; r++) {
    const a = dot(q, 0, interleavedK, r * dim, dim);
    const b = dot(q, 0, halfSplitK, r * dim, dim);
    const c = dot(permutedQ, 0, permutedK, r * dim, dim);
    layoutCurves.interleaved.push([r, a]);
    layoutCurves.halfSplit.push([r, b]);
    layoutCurves.permuted.push([r, c]);
    rawDiff = Math.max(rawDiff, Math.abs(a - b));
    permutedDiff = Math.max(permutedDiff, Math.abs(a - c));
  }

  $('rope-toeplitz').textContent = toeplitz.toExponential(1);
  $('rope-norm').textContent = normError.toExponential(1);
  $('rope-layout-raw').textContent = formatNumber(rawDiff);
  $('rope-layout-permuted').textContent = permutedDiff.toExponential(1);

  const tableOffsets = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256];
  const header = `<tr><th>r</th>${tableOffsets.map((r) => `<th>${r}</th>`).join('')}</tr>`;
  const ours = `<tr><td>(2/d′) Σ|S<sub>j</sub>|, d′ = ${dim}</td>${tableOffsets.map((r) => `<td>${decayBound(r, dim, base).toFixed(2)}</td>`).join('')}</tr>`;
  const reference = dim === 128 && base === 10000
    ? `<tr><td>docs/ALGORITHMS.md §1.2</td>${tableOffsets.map((r) => `<td>${REFERENCE_128[r]}</td>`).join('')}</tr>` : '';
  $('rope-decay-table').innerHTML = `<thead>${header}</thead><tbody>${ours}${reference}</tbody>`;

  drawAll = () => {
    heatmap($('rope-heatmap'), scores, POSITIONS, POSITIONS, { palette: 'diverging' });
    const decaySeries = [
      { label: 'bound (2/d′) Σ|Sⱼ|, relative to r = 0', color: COLORS.window, points: boundCurve },
      { label: '|score| of q = k = 1 from the engine, relative', color: COLORS.grey, points: scoreCurve, width: 1 },
    ];
    lineChart($('rope-decay'), decaySeries, { xLog: 2, xLabel: 'distance r = n − m (log scale)', yLabel: 'relative size', yRange: [0, 1] });
    legend($('rope-decay-legend'), decaySeries);
    const layoutSeries = [
      { label: 'interleaved (2i, 2i+1)', color: COLORS.window, points: layoutCurves.interleaved, width: 3 },
      { label: 'half-split (i, i+d′/2), same q, k', color: COLORS.full, points: layoutCurves.halfSplit, width: 1.5 },
      { label: 'half-split, permuted q, k', color: COLORS.windowLogn, points: layoutCurves.permuted, dashed: true },
    ];
    lineChart($('rope-layouts'), layoutSeries, { xLabel: 'offset r = n − m', yLabel: 'score qᵀR_r k' });
    legend($('rope-layouts-legend'), layoutSeries);
  };
  drawAll();
}

renderShell('rope.html');
onResize(() => drawAll());
try {
  const engine = await startEngine();
  const run = () => runAction($('rope-run'), () => compute(engine));
  $('rope-run').addEventListener('click', run);
  for (const id of ['rope-dim', 'rope-base', 'rope-seed']) $(id).addEventListener('change', run);
  await run();
} catch { /* startEngine showed the error */ }
